"""Dossier facts for the reporting store, computed from a unit's own rows (dossiers, actions, pauses).

``load_facts`` reads a chunk of dossiers in a handful of set-based queries (never one query per
dossier) and returns rows shaped like ``ReportDossier`` and ``ReportStep``. ``contributions``
says what one fact adds to the daily rollup. Both the outbox feed and ``flask reports rebuild``
use these two functions, so the two paths cannot disagree. The rules are in docs/reports-store.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.orm import Session

from app.calendar.deadlines import classify
from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure, Sector
from app.dossiers.models import Dossier, DossierAction, DossierPause, FormDocument
from app.dossiers.status import FINANCIAL, RESULT_READY, RETURNED, STOPPED, SUPPLEMENT, WITHDRAWN
from app.feedback.models import Rating
from app.officials.settings import get_setting

CHUNK = 5000  # dossiers per round of queries
CHANNEL_COLUMNS = {1: "received_counter", 2: "received_online", 3: "received_postal"}
PAUSE_COLUMNS = {"supplement": "supplement_delta", "financial": "financial_delta"}
DAILY_COLUMNS = (
    "received_counter",
    "received_online",
    "received_postal",
    "completed_early",
    "completed_on_time",
    "completed_late",
    "withdrawn",
    "stopped",
    "open_delta",
    "overdue_delta",
    "supplement_delta",
    "financial_delta",
)


def granularity_of(tenant_session: Session) -> str:
    """The unit's on-time rule (``classification_granularity``), as the desk reads it."""
    return get_setting(tenant_session, "classification_granularity")


def among(column, ids: list[int]):
    """``column = ANY(:ids)``: one array parameter, where IN would bind (and parse) thousands."""
    return column == any_(bindparam(None, ids, type_=ARRAY(BigInteger)))


def local_day(at: datetime | None) -> date | None:
    return at.astimezone(VN_TZ).date() if at is not None else None


def _local_iso(at: datetime) -> str:
    """Hanoi time, whatever the connection's time zone: the stored JSON never depends on it."""
    return at.astimezone(VN_TZ).isoformat()


def _iso_day(value: str | None) -> date | None:
    return local_day(datetime.fromisoformat(value)) if value else None


def load_facts(
    tenant_session: Session, tenant_id: int, granularity: str, dossier_ids: Iterable[int] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Facts and finished steps of the given dossiers (every dossier when None) that were received.

    A dossier id without a received dossier behind it yields no row (the store then drops its fact).
    """
    ids = sorted(set(dossier_ids)) if dossier_ids is not None else None
    facts: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for chunk in _chunks(tenant_session, ids):
        chunk_facts, chunk_steps = _load_chunk(tenant_session, tenant_id, granularity, chunk)
        facts.extend(chunk_facts)
        steps.extend(chunk_steps)
    return facts, steps


def received_ids(tenant_session: Session, after: int = 0, limit: int = CHUNK) -> list[int]:
    """The next ``limit`` ids of received dossiers above ``after`` (the rebuild walks them in order)."""
    return list(
        tenant_session.scalars(
            select(Dossier.id)
            .where(Dossier.received_at.is_not(None), Dossier.id > after)
            .order_by(Dossier.id)
            .limit(limit)
        )
    )


def _chunks(tenant_session: Session, ids: list[int] | None):
    if ids is not None:
        for start in range(0, len(ids), CHUNK):
            yield ids[start : start + CHUNK]
        return
    after = 0
    while chunk := received_ids(tenant_session, after):
        yield chunk
        after = chunk[-1]


def _load_chunk(
    session: Session, tenant_id: int, granularity: str, ids: list[int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not ids:
        return [], []
    dossiers = session.execute(
        select(
            Dossier.id,
            Dossier.code,
            Dossier.procedure_id,
            Procedure.code,
            Procedure.name,
            Sector.code,
            Sector.name,
            func.coalesce(Dossier.service_level, Procedure.service_level),
            Dossier.channel,
            Dossier.applicant_type,
            Dossier.status,
            Dossier.stop_reason,
            Dossier.history_import_id,
            Dossier.received_at,
            Dossier.due_at,
            Dossier.rescheduled_due_at,
            Dossier.completed_at,
            Dossier.returned_at,
            Dossier.current_account_id,
            Dossier.current_role,
            Dossier.current_step_started_at,
            Dossier.current_step_due_at,
            Dossier.updated_at,
        )
        .outerjoin(Procedure, Procedure.id == Dossier.procedure_id)
        .outerjoin(Sector, Sector.id == Procedure.sector_id)
        .where(among(Dossier.id, ids), Dossier.received_at.is_not(None))
    ).all()
    if not dossiers:
        return [], []
    found = [row[0] for row in dossiers]
    closings = _closings(session, found)
    pauses = _pauses(session, found)
    apologies = dict(
        session.execute(
            select(FormDocument.dossier_id, func.count())
            .where(among(FormDocument.dossier_id, found), FormDocument.form_no == "04")
            .group_by(FormDocument.dossier_id)
        ).all()
    )
    ratings = dict(
        session.execute(
            select(Rating.dossier_id, Rating.level)
            .where(among(Rating.dossier_id, found))
            .order_by(Rating.dossier_id, Rating.rated_at.desc(), Rating.id.desc())
            .ext(distinct_on(Rating.dossier_id))
        ).all()
    )
    facts = [
        _fact(
            tenant_id, granularity, row, closings.get(row[0], {}), pauses.get(row[0], []), apologies, ratings
        )
        for row in dossiers
    ]
    return facts, _steps(session, tenant_id, found)


def _closings(session: Session, ids: list[int]) -> dict[int, dict[int, datetime]]:
    """dossier id -> {status: time of the (last) action that set it} for withdrawn and stopped."""
    rows = session.execute(
        select(DossierAction.dossier_id, DossierAction.to_status, func.max(DossierAction.at))
        .where(among(DossierAction.dossier_id, ids), DossierAction.to_status.in_((WITHDRAWN, STOPPED)))
        .group_by(DossierAction.dossier_id, DossierAction.to_status)
    ).all()
    found: dict[int, dict[int, datetime]] = defaultdict(dict)
    for dossier_id, status, at in rows:
        found[dossier_id][status] = at
    return found


def _pauses(session: Session, ids: list[int]) -> dict[int, list[tuple[str, datetime, datetime | None]]]:
    rows = session.execute(
        select(DossierPause.dossier_id, DossierPause.kind, DossierPause.started_at, DossierPause.ended_at)
        .where(among(DossierPause.dossier_id, ids))
        .order_by(DossierPause.dossier_id, DossierPause.started_at, DossierPause.id)
    ).all()
    found: dict[int, list[tuple[str, datetime, datetime | None]]] = defaultdict(list)
    for dossier_id, kind, started_at, ended_at in rows:
        found[dossier_id].append((kind, started_at, ended_at))
    return found


def _steps(session: Session, tenant_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """One row per action that finished a step: it carries the step's deadline or its on-time class.

    The step started at the dossier's previous action (a window over the dossier's actions).
    """
    previous_at = (
        func.lag(DossierAction.at)
        .over(partition_by=DossierAction.dossier_id, order_by=(DossierAction.at, DossierAction.id))
        .label("started_at")
    )
    trail = (
        select(
            DossierAction.id,
            DossierAction.dossier_id,
            DossierAction.step_id,
            DossierAction.action,
            DossierAction.actor_account_id,
            DossierAction.role,
            DossierAction.division_id,
            DossierAction.at,
            DossierAction.step_due_at,
            DossierAction.on_time_class,
            previous_at,
        )
        .where(among(DossierAction.dossier_id, ids))
        .subquery()
    )
    rows = session.execute(
        select(trail).where(or_(trail.c.step_due_at.is_not(None), trail.c.on_time_class.is_not(None)))
    ).all()
    return [
        {
            "tenant_id": tenant_id,
            "action_id": r.id,
            "dossier_id": r.dossier_id,
            "step_id": r.step_id,
            "action": r.action,
            "account_id": r.actor_account_id,
            "role": r.role,
            "division_id": r.division_id,
            "started_at": r.started_at,
            "due_at": r.step_due_at,
            "handed_over_at": r.at,
            "on_time_class": r.on_time_class,
        }
        for r in rows
    ]


def _fact(tenant_id, granularity, row, closings, pauses, apologies, ratings) -> dict[str, Any]:
    (
        dossier_id,
        code,
        procedure_id,
        procedure_code,
        procedure_name,
        sector_code,
        sector_name,
        service_level,
        channel,
        applicant_type,
        status,
        stop_reason,
        history_import_id,
        received_at,
        due_at,
        rescheduled_due_at,
        completed_at,
        returned_at,
        current_account_id,
        current_role,
        current_step_started_at,
        current_step_due_at,
        updated_at,
    ) = row
    closed_at, closed_kind, on_time_class = _closed(
        status, completed_at, returned_at, due_at, closings, updated_at
    )
    if closed_kind == "completed":
        # Without a due date a dossier cannot be late; it still counts among the resolved ones.
        on_time_class = classify(closed_at, due_at, granularity) if due_at is not None else "on_time"
    open_pause = next((kind for kind, _, ended in reversed(pauses) if ended is None), None)
    paused_now = open_pause is not None and status in (SUPPLEMENT, FINANCIAL)
    due_day = local_day(due_at)
    return {
        "tenant_id": tenant_id,
        "dossier_id": dossier_id,
        "code": code,
        "procedure_id": procedure_id,
        "procedure_code": procedure_code,
        "procedure_name": procedure_name,
        "sector_code": sector_code,
        "sector_name": sector_name,
        "service_level": service_level,
        "channel": channel,
        "applicant_type": applicant_type,
        "status": status,
        "stop_reason": stop_reason,
        "is_imported": history_import_id is not None,
        "received_at": received_at,
        "due_at": due_at,
        "rescheduled_due_at": rescheduled_due_at,
        "completed_at": completed_at,
        "returned_at": returned_at,
        "closed_at": closed_at,
        "closed_kind": closed_kind,
        "on_time_class": on_time_class,
        "paused_kind": open_pause if paused_now else None,
        "pauses": [
            {"kind": kind, "start": _local_iso(start), "end": _local_iso(end) if end else None}
            for kind, start, end in pauses
        ],
        "supplements": sum(1 for kind, _, _ in pauses if kind == "supplement"),
        "apologies": apologies.get(dossier_id, 0),
        "rating_level": ratings.get(dossier_id),
        "received_day": local_day(received_at),
        "due_day": due_day,
        "closed_day": local_day(closed_at),
        "overdue_from_day": due_day,
        "current_account_id": current_account_id,
        "current_role": current_role,
        "current_step_started_at": current_step_started_at,
        "current_step_due_at": current_step_due_at,
        "source_updated_at": updated_at,
    }


def _closed(status, completed_at, returned_at, due_at, closings, updated_at):
    """(closed_at, closed_kind, on_time_class placeholder) by the dossier's status."""
    if status in (RESULT_READY, RETURNED):
        return completed_at or returned_at or updated_at, "completed", None
    if status in (WITHDRAWN, STOPPED):
        # An imported dossier may carry no action rows: its last change is when it closed.
        kind = "withdrawn" if status == WITHDRAWN else "stopped"
        return closings.get(status) or updated_at, kind, None
    return None, None, None


def contributions(fact: dict[str, Any]) -> dict[date, dict[str, int]]:
    """What one fact adds to the daily rollup: {day: {column: n}} (see docs/reports-store.md)."""
    out: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    received = fact.get("received_day")
    if received is None:
        return {}
    out[received][CHANNEL_COLUMNS[fact["channel"]]] += 1
    out[received]["open_delta"] += 1
    closed = fact.get("closed_day")
    if closed is not None:
        kind = fact["closed_kind"]
        column = f"completed_{fact['on_time_class'] or 'on_time'}" if kind == "completed" else kind
        out[closed][column] += 1
        out[closed]["open_delta"] -= 1
    pauses = [
        (PAUSE_COLUMNS[pause["kind"]], _iso_day(pause["start"]), _iso_day(pause.get("end")))
        for pause in fact.get("pauses") or ()
    ]
    overdue = fact.get("overdue_from_day")
    if overdue is not None:
        for first, stop in _overdue_spans(overdue, closed, [(start, end) for _, start, end in pauses]):
            out[first]["overdue_delta"] += 1
            if stop is not None:
                out[stop]["overdue_delta"] -= 1
    for column, start, end in pauses:
        if end is None:
            out[start][column] += 1
        elif end > start:
            out[start][column] += 1
            out[end][column] -= 1
    return {day: dict(cols) for day, cols in out.items()}


def _overdue_spans(first: date, closed: date | None, pauses: list[tuple[date, date | None]]):
    """Days [start, stop) the dossier is open past its due day and not paused (stop None: still).

    A pause stops the clock, so its days are cut out; days overdue before a pause stay overdue,
    and a past period's figure does not change when the dossier is paused later.
    """
    spans: list[tuple[date, date | None]] = [(first, closed)] if closed is None or first < closed else []
    for pause_start, pause_end in pauses:
        if pause_end is not None and pause_end <= pause_start:
            continue
        cut = []
        for start, stop in spans:
            if stop is None or pause_start < stop:
                if start < pause_start:
                    cut.append((start, pause_start))
                if pause_end is not None and (stop is None or pause_end < stop):
                    cut.append((max(start, pause_end), stop))
            else:
                cut.append((start, stop))
        spans = [(start, stop) for start, stop in cut if stop is None or start < stop]
    return spans


def add_contributions(total: dict[date, dict[str, int]], fact: dict[str, Any], sign: int = 1) -> None:
    """``total`` += sign * contributions(fact), in place."""
    for day, cols in contributions(fact).items():
        into = total.setdefault(day, {})
        for column, n in cols.items():
            into[column] = into.get(column, 0) + sign * n
