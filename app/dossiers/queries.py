"""Reading dossiers: a task queue, search, one dossier's history and the actions open to someone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select, union_all
from sqlalchemy.orm import Session

from app.auth.access import Forbidden
from app.auth.roles import COUNTER_OFFICER
from app.dossiers.desk import Actor, Desk, check_actor
from app.dossiers.models import Dossier, DossierAction
from app.dossiers.status import ALLOWED_AWAY, OPEN, REASSIGNERS, SUBMITTED, Transition, transitions_from
from app.officials.models import OfficialAssignment
from app.processes.models import ProcessStep
from app.processes.services import next_steps
from tenants.naming import strip_diacritics


@dataclass(frozen=True)
class QueueFilter:
    status: int | None = None
    procedure_id: int | None = None
    channel: int | None = None
    due: str | None = None  # "overdue" | "soon"
    q: str | None = None


@dataclass(frozen=True)
class QueueRow:
    dossier: Dossier
    marker: str | None  # "overdue" | "soon" | None, against the current step's deadline


def divisions_of(session: Session, account_id: int) -> list[int]:
    return list(
        session.scalars(
            select(OfficialAssignment.division_id).where(
                OfficialAssignment.account_id == account_id, OfficialAssignment.is_active
            )
        )
    )


def conditions(desk: Desk, f: QueueFilter) -> list:
    """The filters of the queue and of the plain list, as WHERE conditions."""
    found = []
    if f.status is not None:
        found.append(Dossier.status == f.status)
    if f.procedure_id is not None:
        found.append(Dossier.procedure_id == f.procedure_id)
    if f.channel is not None:
        found.append(Dossier.channel == f.channel)
    if f.due == "overdue":
        found.append(Dossier.current_step_due_at < desk.now)
    elif f.due == "soon":
        found.append(Dossier.current_step_due_at.between(desk.now, soon_limit(desk)))
    if f.q:
        found.append(Dossier.search_text.contains(search_key(f.q)))
    return found


def _filtered(query: Select, desk: Desk, f: QueueFilter) -> Select:
    return query.where(*conditions(desk, f))


def list_dossiers(desk: Desk, f: QueueFilter, *, limit: int, offset: int) -> tuple[list[Dossier], int]:
    """Every dossier of the unit matching ``f``, soonest legal due date first (drafts last)."""
    where = conditions(desk, f)
    total = desk.session.scalar(select(func.count()).select_from(Dossier).where(*where)) or 0
    rows = desk.session.scalars(
        select(Dossier)
        .where(*where)
        .order_by(Dossier.due_at.asc().nulls_last(), Dossier.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def _queue_parts(desk: Desk, actor: Actor, f: QueueFilter, depth: int) -> list[Select]:
    """One index-ordered scan for what the official holds, one per role for the pools they may pick from."""
    due = Dossier.current_step_due_at
    base = select(Dossier.id.label("id"), due.label("due")).where(Dossier.status.in_(OPEN))
    parts = [_filtered(base.where(Dossier.current_account_id == actor.account_id), desk, f)]
    divisions = divisions_of(desk.session, actor.account_id)
    for role in sorted(actor.roles):
        pool = base.where(
            Dossier.current_account_id.is_(None),
            Dossier.current_role == role,
            or_(Dossier.current_division_id.is_(None), Dossier.current_division_id.in_(divisions)),
        )
        parts.append(_filtered(pool, desk, f))
    if COUNTER_OFFICER in actor.roles:
        # Online and postal dossiers waiting for the counter to check them (status 1), oldest first.
        waiting = select(Dossier.id.label("id"), Dossier.submitted_at.label("due"))
        parts.append(_filtered(waiting.where(Dossier.status == SUBMITTED), desk, f))
    return [part.order_by(part.selected_columns.due.asc().nulls_last()).limit(depth) for part in parts]


def task_queue(
    desk: Desk, actor: Actor, f: QueueFilter = QueueFilter(), *, limit=20, offset=0
) -> list[QueueRow]:
    """The official's dossiers, soonest step deadline first."""
    merged = union_all(*_queue_parts(desk, actor, f, offset + limit)).subquery()
    rows = desk.session.scalars(
        select(Dossier)
        .join(merged, merged.c.id == Dossier.id)
        .order_by(merged.c.due.asc().nulls_last(), Dossier.id)
        .limit(limit)
        .offset(offset)
    ).all()
    limit_soon = soon_limit(desk)
    return [QueueRow(d, marker(d.current_step_due_at, desk.now, limit_soon)) for d in rows]


def queue_count(desk: Desk, actor: Actor, f: QueueFilter = QueueFilter()) -> int:
    parts = [part.limit(None).order_by(None) for part in _queue_parts(desk, actor, f, 0)]
    return desk.session.scalar(select(func.count()).select_from(union_all(*parts).subquery())) or 0


def soon_limit(desk: Desk) -> datetime:
    """Due soon = within one working day from now (DOMAIN.md §4.2)."""
    hours = desk.calendar.hours.hours_per_day
    return desk.calendar.add_working_minutes(desk.now, int(hours * 60))


def marker(due_at: datetime | None, now: datetime, limit_soon: datetime) -> str | None:
    if due_at is None:
        return None
    if due_at < now:
        return "overdue"
    return "soon" if due_at <= limit_soon else None


def search_key(text: str) -> str:
    return strip_diacritics(text).lower().strip()


def search(session: Session, text: str, *, limit=20, offset=0) -> list[Dossier]:
    """By code, applicant name (diacritics ignored), phone or ID number; newest first."""
    key = search_key(text)
    if not key:
        return []
    return list(
        session.scalars(
            select(Dossier)
            .where(Dossier.search_text.contains(key), Dossier.status > 0)
            .order_by(Dossier.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def history(session: Session, dossier_id: int) -> list[tuple[DossierAction, ProcessStep | None]]:
    """The dossier's actions in order, with the step each happened at (form 05 and the history view)."""
    return list(
        session.execute(
            select(DossierAction, ProcessStep)
            .outerjoin(ProcessStep, ProcessStep.id == DossierAction.step_id)
            .where(DossierAction.dossier_id == dossier_id)
            .order_by(DossierAction.at, DossierAction.id)
        )
    )


def available_actions(desk: Desk, actor: Actor, dossier: Dossier) -> list[Transition]:
    """What this person may do to the dossier now (the buttons on its page, the API's ``allowed_actions``)."""
    step = desk.session.get(ProcessStep, dossier.current_step_id) if dossier.current_step_id else None
    # At the last processing step the way on is "result ready", before it "hand over".
    last = step is not None and any(s.kind == "return" for s in next_steps(desk.session, step.id))
    skip = "forward" if last else "complete"
    away = step is not None and step.kind == "interop"  # the partner unit holds it (liên thông)
    allowed = []
    for transition in transitions_from(dossier.status):
        if transition.action == skip or (away and transition.action not in ALLOWED_AWAY):
            continue
        try:
            check_actor(
                desk.session,
                actor,
                transition,
                step,
                dossier.current_account_id,
                dossier.citizen_account_id,
            )
        except Forbidden:
            continue
        allowed.append(transition)
    return allowed


def may_reassign(desk: Desk, actor: Actor, dossier: Dossier) -> bool:
    """Heads may move a dossier between the officials of its step; the holder may put it back in the pool."""
    if dossier.status not in OPEN or dossier.current_step_id is None:
        return False
    step = desk.session.get(ProcessStep, dossier.current_step_id)
    if step is None or step.kind == "interop":
        return False
    holder = actor.account_id is not None and actor.account_id == dossier.current_account_id
    return bool(actor.roles & REASSIGNERS) or holder
