"""Public status lookup: a dossier code plus the applicant's phone or ID number, and its rate limits.

A wrong second factor and an unknown code give the same answer (``None``), so the lookup never tells
a stranger that a code exists. Nothing personal (ID, phone, address, officials, notes) is returned.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from app.calendar.deadlines import explain_lines
from app.catalog.models import Procedure
from app.core import ratelimit
from app.core.config import Settings
from app.core.db import read_first, tenant_reader
from app.dossiers.models import Dossier, DossierAction, DossierPause, FormDocument
from app.dossiers.online import ADD_DOCUMENTS, latest_guidance
from app.dossiers.status import DRAFT, FINANCIAL, SUPPLEMENT, status_name
from tenants.compiled import CompiledQuery

log = logging.getLogger(__name__)

MAX_CODE = 48  # Dossier.code
MAX_FACTOR = 64

# What each recorded action means to the applicant; actions not listed (reassignments …) are internal.
STEP_TEXT: dict[str, tuple[str, str]] = {
    "submit": ("Hồ sơ đã được nộp", "The dossier was submitted"),
    "receive": ("Hồ sơ đã được tiếp nhận tại bộ phận một cửa", "The dossier was received at the counter"),
    "accept": ("Hồ sơ đã được tiếp nhận", "The dossier was accepted"),
    "guide": ("Cơ quan hướng dẫn hoàn thiện hồ sơ", "You were asked to complete the dossier"),
    "refuse": ("Hồ sơ không được tiếp nhận", "The dossier was not accepted"),
    "transfer": ("Hồ sơ được chuyển đến bộ phận chuyên môn", "The dossier went to the specialised division"),
    "forward": ("Hồ sơ được chuyển sang bước xử lý tiếp theo", "The dossier moved to the next step"),
    "interop_return": ("Hồ sơ được chuyển sang bước xử lý tiếp theo", "The dossier moved to the next step"),
    "request_supplement": ("Cơ quan yêu cầu bổ sung giấy tờ", "You were asked for more documents"),
    "receive_supplement": ("Đã nhận giấy tờ bổ sung", "The additional documents were received"),
    ADD_DOCUMENTS: ("Đã gửi thêm giấy tờ theo hướng dẫn", "More documents were sent as guided"),
    "request_payment": ("Cơ quan yêu cầu nộp phí, lệ phí hoặc thuế", "You were asked to pay fees or taxes"),
    "confirm_payment": ("Đã xác nhận nộp phí, thuế", "The payment was confirmed"),
    "apologise": ("Cơ quan xin lỗi và hẹn lại ngày trả kết quả", "A new date for the result was set"),
    "stop": ("Hồ sơ bị dừng xử lý", "Processing was stopped"),
    "withdraw": ("Hồ sơ đã được rút theo yêu cầu", "The dossier was withdrawn at your request"),
    "complete": ("Đã có kết quả giải quyết", "The result is ready"),
    "return_result": ("Đã trả kết quả", "The result was handed over"),
}


@dataclass(frozen=True)
class Step:
    at: datetime
    vi: str
    en: str


@dataclass(frozen=True)
class Asked:
    """What the applicant must do now: bring documents (form 02) or pay."""

    kind: str  # "supplement" | "financial"
    items: list[str] = field(default_factory=list)
    reason: str | None = None
    deadline_at: datetime | None = None


@dataclass(frozen=True)
class Found:
    code: str
    status: int
    status_vi: str
    status_en: str
    procedure_name: str
    received_at: datetime | None
    appointment: datetime | None
    explanation_vi: list[str]
    explanation_en: list[str]
    asked: Asked | None
    steps: list[Step]


# --- matching ------------------------------------------------------------------


def clean_code(text: str | None) -> str:
    return (text or "").strip().upper()[: MAX_CODE + 1]


def normalise_phone(text: str | None) -> str:
    """ "+84 912.345.678" and "0912 345 678" are the same number."""
    digits = re.sub(r"[\s.\-()]", "", text or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    return digits


def factor_matches(dossier: Dossier, factor: str) -> bool:
    factor = (factor or "").strip()
    if not factor:
        return False
    if dossier.applicant_id_number and factor.casefold() == dossier.applicant_id_number.strip().casefold():
        return True
    phone = normalise_phone(factor)
    return bool(phone) and bool(dossier.applicant_phone) and phone == normalise_phone(dossier.applicant_phone)


@functools.cache
def _facts_query():
    """One round trip: the dossier's public columns, its procedure's name and its history."""
    history = (
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_array(DossierAction.action, DossierAction.at),
                        DossierAction.at,
                        DossierAction.id,
                    )
                ),
                literal_column("'[]'::json"),
            )
        )
        .where(DossierAction.dossier_id == Dossier.id)
        .scalar_subquery()
    )
    return select(
        Dossier.id,
        Dossier.code,
        Dossier.status,
        Dossier.applicant_phone,
        Dossier.applicant_id_number,
        Dossier.received_at,
        Dossier.due_at,
        Dossier.rescheduled_due_at,
        Dossier.due_explanation,
        Procedure.name.label("procedure_name"),
        history.label("history"),
    ).join(Procedure, Procedure.id == Dossier.procedure_id)


# The public lookup's statement, compiled once per schema (see tenants/compiled.py).
_BY_CODE = CompiledQuery(
    lambda: _facts_query().where(Dossier.code == bindparam("code"), Dossier.status != DRAFT)
)


def find(code: str, factor: str) -> Found | None:
    """The public facts of the bound unit's dossier ``code`` when ``factor`` is its applicant's; else None."""
    code = clean_code(code)
    if not code or len(code) > MAX_CODE or len(factor or "") > MAX_FACTOR:
        return None
    row = read_first(_BY_CODE, code=code)
    if row is None or not factor_matches(row, factor):
        return None
    return _found(tenant_reader(), row)


def facts(session: Session, dossier: Dossier) -> Found:
    """The same public facts for a dossier already in hand (the applicant's own pages)."""
    return _found(session, session.execute(_facts_query().where(Dossier.id == dossier.id)).one())


def _found(session: Session, row) -> Found:
    vi, en = status_name(row.status)
    explanation = row.due_explanation or {}
    history = [(action, datetime.fromisoformat(at)) for action, at in row.history]
    # Only a dossier paused, or guided at the counter, has something asked of the applicant.
    waiting = row.status in (SUPPLEMENT, FINANCIAL) or any(action == "guide" for action, _ in history)
    return Found(
        code=row.code,
        status=row.status,
        status_vi=vi,
        status_en=en,
        procedure_name=row.procedure_name,
        received_at=row.received_at,
        appointment=row.rescheduled_due_at or row.due_at,
        explanation_vi=explain_lines(explanation, "vi") if explanation else [],
        explanation_en=explain_lines(explanation, "en") if explanation else [],
        asked=asked(session, row) if waiting else None,
        steps=[Step(at, *STEP_TEXT[action]) for action, at in history if action in STEP_TEXT],
    )


def asked(session: Session, dossier: Dossier) -> Asked | None:
    """What the unit waits for: form 02's items (a supplement, or guidance in status 1) or a payment."""
    guidance = latest_guidance(session, dossier)
    if guidance is not None:  # status 1 stays 1: the counter listed what to add before acceptance
        payload = guidance.payload or {}
        return Asked("supplement", items=list(payload.get("items") or []), reason=payload.get("reason"))
    if dossier.status not in (SUPPLEMENT, FINANCIAL):
        return None
    pause = session.scalar(
        select(DossierPause)
        .where(DossierPause.dossier_id == dossier.id, DossierPause.ended_at.is_(None))
        .order_by(DossierPause.started_at.desc())
        .limit(1)
    )
    if pause is None:
        return None
    if pause.kind == "financial":
        return Asked("financial", reason=pause.reason)
    form = session.get(FormDocument, pause.form_document_id) if pause.form_document_id else None
    payload = form.payload if form is not None else {}
    return Asked(
        "supplement",
        items=list(payload.get("items") or []),
        reason=payload.get("reason"),
        deadline_at=pause.deadline_at,
    )


# --- rate limits -----------------------------------------------------------------


@dataclass(frozen=True)
class Limited:
    """Over a limit: wait ``retry_after`` seconds."""

    retry_after: int


def exempt(settings: Settings, ip: str | None) -> bool:
    return bool(ip) and ip in {p.strip() for p in settings.lookup_exempt_ips.split(",") if p.strip()}


def check_limits(settings: Settings, tenant_id: int, ip: str | None, code: str) -> Limited | None:
    """Count this lookup against the client's IP and check the code's failures; fail open without Redis."""
    if exempt(settings, ip):
        return None
    counted = ratelimit.hit(f"lookup:ip:{ip or '-'}", settings.lookup_ip_window_seconds)
    if counted is not None and counted[0] > settings.lookup_limit_per_ip:
        return Limited(counted[1])
    failures, left = ratelimit.peek(f"lookup:code:{tenant_id}:{code}", settings.lookup_code_window_seconds)
    if failures >= settings.lookup_limit_per_code:
        return Limited(left)
    return None


def record_failure(settings: Settings, tenant_id: int, ip: str | None, code: str) -> None:
    """A code with a wrong factor (or no such code): counted per code, whichever it was."""
    if not exempt(settings, ip):
        ratelimit.hit(f"lookup:code:{tenant_id}:{code}", settings.lookup_code_window_seconds)
