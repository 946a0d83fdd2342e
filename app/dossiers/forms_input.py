"""HTML form input of the back office, parsed into what the dossier core takes.

Parsing only: the rules (mandatory documents, ID formats, allowed transitions)
stay in the core. What cannot even be read (a quantity that is not a number, a
date that is not a date) is reported per field in the core's own shape
({field: {"vi", "en"}}), so the page shows every problem next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from werkzeug.datastructures import MultiDict

from app.calendar.workcal import VN_TZ
from app.dossiers.actions import InvalidAction
from app.dossiers.intake import COUNTER, Applicant, Intake
from app.dossiers.queries import QueueFilter
from app.dossiers.status import STATUS_NAMES
from app.processes.checks import CONDITIONS

APPLICANT_TYPES: dict[str, tuple[str, str]] = {
    "citizen": ("Công dân", "Citizen"),
    "enterprise": ("Doanh nghiệp", "Enterprise"),
    "organisation": ("Tổ chức", "Organisation"),
}
ID_TYPES: dict[str, tuple[str, str]] = {
    "cccd": ("Căn cước công dân", "Citizen identity card"),
    "cmnd": ("Chứng minh nhân dân", "Identity card (old)"),
    "passport": ("Hộ chiếu", "Passport"),
    "tax": ("Mã số thuế", "Tax code"),
}
STOP_KINDS: dict[str, tuple[str, str]] = {
    "refused": ("Không đủ điều kiện giải quyết", "Not eligible"),
    "suspended": ("Tạm dừng giải quyết", "Suspended"),
    "supplement_expired": ("Quá hạn bổ sung hồ sơ", "Supplement deadline missed"),
}
DUE_FILTERS: dict[str, tuple[str, str]] = {
    "overdue": ("Quá hạn", "Overdue"),
    "soon": ("Sắp đến hạn", "Due soon"),
}
APPLICANT_FIELDS = (
    "name",
    "type",
    "id_type",
    "id_number",
    "phone",
    "email",
    "address",
    "delegate_name",
    "delegate_phone",
)


@dataclass
class Parsed:
    """What was read, and the fields that could not be read."""

    value: object
    problems: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, name: str, vi: str, en: str) -> None:
        self.problems.setdefault(name, {"vi": vi, "en": en})


def int_or_none(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def _int_field(form: MultiDict, name: str, default: int, parsed: Parsed, vi: str, en: str) -> int:
    raw = (form.get(name) or "").strip()
    if not raw:
        return default
    value = int_or_none(raw)
    if value is None:
        parsed.add(name, vi, en)
        return default
    return value


def intake_from_form(form: MultiDict) -> Parsed:
    """The counter's intake form -> ``Intake`` (channel: at the counter)."""
    parsed = Parsed(None)
    applicant = Applicant(**{name: form.get(f"applicant.{name}", "") for name in APPLICANT_FIELDS})
    applicant.type = applicant.type or "citizen"
    received: dict[int, int] = {}
    for raw in form.getlist("components"):
        component_id = int_or_none(raw)
        if component_id is None:
            parsed.add("components", "giấy tờ không hợp lệ", "unknown document")
            continue
        quantity = _int_field(
            form,
            f"quantity_{component_id}",
            1,
            parsed,
            "số lượng phải là số nguyên không âm",
            "the quantity must be a whole number",
        )
        received[component_id] = min(quantity, 999)
    sets = _int_field(
        form,
        "number_of_sets",
        1,
        parsed,
        "số bộ hồ sơ phải là số nguyên",
        "the number of sets must be a number",
    )
    parsed.value = Intake(
        procedure_id=int_or_none(form.get("procedure_id")) or 0,
        case_id=int_or_none(form.get("case_id")),
        applicant=applicant,
        components=received,
        number_of_sets=sets,
        result_delivery=(form.get("result_delivery") or "").strip(),
        channel=COUNTER,
        note=(form.get("note") or "").strip() or None,
    )
    return parsed


def lines(raw: str | None) -> list[str]:
    """A textarea, one item per line, blank lines dropped."""
    return [line.strip() for line in (raw or "").splitlines() if line.strip()]


def _note(form: MultiDict) -> str | None:
    return (form.get("note") or "").strip() or None


def _day(raw: str) -> date:
    """A date as the browser's date field sends it (yyyy-mm-dd) or as people write it (dd/mm/yyyy)."""
    if "/" in raw:
        return datetime.strptime(raw, "%d/%m/%Y").date()
    return date.fromisoformat(raw)


def _new_due_at(form: MultiDict) -> datetime:
    """Date and time fields of form 04 -> an aware datetime in Asia/Ho_Chi_Minh."""
    try:
        day = _day((form.get("new_due_date") or "").strip())
        at = time.fromisoformat((form.get("new_due_time") or "17:00").strip() or "17:00")
    except ValueError:
        raise InvalidAction(
            "Ngày giờ hẹn mới không đúng (ngày dạng dd/mm/yyyy hoặc yyyy-mm-dd, giờ dạng hh:mm).",
            "The new date or time is not valid (date as dd/mm/yyyy or yyyy-mm-dd, time as hh:mm).",
            errors={"new_due_at": {"vi": "ngày giờ không đúng", "en": "not a valid date and time"}},
        ) from None
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=VN_TZ)


def _received(form: MultiDict) -> dict[int, int]:
    """Ticks of an online dossier's documents when it is accepted: procedure component id -> quantity."""
    received: dict[int, int] = {}
    ticked = {int_or_none(raw) for raw in form.getlist("components")}
    for key in form:
        if not key.startswith("quantity_"):
            continue
        component_id = int_or_none(key.removeprefix("quantity_"))
        if component_id is None:
            continue
        quantity = int_or_none(form.get(key)) or 0
        received[component_id] = quantity if component_id in ticked else 0
    for component_id in ticked:
        if component_id is not None and component_id not in received:
            received[component_id] = 1
    return received


def action_kwargs(action: str, form: MultiDict) -> dict:
    """Keyword arguments of the core function behind ``action``, read from its small form."""
    if action in ("transfer", "forward", "reassign"):
        values = {"to_account_id": int_or_none(form.get("to_account_id")), "note": _note(form)}
        if action == "forward" and form.get("condition") in CONDITIONS:
            values["condition"] = form["condition"]  # a branch of the process graph (supplement, send back…)
        return values
    if action in ("guide", "request_supplement"):
        return {"items": lines(form.get("items")), "reason": (form.get("reason") or "").strip() or None}
    if action == "refuse":
        return {"reasons": lines(form.get("reasons"))}
    if action in ("request_payment", "stop"):
        kwargs = {"reason": (form.get("reason") or "").strip()}
        if action == "stop":
            kwargs["kind"] = (form.get("kind") or "refused").strip()
        return kwargs
    if action == "withdraw":
        return {"reason": (form.get("reason") or "").strip() or None}
    if action == "apologise":
        return {"new_due_at": _new_due_at(form), "reason": (form.get("reason") or "").strip()}
    if action == "accept":
        return {"received": _received(form)}
    if action in ("receive_supplement", "confirm_payment", "complete", "return_result"):
        return {"note": _note(form)}
    return {}


def queue_filter(args: MultiDict) -> QueueFilter:
    """Filters from the query string; a value that makes no sense is ignored, not an error."""
    status = int_or_none(args.get("status"))
    channel = int_or_none(args.get("channel"))
    due = args.get("due") or None
    return QueueFilter(
        status=status if status in STATUS_NAMES else None,
        procedure_id=int_or_none(args.get("procedure_id")),
        channel=channel if channel in (1, 2, 3) else None,
        due=due if due in DUE_FILTERS else None,
        q=(args.get("q") or "").strip()[:100] or None,
    )


def page_number(args: MultiDict) -> int:
    page = int_or_none(args.get("page")) or 1
    return max(1, min(page, 10_000))


def logbook_period(args: MultiDict, today: date) -> tuple[date, date, str]:
    """``from``/``to`` (ISO dates, default today) and ``format`` (pdf or xlsx) of the logbook export."""
    try:
        day_from = date.fromisoformat(args.get("from") or today.isoformat())
        day_to = date.fromisoformat(args.get("to") or day_from.isoformat())
    except ValueError:
        raise InvalidAction(
            "Ngày không đúng định dạng (yyyy-mm-dd).",
            "A date is not valid (yyyy-mm-dd).",
            errors={"from": {"vi": "ngày không đúng", "en": "not a date"}},
        ) from None
    if day_to < day_from:
        raise InvalidAction(
            "“Đến ngày” phải sau hoặc bằng “Từ ngày”.",
            "“To” must be on or after “From”.",
            errors={"to": {"vi": "trước ngày bắt đầu", "en": "before the start"}},
        )
    if (day_to - day_from).days > 366:
        raise InvalidAction(
            "Chỉ xuất sổ theo dõi tối đa một năm mỗi lần.",
            "Export at most one year of the logbook at a time.",
            errors={"to": {"vi": "quá một năm", "en": "more than a year"}},
        )
    fmt = args.get("format") or "pdf"
    if fmt not in ("pdf", "xlsx"):
        raise InvalidAction(
            "Định dạng chỉ nhận pdf hoặc xlsx.",
            "The format is pdf or xlsx.",
            errors={"format": {"vi": "pdf hoặc xlsx", "en": "pdf or xlsx"}},
        )
    return day_from, day_to, fmt
