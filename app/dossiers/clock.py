"""The dossier's clocks: the legal deadline, each step's deadline, pauses and the form 04 re-appointment.

The rules (working hours, holidays, 15:00, pauses) are in app.calendar.deadlines;
this module applies them to a dossier and keeps its explanation up to date.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.calendar.deadlines import (
    classify,
    compute_due,
    extend_for_pause,
    record_extension,
    record_pause,
    step_due,
)
from app.catalog.models import Procedure, ProcedureCase
from app.dossiers.desk import Desk
from app.dossiers.models import Dossier, DossierPause
from app.dossiers.status import FINANCIAL, SUPPLEMENT
from app.processes.models import ProcessStep

ONLINE = 2
PAUSED = (SUPPLEMENT, FINANCIAL)  # the clock stands still while the applicant is asked for something


def legal_time(procedure: Procedure, case: ProcedureCase | None, channel: int) -> tuple[Decimal, str]:
    """The time that applies: the case's over the procedure's; online dossiers use the online one."""
    value, unit, online = procedure.time_value, procedure.time_unit, procedure.online_time_value
    if case is not None and case.time_value is not None:
        value, unit, online = case.time_value, case.time_unit or unit, case.online_time_value
    if channel == ONLINE and online is not None:
        value = online
    return Decimal(value), unit


def start(desk: Desk, dossier: Dossier, procedure: Procedure, case: ProcedureCase | None) -> None:
    """Accepted now: fix the appointment (DOMAIN.md §3.3) and say why it is what it is."""
    value, unit = legal_time(procedure, case, dossier.channel)
    deadline = compute_due(desk.calendar, desk.now, value, unit)
    dossier.received_at = desk.now
    dossier.due_at = dossier.due_at_original = deadline.due_at
    dossier.due_explanation = deadline.explanation


def enter_step(desk: Desk, dossier: Dossier, step: ProcessStep, account_id: int | None = None) -> None:
    dossier.current_step_id = step.id
    dossier.current_role = step.role
    dossier.current_division_id = step.division_id
    dossier.current_account_id = account_id
    dossier.current_step_started_at = desk.now
    dossier.current_step_due_at = step_due(desk.calendar, desk.now, Decimal(step.duration_hours))


def step_result(desk: Desk, dossier: Dossier) -> str | None:
    """Early, on time or late for the step being finished now (form 05's "kết quả")."""
    if dossier.current_step_due_at is None:
        return None
    return classify(desk.now, dossier.current_step_due_at, desk.setting("classification_granularity"))


def outcome(desk: Desk, dossier: Dossier) -> str:
    """The dossier's class against the legal due date; a form 04 re-appointment does not clear lateness."""
    return classify(desk.now, dossier.due_at, desk.setting("classification_granularity"))


def pause(desk: Desk, dossier: Dossier, kind: str, reason: str, deadline_at: datetime | None) -> DossierPause:
    row = DossierPause(
        dossier_id=dossier.id, kind=kind, started_at=desk.now, deadline_at=deadline_at, reason=reason
    )
    desk.session.add(row)
    return row


def open_pause(desk: Desk, dossier: Dossier) -> DossierPause | None:
    return desk.session.scalar(
        select(DossierPause)
        .where(DossierPause.dossier_id == dossier.id, DossierPause.ended_at.is_(None))
        .order_by(DossierPause.started_at.desc())
        .limit(1)
    )


def resume(desk: Desk, dossier: Dossier) -> int:
    """End the open pause; every deadline moves by the working time paused (the clock does not restart)."""
    row = open_pause(desk, dossier)
    if row is None:
        return 0
    row.ended_at = desk.now
    new_due, minutes = extend_for_pause(desk.calendar, dossier.due_at, row.started_at, desk.now)
    row.paused_working_minutes = minutes
    dossier.due_at = new_due
    if dossier.rescheduled_due_at is not None:
        dossier.rescheduled_due_at, _ = extend_for_pause(
            desk.calendar, dossier.rescheduled_due_at, row.started_at, desk.now
        )
    if dossier.current_step_due_at is not None:
        dossier.current_step_due_at, _ = extend_for_pause(
            desk.calendar, dossier.current_step_due_at, row.started_at, desk.now
        )
    dossier.due_explanation = record_pause(
        dossier.due_explanation or {}, row.kind, row.started_at, desk.now, minutes, new_due
    )
    return minutes


def effective_due(desk: Desk, dossier: Dossier) -> datetime:
    """The legal due date as it stands now: a pause under way has already moved it by the working time
    paused so far (it moves for good when the clock resumes)."""
    row = open_pause(desk, dossier) if dossier.status in PAUSED else None
    if row is None:
        return dossier.due_at
    due, _ = extend_for_pause(desk.calendar, dossier.due_at, row.started_at, desk.now)
    return due


def reschedule(desk: Desk, dossier: Dossier, new_due_at: datetime, reason: str) -> None:
    dossier.rescheduled_due_at = new_due_at
    dossier.due_explanation = record_extension(dossier.due_explanation or {}, new_due_at, reason)


def appointment(dossier: Dossier) -> datetime | None:
    """The date the applicant was given: the form 04 one if there is one."""
    return dossier.rescheduled_due_at or dossier.due_at
