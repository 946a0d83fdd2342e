"""How a dossier comes in: at the counter (status 2 at once), or as an online/postal draft then submitted (1).

Everything is checked before anything is written, so bad input leaves no row behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select

from app.catalog.models import Procedure, ProcedureCase, ProcedureComponent
from app.core.errors import DomainError, NotFound
from app.dossiers import clock, records, texts
from app.dossiers.codes import next_code
from app.dossiers.desk import Actor, Desk, check_actor
from app.dossiers.models import Dossier, DossierComponent, DossierFile
from app.dossiers.status import DRAFT, RECEIVED, SUBMITTED, TRANSITIONS, check_transition
from app.processes.services import ProcessStart, published_start
from tenants.naming import strip_diacritics

COUNTER, ONLINE, POSTAL = 1, 2, 3
CHANNEL_NAMES = {
    COUNTER: ("Trực tiếp", "At the counter"),
    ONLINE: ("Trực tuyến", "Online"),
    POSTAL: ("Bưu chính", "By post"),
}
DELIVERY_NAMES = {
    "counter": ("Nhận tại bộ phận một cửa", "At the counter"),
    "online": ("Nhận trực tuyến", "Online"),
    "postal": ("Qua dịch vụ bưu chính", "By post"),
}
ID_FORMATS = {
    "cccd": (re.compile(r"[0-9]{12}"), "12 chữ số", "12 digits"),
    "cmnd": (re.compile(r"[0-9]{9}"), "9 chữ số", "9 digits"),
    "passport": (
        re.compile(r"[A-Z0-9]{6,9}"),
        "6–9 chữ cái in hoa hoặc chữ số",
        "6-9 capital letters or digits",
    ),
    "tax": (
        re.compile(r"[0-9]{10}(-[0-9]{3})?"),
        "10 chữ số (hoặc 13 với chi nhánh)",
        "10 digits (13 for a branch)",
    ),
}
PHONE = re.compile(r"(\+84|0)[0-9]{9,10}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class InvalidDossier(DomainError):
    """422 with one bilingual line per problem in ``errors`` (field -> {vi, en})."""

    status = 422


@dataclass
class Applicant:
    name: str
    type: str = "citizen"
    id_type: str | None = None
    id_number: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    ward_code: str | None = None
    delegate_name: str | None = None
    delegate_phone: str | None = None


@dataclass
class Intake:
    procedure_id: int
    applicant: Applicant
    case_id: int | None = None
    # Procedure component id -> quantity received (ticked at the counter).
    components: dict[int, int] = field(default_factory=dict)
    number_of_sets: int = 1
    result_delivery: str = "counter"
    channel: int = COUNTER
    note: str | None = None
    citizen_account_id: int | None = None


class _Problems:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, str]] = {}

    def add(self, name: str, vi: str, en: str) -> None:
        self.items.setdefault(name, {"vi": vi, "en": en})

    def raise_if_any(self) -> None:
        if self.items:
            vi = "; ".join(p["vi"] for p in self.items.values())
            en = "; ".join(p["en"] for p in self.items.values())
            raise InvalidDossier(
                f"Hồ sơ chưa hợp lệ: {vi}.", f"The dossier is not valid: {en}.", errors=self.items
            )


def _clean(value: str | None) -> str | None:
    """One line of text as typed, control characters out; None when nothing is left."""
    return texts.one_line(value) or None


# Applicant fields -> (longest the column holds, name in Vietnamese, in English).
APPLICANT_LIMITS = {
    "name": (255, "họ tên", "the name"),
    "id_number": (32, "số giấy tờ", "the ID number"),
    "phone": (32, "số điện thoại", "the phone number"),
    "email": (255, "địa chỉ email", "the email address"),
    "address": (1000, "địa chỉ", "the address"),
    "province_code": (8, "mã tỉnh", "the province code"),
    "district_code": (8, "mã huyện", "the district code"),
    "ward_code": (8, "mã xã", "the ward code"),
    "delegate_name": (255, "họ tên người được ủy quyền", "the delegate's name"),
    "delegate_phone": (32, "số điện thoại người được ủy quyền", "the delegate's phone number"),
}


def _check_lengths(applicant: Applicant, problems: _Problems) -> None:
    """Every text cleaned; one message per field longer than its column (checked before its format)."""
    for name, (limit, vi, en) in APPLICANT_LIMITS.items():
        value = _clean(getattr(applicant, name))
        setattr(applicant, name, value)
        if value is not None and len(value) > limit:
            problems.add(
                f"applicant.{name}",
                f"{vi} dài quá {limit} ký tự",
                f"{en} is longer than {limit} characters",
            )


def _check_applicant(applicant: Applicant, problems: _Problems) -> None:
    _check_lengths(applicant, problems)
    applicant.name = applicant.name or ""
    if not applicant.name:
        problems.add("applicant.name", "chưa nhập họ tên người nộp", "the applicant's name is missing")
    if applicant.type not in ("citizen", "enterprise", "organisation"):
        problems.add("applicant.type", "loại người nộp không hợp lệ", "unknown applicant type")
    applicant.phone = _clean(re.sub(r"[\s.\-]", "", applicant.phone or ""))
    if applicant.phone and not PHONE.fullmatch(applicant.phone):
        problems.add(
            "applicant.phone",
            "số điện thoại phải có 10–11 chữ số, bắt đầu bằng 0 hoặc +84",
            "phone must be 0… or +84…",
        )
    if applicant.email and not EMAIL.fullmatch(applicant.email):
        problems.add("applicant.email", "địa chỉ email không đúng", "the email address is not valid")
    applicant.id_number = _clean((applicant.id_number or "").upper())
    applicant.id_type = _clean(applicant.id_type)
    if applicant.id_type is not None and applicant.id_type not in ID_FORMATS:
        problems.add("applicant.id_type", "loại giấy tờ tùy thân không hợp lệ", "unknown type of ID")
    if applicant.id_number:
        fmt = ID_FORMATS.get(applicant.id_type or "")
        if fmt is None:
            problems.add("applicant.id_type", "chọn loại giấy tờ tùy thân", "choose the type of ID")
        elif not fmt[0].fullmatch(applicant.id_number):
            problems.add("applicant.id_number", f"số giấy tờ cần {fmt[1]}", f"the ID number needs {fmt[2]}")


def _check_note(intake: Intake, problems: _Problems) -> None:
    intake.note = texts.lines(intake.note) or None
    if intake.note is not None and len(intake.note) > texts.MAX_TEXT:
        limit = texts.MAX_TEXT
        problems.add("note", f"ghi chú dài quá {limit} ký tự", f"the note is longer than {limit} characters")


def _procedure(
    desk: Desk, intake: Intake, problems: _Problems
) -> tuple[Procedure, ProcedureCase | None, list[ProcedureComponent]]:
    """The procedure, its case and the documents it asks for, in one round trip (intake runs hot)."""
    rows = desk.session.execute(
        select(Procedure, ProcedureComponent)
        .outerjoin(
            ProcedureComponent,
            and_(
                ProcedureComponent.procedure_id == Procedure.id,
                or_(
                    ProcedureComponent.case_id.is_(None), ProcedureComponent.case_id == (intake.case_id or -1)
                ),
            ),
        )
        .where(Procedure.id == intake.procedure_id)
        .order_by(ProcedureComponent.sort_order, ProcedureComponent.id)
    ).all()
    if not rows:
        raise NotFound(
            "Không tìm thấy thủ tục này ở đơn vị.",
            "This unit has no such procedure.",
            errors={"procedure_id": {}},
        )
    procedure = rows[0][0]
    components = [component for _, component in rows if component is not None]
    if not procedure.is_active:
        problems.add("procedure_id", "thủ tục đã ngừng áp dụng", "the procedure is no longer offered")
    case = None
    if intake.case_id is not None:
        case = desk.session.get(ProcedureCase, intake.case_id)
        if case is None or case.procedure_id != procedure.id:
            problems.add(
                "case_id", "trường hợp không thuộc thủ tục này", "the case does not belong to this procedure"
            )
            case = None
    if intake.channel not in (procedure.channels or []):
        vi, en = CHANNEL_NAMES.get(intake.channel, (str(intake.channel), str(intake.channel)))
        problems.add(
            "channel", f"thủ tục không nhận hồ sơ {vi.lower()}", f"this procedure is not offered {en.lower()}"
        )
    if intake.result_delivery not in (procedure.result_delivery or []):
        problems.add(
            "result_delivery",
            "hình thức nhận kết quả này không áp dụng cho thủ tục",
            "this way of receiving the result is not offered for the procedure",
        )
    if not 1 <= intake.number_of_sets <= 20:
        problems.add("number_of_sets", "số bộ hồ sơ phải từ 1 đến 20", "number of sets must be 1 to 20")
    if case is None:  # a case that is not the procedure's asks for no documents of its own
        components = [c for c in components if c.case_id is None]
    return procedure, case, components


def _check_received(
    components: list[ProcedureComponent], received: dict[int, int], problems: _Problems
) -> None:
    known = {c.id for c in components}
    unknown = [cid for cid in received if cid not in known]
    if unknown:
        problems.add(
            "components",
            "có giấy tờ không thuộc thủ tục này",
            "some documents do not belong to this procedure",
        )
    missing = [c.name for c in components if c.is_mandatory and received.get(c.id, 0) < 1]
    if missing:
        problems.add(
            "components",
            "thiếu thành phần bắt buộc: " + "; ".join(missing),
            "mandatory documents missing: " + "; ".join(missing),
        )


def search_text(dossier: Dossier) -> str:
    parts = [dossier.code, dossier.applicant_name, dossier.applicant_phone, dossier.applicant_id_number]
    return strip_diacritics(" ".join(p for p in parts if p)).lower()


def _new_dossier(desk: Desk, intake: Intake, procedure: Procedure, case: ProcedureCase | None) -> Dossier:
    a = intake.applicant
    return Dossier(
        procedure_id=procedure.id,
        case_id=case.id if case is not None else None,
        applicant_type=a.type,
        applicant_id_type=a.id_type,
        applicant_id_number=a.id_number,
        applicant_name=a.name,
        applicant_phone=a.phone,
        applicant_email=a.email,
        applicant_address=a.address,
        applicant_province_code=a.province_code,
        applicant_district_code=a.district_code,
        applicant_ward_code=a.ward_code,
        delegate_name=a.delegate_name,
        delegate_phone=a.delegate_phone,
        citizen_account_id=intake.citizen_account_id,
        channel=intake.channel,
        result_delivery=intake.result_delivery,
        service_level=procedure.service_level,
        number_of_sets=intake.number_of_sets,
        status=DRAFT,
    )


def _add_components(
    desk, dossier, components: list[ProcedureComponent], received: dict[int, int]
) -> list[DossierComponent]:
    rows = [
        DossierComponent(
            dossier_id=dossier.id,
            procedure_component_id=component.id,
            code=component.code,
            name=component.name,
            original_or_copy=component.original_or_copy,
            quantity=received.get(component.id, 0),
            is_received=received.get(component.id, 0) > 0,
        )
        for component in components
    ]
    desk.session.add_all(rows)
    return rows


def _published_process(desk: Desk, procedure: Procedure, case: ProcedureCase | None) -> ProcessStart:
    start = published_start(desk.session, procedure.id, case.id if case is not None else None)
    if start is None:
        raise InvalidDossier(
            f"Thủ tục “{procedure.name}” chưa có quy trình nội bộ được ban hành; "
            "quản trị đơn vị cần ban hành quy trình trước.",
            f"“{procedure.name}” has no published internal process; the unit admin must publish one first.",
            errors={"procedure_id": {"vi": "chưa có quy trình", "en": "no published process"}},
        )
    return start


def _start(desk: Desk, actor: Actor, dossier: Dossier, procedure, case, start: ProcessStart) -> None:
    """Status 2: the clock starts and the receiving officer holds the reception step (no SQL here)."""
    clock.start(desk, dossier, procedure, case)
    dossier.process_version_id = start.version_id
    dossier.received_by_account_id = actor.account_id
    dossier.status = RECEIVED
    clock.enter_step(desk, dossier, start.step, actor.account_id)


def _record_acceptance(
    desk, actor, dossier, procedure, received, action: str, from_status, note=None
) -> None:
    """The action row (form 05), the event and form 01 with the documents received."""
    records.action(desk, actor, dossier, action, from_status, RECEIVED, note=note)
    records.issue_form(desk, actor, dossier, "01", procedure=procedure, received=received)


def receive_at_counter(desk: Desk, actor: Actor, intake: Intake) -> Dossier:
    """A walk-in at the one-stop counter: checked, coded, accepted and given form 01 in one step."""
    check_actor(desk.session, actor, TRANSITIONS["accept"], None, None, None)
    problems = _Problems()
    _check_applicant(intake.applicant, problems)
    _check_note(intake, problems)
    procedure, case, components = _procedure(desk, intake, problems)
    _check_received(components, intake.components, problems)
    problems.raise_if_any()
    start = _published_process(desk, procedure, case)

    # Everything about the dossier is known before its one INSERT; its rows follow in one flush at commit.
    dossier = _new_dossier(desk, intake, procedure, case)
    dossier.code = next_code(desk.session, desk.tenant.unit_code, desk.now.date())
    dossier.submitted_at = desk.now
    dossier.search_text = search_text(dossier)
    _start(desk, actor, dossier, procedure, case, start)
    desk.session.add(dossier)
    desk.session.flush()
    rows = _add_components(desk, dossier, components, intake.components)
    received = [c for c in rows if c.is_received]
    _record_acceptance(desk, actor, dossier, procedure, received, "receive", None, intake.note)
    return dossier


def create_draft(desk: Desk, actor: Actor, intake: Intake) -> Dossier:
    """An online (2) or postal (3) dossier being prepared: no code yet, only an internal reference."""
    problems = _Problems()
    if intake.channel == COUNTER:
        problems.add(
            "channel", "hồ sơ tại quầy được tiếp nhận trực tiếp", "counter dossiers are received directly"
        )
    _check_applicant(intake.applicant, problems)
    _check_note(intake, problems)
    procedure, case, components = _procedure(desk, intake, problems)
    problems.raise_if_any()
    dossier = _new_dossier(desk, intake, procedure, case)
    dossier.search_text = search_text(dossier)
    desk.session.add(dossier)
    desk.session.flush()
    _add_components(desk, dossier, components, intake.components)
    records.action(desk, actor, dossier, "create_draft", None, DRAFT)
    return dossier


def _has_files(desk: Desk, dossier: Dossier) -> set[int]:
    rows = desk.session.scalars(
        select(DossierFile.component_id).where(
            DossierFile.dossier_id == dossier.id,
            DossierFile.deleted_at.is_(None),
            DossierFile.component_id.is_not(None),
        )
    )
    return set(rows)


def _check_complete(desk: Desk, dossier: Dossier) -> None:
    """Every mandatory component is ticked as received or has a file."""
    with_files = _has_files(desk, dossier)
    components = desk.session.scalars(
        select(DossierComponent).where(DossierComponent.dossier_id == dossier.id)
    )
    mandatory = {
        c.id
        for c in desk.session.scalars(
            select(ProcedureComponent).where(ProcedureComponent.procedure_id == dossier.procedure_id)
        )
        if c.is_mandatory
    }
    missing = [
        c.name
        for c in components
        if c.procedure_component_id in mandatory and not c.is_received and c.id not in with_files
    ]
    if missing:
        raise InvalidDossier(
            "Thiếu thành phần bắt buộc: " + "; ".join(missing) + ".",
            "Mandatory documents missing: " + "; ".join(missing) + ".",
            errors={"components": {"vi": "thiếu thành phần bắt buộc", "en": "mandatory documents missing"}},
        )


def submit(desk: Desk, actor: Actor, dossier: Dossier) -> Dossier:
    """0 → 1: the dossier gets its code now (the national sync needs one from the first message)."""
    transition = check_transition("submit", dossier.status)
    check_actor(desk.session, actor, transition, None, None, dossier.citizen_account_id)
    _check_complete(desk, dossier)
    dossier.code = next_code(desk.session, desk.tenant.unit_code, desk.now.date())
    dossier.submitted_at = desk.now
    dossier.status = SUBMITTED
    dossier.search_text = search_text(dossier)
    records.action(desk, actor, dossier, "submit", DRAFT, SUBMITTED)
    return dossier


def accept(desk: Desk, actor: Actor, dossier: Dossier, received: dict[int, int] | None = None) -> Dossier:
    """1 → 2: the counter checked an online or postal dossier and found it complete."""
    transition = check_transition("accept", dossier.status)
    check_actor(desk.session, actor, transition, None, None, None)
    for component in desk.session.scalars(
        select(DossierComponent).where(DossierComponent.dossier_id == dossier.id)
    ):
        if received and component.procedure_component_id in received:
            component.quantity = received[component.procedure_component_id]
            component.is_received = component.quantity > 0
    _check_complete(desk, dossier)
    procedure = desk.session.get(Procedure, dossier.procedure_id)
    case = desk.session.get(ProcedureCase, dossier.case_id) if dossier.case_id else None
    start = _published_process(desk, procedure, case)
    _start(desk, actor, dossier, procedure, case, start)
    received = desk.session.scalars(
        select(DossierComponent)
        .where(DossierComponent.dossier_id == dossier.id, DossierComponent.is_received)
        .order_by(DossierComponent.id)
    ).all()
    _record_acceptance(desk, actor, dossier, procedure, received, "accept", SUBMITTED)
    return dossier
