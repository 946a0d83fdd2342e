"""Online submission (level 3) by a signed-in citizen: drafts, their files, submission, supplement answers.

A draft (``OnlineDraft``) keeps what the citizen typed, even incomplete, in the unit's schema;
only lengths are checked when it is saved. Submitting runs the intake core exactly as the API
does (``intake.create_draft`` then ``intake.submit``: the same applicant checks, the code, the
status 1 waiting for the counter) and moves the draft's files onto the dossier. A draft is
submitted once: the second attempt finds the dossier the first one made.

Everything a citizen reaches goes through ``get_draft`` / ``get_own_dossier``: another
account's draft or dossier, and one that does not exist, are the same 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.catalog.models import Procedure, ProcedureCase, ProcedureComponent
from app.core.db import get_platform
from app.core.errors import Conflict, DomainError, NotFound
from app.core.storage import delete_after_commit, get_storage, storage_key, unique_name
from app.core.uploads import check_upload
from app.dossiers import actions, files, intake, metering, records, texts
from app.dossiers.desk import Actor, Desk
from app.dossiers.models import Dossier, DossierAction, DossierComponent, DossierFile, FormDocument
from app.dossiers.online_models import OPEN, SUBMITTED, OnlineDraft, OnlineDraftFile
from app.dossiers.status import DRAFT, check_transition
from app.dossiers.status import SUBMITTED as WAITING_FOR_COUNTER

# Service levels whose procedures take dossiers online (DOMAIN.md §1.1).
ONLINE_LEVELS = (3, 4)
DELIVERIES = ("counter", "online", "postal")
POSTAL_LIMITS = {
    "postal_recipient": (255, "người nhận", "the recipient"),
    "postal_phone": (32, "số điện thoại người nhận", "the recipient's phone"),
    "postal_address": (1000, "địa chỉ nhận kết quả", "the delivery address"),
}
MAX_FILES_PER_DRAFT = 50


class NotOnline(DomainError):
    """The procedure does not take dossiers online here."""

    status = 409


class InvalidDraft(DomainError):
    status = 422


@dataclass
class DraftInput:
    """What the citizen typed on the submission form (strings as sent; lengths checked on save)."""

    applicant: dict[str, str | None] = field(default_factory=dict)
    case_id: int | None = None
    result_delivery: str | None = None
    postal_recipient: str | None = None
    postal_phone: str | None = None
    postal_address: str | None = None
    number_of_sets: int = 1
    note: str | None = None


def _not_found_draft() -> NotFound:
    return NotFound("Không tìm thấy hồ sơ nháp này.", "No such draft.")


def _not_found_dossier() -> NotFound:
    return NotFound("Không tìm thấy hồ sơ này.", "No such dossier.")


# --- reads that also authorize ------------------------------------------------------------------


def online_procedure(desk: Desk, procedure_id: int) -> Procedure:
    """An active procedure of this unit that takes dossiers online; 404 / 409 otherwise."""
    procedure = desk.session.get(Procedure, procedure_id)
    if procedure is None or not procedure.is_active:
        raise NotFound("Không tìm thấy thủ tục này ở đơn vị.", "This unit has no such procedure.")
    if procedure.service_level not in ONLINE_LEVELS or intake.ONLINE not in (procedure.channels or []):
        raise NotOnline(
            f"Thủ tục “{procedure.name}” chưa nhận hồ sơ trực tuyến (mức độ {procedure.service_level}); "
            "vui lòng nộp tại Bộ phận một cửa.",
            f"“{procedure.name}” does not take dossiers online (level {procedure.service_level}); "
            "please file it at the one-stop desk.",
        )
    return procedure


def get_draft(desk: Desk, account_id: int, draft_id: int, *, lock: bool = False) -> OnlineDraft:
    """The account's own draft (row-locked when ``lock``); anyone else's is a 404."""
    query = select(OnlineDraft).where(OnlineDraft.id == draft_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    draft = desk.session.scalar(query)
    if draft is None:
        raise _not_found_draft()
    if draft.owner_account_id != account_id:
        raise _not_found_draft()
    return draft


def get_own_dossier(desk: Desk, account_id: int, dossier_id: int, *, lock: bool = False) -> Dossier:
    """A submitted dossier of this account; another applicant's, a draft row, or none is a 404."""
    query = select(Dossier).where(Dossier.id == dossier_id)
    if lock:  # locked like ``actions.load``, but with the same 404 for every reason
        query = query.with_for_update().execution_options(populate_existing=True)
    dossier = desk.session.scalar(query)
    if dossier is None:
        raise _not_found_dossier()
    if dossier.citizen_account_id != account_id:
        raise _not_found_dossier()
    if dossier.status == DRAFT:
        raise _not_found_dossier()
    return dossier


def components_of(desk: Desk, draft_or_procedure_id: int, case_id: int | None) -> list[ProcedureComponent]:
    """The documents the procedure asks for: the general ones and, with a case, that case's."""
    rows = desk.session.scalars(
        select(ProcedureComponent)
        .where(ProcedureComponent.procedure_id == draft_or_procedure_id)
        .order_by(ProcedureComponent.sort_order, ProcedureComponent.id)
    )
    return [c for c in rows if c.case_id is None or (case_id is not None and c.case_id == case_id)]


def procedure_components(desk: Desk, procedure_id: int) -> list[ProcedureComponent]:
    """Every document of the procedure, whatever the case: a file chosen for any of them is kept."""
    return list(
        desk.session.scalars(
            select(ProcedureComponent)
            .where(ProcedureComponent.procedure_id == procedure_id)
            .order_by(ProcedureComponent.sort_order, ProcedureComponent.id)
        )
    )


def files_outside_case(desk: Desk, draft: OnlineDraft) -> list[OnlineDraftFile]:
    """The draft's files for documents of another case than the one chosen: not filed on submission."""
    wanted = {c.id for c in components_of(desk, draft.procedure_id, draft.case_id)}
    return [row for row in draft_files(desk, draft.id) if row.procedure_component_id not in wanted]


def cases_of(desk: Desk, procedure_id: int) -> list[ProcedureCase]:
    return list(
        desk.session.scalars(
            select(ProcedureCase)
            .where(ProcedureCase.procedure_id == procedure_id, ProcedureCase.is_active)
            .order_by(ProcedureCase.sort_order, ProcedureCase.id)
        )
    )


def draft_files(desk: Desk, draft_id: int) -> list[OnlineDraftFile]:
    return list(
        desk.session.scalars(
            select(OnlineDraftFile).where(OnlineDraftFile.draft_id == draft_id).order_by(OnlineDraftFile.id)
        )
    )


# --- drafts --------------------------------------------------------------------------------------


def start_draft(
    desk: Desk, account_id: int, procedure_id: int, reference: uuid.UUID | None = None
) -> OnlineDraft:
    """The account's draft for an online procedure, created on first use (its internal reference only).

    ``reference`` is the key the empty form was served with: posting that form twice (a double
    click, a retry after a timeout) finds the draft the first post made instead of making another.
    A reference that is another account's, or another procedure's, is ignored (a new one is made).
    """
    procedure = online_procedure(desk, procedure_id)
    fresh = {
        "owner_account_id": account_id,
        "procedure_id": procedure.id,
        "applicant": {},
        "status": OPEN,
        "number_of_sets": 1,
        "created_at": desk.now,
        "updated_at": desk.now,
    }
    if reference is not None:
        inserted = desk.session.execute(
            insert(OnlineDraft)
            .values(reference=reference, **fresh)
            .on_conflict_do_nothing(index_elements=["reference"])
            .returning(OnlineDraft.id)
        ).scalar()
        draft = desk.session.scalar(
            select(OnlineDraft)
            .where(OnlineDraft.reference == reference)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if inserted is not None or (
            draft.owner_account_id == account_id and draft.procedure_id == procedure.id
        ):
            return draft
    draft = OnlineDraft(**fresh)
    desk.session.add(draft)
    desk.session.flush()
    return draft


def _check_open(draft: OnlineDraft) -> None:
    if draft.status != OPEN:
        raise Conflict(
            "Hồ sơ này đã được nộp; không sửa được bản nháp nữa.",
            "This dossier has been submitted; the draft can no longer be changed.",
        )


def _clean(value) -> str | None:
    return texts.one_line(value) if value is not None else None


def save_draft(desk: Desk, draft: OnlineDraft, data: DraftInput) -> dict[str, dict[str, str]]:
    """Keep what was typed; a value longer than its column is not kept and is reported (field -> vi/en)."""
    _check_open(draft)
    problems: dict[str, dict[str, str]] = {}
    applicant = dict(draft.applicant or {})
    for name, (limit, vi, en) in intake.APPLICANT_LIMITS.items():
        if name not in data.applicant:
            continue
        value = _clean(data.applicant.get(name))
        if value is not None and len(value) > limit:
            problems[f"applicant.{name}"] = {
                "vi": f"{vi} dài quá {limit} ký tự",
                "en": f"{en} is longer than {limit} characters",
            }
            continue
        applicant[name] = value or None
    for name in ("type", "id_type"):
        if name in data.applicant:
            applicant[name] = (_clean(data.applicant.get(name)) or "")[:16] or None
    draft.applicant = applicant
    for name, (limit, vi, en) in POSTAL_LIMITS.items():
        value = _clean(getattr(data, name))
        if value is not None and len(value) > limit:
            problems[name] = {
                "vi": f"{vi} dài quá {limit} ký tự",
                "en": f"{en} is longer than {limit} characters",
            }
            continue
        setattr(draft, name, value or None)
    note = texts.lines(data.note) or None
    if note is not None and len(note) > texts.MAX_TEXT:
        problems["note"] = {
            "vi": f"ghi chú dài quá {texts.MAX_TEXT} ký tự",
            "en": f"the note is longer than {texts.MAX_TEXT} characters",
        }
    else:
        draft.note = note
    draft.result_delivery = data.result_delivery if data.result_delivery in DELIVERIES else None
    draft.number_of_sets = min(max(data.number_of_sets or 1, 1), 20)
    known_cases = {case.id for case in cases_of(desk, draft.procedure_id)}
    draft.case_id = data.case_id if data.case_id in known_cases else None
    draft.updated_at = desk.now
    return problems


def add_file(
    desk: Desk, draft: OnlineDraft, component_id: int, filename: str, data: bytes
) -> OnlineDraftFile:
    """Check the upload as every attachment is checked (size, real type, name) and keep it with the draft.

    The same content sent again for the same document (a second click, a retry) is kept once:
    the row already there is returned.
    """
    _check_open(draft)
    component = desk.session.get(ProcedureComponent, component_id)
    if component is None or component.procedure_id != draft.procedure_id:
        raise NotFound(
            "Thành phần hồ sơ không thuộc thủ tục này.", "That document is not part of this procedure."
        )
    checked = check_upload(filename, data, max_bytes=get_platform().settings.max_upload_bytes)
    kept = draft_files(desk, draft.id)
    for row in kept:
        if row.procedure_component_id == component.id and row.sha256 == checked.sha256:
            return row
    if len(kept) >= MAX_FILES_PER_DRAFT:
        raise InvalidDraft(
            f"Mỗi hồ sơ nháp có tối đa {MAX_FILES_PER_DRAFT} tệp.",
            f"A draft holds at most {MAX_FILES_PER_DRAFT} files.",
        )
    key = storage_key(desk.tenant.slug, "online-drafts", str(draft.reference), unique_name(checked.filename))
    get_storage().put(key, checked.data, checked.content_type)
    row = OnlineDraftFile(
        draft_id=draft.id,
        procedure_component_id=component.id,
        storage_key=key,
        filename=checked.filename,
        content_type=checked.content_type,
        size_bytes=checked.size,
        sha256=checked.sha256,
        uploaded_at=desk.now,
    )
    desk.session.add(row)
    draft.updated_at = desk.now
    desk.session.flush()
    return row


def remove_file(desk: Desk, draft: OnlineDraft, file_id: int) -> bool:
    """Remove one of the draft's files; False when it is not there (removed already: a stale page).

    The stored object is deleted once the removal commits, never before: a rollback keeps both.
    """
    _check_open(draft)
    row = desk.session.get(OnlineDraftFile, file_id)
    if row is None or row.draft_id != draft.id:
        return False
    key = row.storage_key
    desk.session.delete(row)
    draft.updated_at = desk.now
    desk.session.flush()
    delete_after_commit(desk.session, [key])
    return True


def delete_draft(desk: Desk, draft: OnlineDraft) -> None:
    """The draft, its file rows and, once that commits, their stored objects."""
    _check_open(draft)
    keys = [row.storage_key for row in draft_files(desk, draft.id)]
    desk.session.delete(draft)
    desk.session.flush()
    delete_after_commit(desk.session, keys)


# --- submission ----------------------------------------------------------------------------------


def _check_delivery(draft: OnlineDraft) -> None:
    problems: dict[str, dict[str, str]] = {}
    if draft.result_delivery is None:
        problems["result_delivery"] = {
            "vi": "chọn cách nhận kết quả",
            "en": "choose how to receive the result",
        }
    if draft.result_delivery == "postal":
        for name, (_, vi, en) in POSTAL_LIMITS.items():
            if not getattr(draft, name):
                problems[name] = {"vi": f"chưa nhập {vi}", "en": f"{en} is missing"}
    if problems:
        vi = "; ".join(p["vi"] for p in problems.values())
        en = "; ".join(p["en"] for p in problems.values())
        raise intake.InvalidDossier(
            f"Hồ sơ chưa hợp lệ: {vi}.", f"The dossier is not valid: {en}.", errors=problems
        )


def _intake_of(draft: OnlineDraft) -> intake.Intake:
    values = draft.applicant or {}
    applicant = intake.Applicant(
        name=values.get("name") or "",
        type=values.get("type") or "citizen",
        id_type=values.get("id_type"),
        **{name: values.get(name) for name in intake.APPLICANT_LIMITS if name != "name"},
    )
    return intake.Intake(
        procedure_id=draft.procedure_id,
        case_id=draft.case_id,
        applicant=applicant,
        components={},
        number_of_sets=draft.number_of_sets,
        result_delivery=draft.result_delivery or "",
        channel=intake.ONLINE,
        note=draft.note,
        citizen_account_id=draft.owner_account_id,
    )


def _move_files(desk: Desk, actor: Actor, draft: OnlineDraft, dossier: Dossier) -> None:
    """The draft's files become the dossier's (same stored objects, checked when uploaded)."""
    moved: list[DossierFile] = []
    by_component = {
        c.procedure_component_id: c.id
        for c in desk.session.scalars(
            select(DossierComponent).where(DossierComponent.dossier_id == dossier.id)
        )
    }
    for row in draft_files(desk, draft.id):
        component_id = by_component.get(row.procedure_component_id)
        if component_id is None:  # a document of another case than the one chosen: not part of it
            continue
        filed = DossierFile(
            dossier_id=dossier.id,
            component_id=component_id,
            kind="component",
            storage_key=row.storage_key,
            filename=row.filename,
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            uploaded_by_account_id=actor.account_id,
            uploaded_at=row.uploaded_at,
        )
        desk.session.add(filed)
        moved.append(filed)
        desk.session.delete(row)
    desk.session.flush()
    for filed in moved:  # metered now, when they become the dossier's (not at the draft's upload time)
        metering.file_stored(desk, filed)


def submit_draft(desk: Desk, actor: Actor, draft_id: int) -> Dossier:
    """0 → 1 through the intake core: checked, coded, waiting for the counter. Idempotent per draft.

    The draft row is locked first, so two submissions of one draft (a double click, two devices)
    run one after the other and the second returns the dossier the first created.
    """
    draft = get_draft(desk, actor.account_id, draft_id, lock=True)
    if draft.status == SUBMITTED:
        return desk.session.get(Dossier, draft.dossier_id)
    online_procedure(desk, draft.procedure_id)
    _check_delivery(draft)
    dossier = intake.create_draft(desk, actor, _intake_of(draft))
    _move_files(desk, actor, draft, dossier)
    intake.submit(desk, actor, dossier)
    draft.status = SUBMITTED
    draft.dossier_id = dossier.id
    draft.submitted_at = desk.now
    draft.updated_at = desk.now
    desk.session.flush()
    return dossier


# --- after submission ----------------------------------------------------------------------------


@dataclass
class Upload:
    component_id: int | None  # the dossier's component (DossierComponent id)
    filename: str
    data: bytes


def answer_supplement(desk: Desk, actor: Actor, dossier: Dossier, uploads: list[Upload], note=None) -> int:
    """5 → 4 from the citizen's side: the new files, then the same action the counter takes.

    ``actions.receive_supplement`` checks status and actor and resumes the clock (returns the
    working minutes paused); the status is checked before any file is stored.
    """
    check_transition("receive_supplement", dossier.status)
    note = _check_answer(desk, actor, dossier, uploads, note)
    for upload in uploads:
        files.attach(desk, actor, dossier, upload.filename, upload.data, component_id=upload.component_id)
    return actions.receive_supplement(desk, actor, dossier, note=note)


def _check_answer(desk: Desk, actor: Actor, dossier: Dossier, uploads: list[Upload], note) -> str | None:
    """Who answers, the note and that there is a file: all checked before any file is stored."""
    files.check_uploader(desk, actor, dossier, "component")
    note = texts.note(note)
    if not uploads:
        raise actions.InvalidAction(
            "Hãy đính kèm ít nhất một tệp giấy tờ bổ sung.",
            "Attach at least one file with the documents asked for.",
            errors={"files": {"vi": "chưa có tệp", "en": "no file"}},
        )
    return note


def latest_guidance(session, dossier: Dossier) -> FormDocument | None:
    """Form 02 the counter gave a dossier still waiting for it (status 1 stays 1, DOMAIN.md §2.3)."""
    if dossier.status != WAITING_FOR_COUNTER:
        return None
    return session.scalar(
        select(FormDocument)
        .where(FormDocument.dossier_id == dossier.id, FormDocument.form_no == "02")
        .order_by(FormDocument.id.desc())
        .limit(1)
    )


def add_documents(desk: Desk, actor: Actor, dossier: Dossier, uploads: list[Upload], note=None) -> None:
    """The applicant adds the files the counter's guidance (form 02) asks for; the status stays 1.

    Only the files are added (``files.attach``, its checks) and an action row records it, with
    the files' names, for the counter's history; the counter then accepts, guides again or refuses.
    """
    if latest_guidance(desk.session, dossier) is None:
        raise Conflict(
            "Hồ sơ này không chờ bạn bổ sung giấy tờ.", "This dossier is not waiting for documents from you."
        )
    note = _check_answer(desk, actor, dossier, uploads, note)
    names = [
        files.attach(desk, actor, dossier, u.filename, u.data, component_id=u.component_id).filename
        for u in uploads
    ]
    records.action(
        desk,
        actor,
        dossier,
        ADD_DOCUMENTS,
        WAITING_FOR_COUNTER,
        WAITING_FOR_COUNTER,
        role="applicant",
        note=texts.summary([", ".join(names), note]),
    )
    desk.session.flush()


ADD_DOCUMENTS = "add_documents"  # the action row of ``add_documents`` (status 1 → 1)


def guided_unanswered(session, dossier_ids) -> set[int]:
    """Of these status-1 dossiers, those guided (form 02) with no files added by the applicant since."""
    ids = list(dossier_ids)
    if not ids:
        return set()
    last: dict[int, str] = {}  # the later of the two actions wins
    for dossier_id, action in session.execute(
        select(DossierAction.dossier_id, DossierAction.action)
        .where(DossierAction.dossier_id.in_(ids), DossierAction.action.in_(("guide", ADD_DOCUMENTS)))
        .order_by(DossierAction.at, DossierAction.id)
    ):
        last[dossier_id] = action
    return {dossier_id for dossier_id, action in last.items() if action == "guide"}


def dossier_files(desk: Desk, dossier: Dossier) -> list[DossierFile]:
    """What the applicant may download: the documents of their dossier (results come with level 4)."""
    return [row for row in files.files_of(desk, dossier.id) if row.kind == "component"]


def open_own_file(desk: Desk, actor: Actor, dossier: Dossier, file_id: int) -> tuple[DossierFile, bytes]:
    if file_id not in {row.id for row in dossier_files(desk, dossier)}:
        raise NotFound("Không tìm thấy tệp của hồ sơ này.", "This dossier has no such file.")
    return files.open_file(desk, actor, dossier, file_id)
