"""Liên thông (DOMAIN.md §2.4): one step of a unit's dossier is done by another unit, then handed back.

The unit that received the dossier owns it, keeps it in its statistics and keeps
its code; the partner gets a sub-task with its own step deadline. Neither unit
reads the other's schema: each keeps its own ``InteropTask`` (outgoing at the
owner, incoming at the partner) and the hand-over travels as the platform record
``InteropHandover``, written by the outbox handlers and jobs of
``app.dossiers.interop_jobs``.

Owner side:   ``send`` (from ``actions.forward``/``transfer``) → event ``interop.sent``;
              ``receive_back`` (job) moves the dossier on when the partner hands back.
Partner side: ``open_incoming`` (job) creates the task; ``take``, ``complete`` and
              ``reject`` on the partner's pages → event ``interop.returned``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.access import Forbidden
from app.auth.roles import role_labels
from app.calendar.deadlines import classify, step_due
from app.catalog.models import Procedure
from app.core.db import platform_db
from app.core.errors import Conflict, DomainError, NotFound
from app.core.outbox import emit_event
from app.dossiers import clock, records, texts
from app.dossiers.desk import Actor, Desk
from app.dossiers.interop_models import DONE, REJECTED, InteropHandover
from app.dossiers.models import Dossier, InteropTask
from app.dossiers.queries import marker, soon_limit
from app.dossiers.status import ALLOWED_AWAY, PROCESSING, RESULT_READY
from app.processes.models import ProcessStep
from app.processes.services import next_steps
from tenants.models import Tenant, TenantStatus

SENT_TOPIC = "interop.sent"
RETURNED_TOPIC = "interop.returned"

OPEN_TASK = ("pending", "in_progress")
# What the owner may still do while the dossier is at the partner (form 04 concerns the whole dossier).
SYSTEM = Actor(None)


class InvalidInterop(DomainError):
    status = 422


# --- owner side -------------------------------------------------------------------------


def check_at_home(step: ProcessStep | None, action: str) -> None:
    """409 while the dossier sits at an inter-unit step: the partner holds it, not this unit."""
    if step is not None and step.kind == "interop" and action not in ALLOWED_AWAY:
        raise Conflict(
            f"Hồ sơ đang ở bước liên thông “{step.name}”, do đơn vị phối hợp xử lý. "
            "Chờ đơn vị đó trả lại rồi thao tác tiếp.",
            f"The dossier is at the inter-unit step “{step.name}”, handled by the partner unit. "
            "Wait until it is handed back, then continue.",
        )


def _partner(desk: Desk, step: ProcessStep) -> Tenant:
    partner = platform_db().get(Tenant, step.partner_tenant_id) if step.partner_tenant_id else None
    if partner is None or partner.id == desk.tenant.id or partner.status == TenantStatus.ARCHIVED:
        raise Conflict(
            f"Bước liên thông “{step.name}” không chỉ ra đơn vị phối hợp hợp lệ. "
            "Quản trị đơn vị cần sửa quy trình nội bộ.",
            f"The inter-unit step “{step.name}” names no valid partner unit. "
            "The unit admin must fix the internal process.",
        )
    if partner.status != TenantStatus.ACTIVE:
        raise Conflict(
            f"Đơn vị phối hợp “{partner.name}” đang tạm ngừng hoạt động; chưa thể chuyển liên thông.",
            f"The partner unit “{partner.name}” is suspended; the dossier cannot be handed over now.",
        )
    return partner


def _join(*parts: str | None) -> str:
    """One form 05 note from several parts, cut to what a note may hold (the parts are kept whole)."""
    text = ". ".join(p.strip() for p in parts if p and p.strip())
    return texts.summary([text])


def send(
    desk: Desk,
    actor: Actor,
    dossier: Dossier,
    action: str,
    target: ProcessStep,
    *,
    to_account_id: int | None = None,
    note: str | None = None,
) -> InteropTask:
    """Hand the dossier over to ``target``'s partner unit; writes and flushes, does not commit.

    One form 05 row "Giao: owner → Nhận: partner" with the on-time result of the
    step being finished; the dossier enters ``target`` (status 4) held by nobody
    here; an outgoing task due at the step's deadline; the event ``interop.sent``.
    """
    if to_account_id is not None:
        raise InvalidInterop(
            "Bước liên thông do đơn vị phối hợp xử lý: không chọn cán bộ nhận của đơn vị mình.",
            "An inter-unit step is handled by the partner unit: do not name an official of this unit.",
            errors={"to_account_id": {"vi": "không áp dụng", "en": "not applicable"}},
        )
    partner = _partner(desk, target)
    from_step_id = dossier.current_step_id
    records.action(
        desk,
        actor,
        dossier,
        action,
        dossier.status,
        PROCESSING,
        to_division_id=target.division_id,
        step_due_at=dossier.current_step_due_at,
        on_time_class=clock.step_result(desk, dossier),
        note=_join(f"Giao: {desk.tenant.name} → Nhận: {partner.name}", note),
    )
    dossier.status = PROCESSING
    clock.enter_step(desk, dossier, target)
    # Away: nobody here holds it and no pool offers it (the task queue reads these two columns).
    dossier.current_account_id = None
    dossier.current_role = None
    procedure = desk.session.get(Procedure, dossier.procedure_id)
    task = InteropTask(
        direction="outgoing",
        dossier_id=dossier.id,
        dossier_code=dossier.code,
        owner_tenant_id=desk.tenant.id,
        partner_tenant_id=partner.id,
        step_id=target.id,
        subject=procedure.name,
        status="pending",
        sent_at=desk.now,
        due_at=dossier.current_step_due_at,
        note=note,
        result={"from_step_id": from_step_id},
    )
    desk.session.add(task)
    desk.session.flush()
    emit_event(
        desk.session,
        SENT_TOPIC,
        {
            "task_id": task.id,
            "partner_tenant_id": partner.id,
            "dossier_code": dossier.code,
            "step_name": target.name,
            "role": target.role,
            "subject": task.subject,
            "note": note,
            # The one piece of personal data the partner needs to find the person in its records.
            "applicant_name": dossier.applicant_name,
            "budget_hours": str(target.duration_hours),
            "owner_due_at": task.due_at.isoformat() if task.due_at else None,
            "sent_at": desk.now.isoformat(),
        },
        tenant_id=desk.tenant.id,
    )
    return task


def _outcome_text(handover: InteropHandover) -> str:
    if handover.outcome == REJECTED:
        return f"Trả lại, không xử lý: {handover.result_note}"
    return f"Kết quả: {handover.result_note}"


def receive_back(desk: Desk, handover: InteropHandover, partner_name: str) -> str:
    """The partner handed back: close the outgoing task and move the dossier on. Idempotent.

    Done → the interop step's next step; rejected → back to the step it came from.
    Returns what happened: "moved", "already" (a redelivery) or "left" (the dossier
    left the step meanwhile, e.g. withdrawn, so only the task is closed).
    """
    task = desk.session.scalar(
        select(InteropTask)
        .where(InteropTask.id == handover.owner_task_id, InteropTask.direction == "outgoing")
        .with_for_update()
    )
    if task is None:
        raise NotFound("Không tìm thấy nhiệm vụ liên thông.", "No such inter-unit task.")
    if task.status not in OPEN_TASK:
        return "already"
    task.status = "done" if handover.outcome == DONE else "returned"
    task.completed_at = handover.returned_at
    task.result = {
        **(task.result or {}),
        "outcome": handover.outcome,
        "note": handover.result_note,
        "on_time_class": handover.on_time_class,
        "by_name": handover.returned_by_name,
    }
    dossier = desk.session.scalar(select(Dossier).where(Dossier.id == task.dossier_id).with_for_update())
    if dossier.status != PROCESSING or dossier.current_step_id != task.step_id:
        return "left"
    step = desk.session.get(ProcessStep, task.step_id)
    target = _return_target(desk, step, task, handover)
    # Being processed, whichever step it returns to (even the reception step: 4 → 2 is no transition
    # of DOMAIN.md §2.3); only the return step means the result is ready.
    to_status = RESULT_READY if target.kind == "return" else PROCESSING
    records.action(
        desk,
        SYSTEM,
        dossier,
        "interop_return",
        PROCESSING,
        to_status,
        role=step.role,
        to_division_id=target.division_id,
        step_due_at=handover.partner_due_at,
        on_time_class=handover.on_time_class,
        note=_join(f"Giao: {partner_name} → Nhận: {desk.tenant.name}", _outcome_text(handover)),
    )
    if target.kind == "interop":  # two partners in a row: hand straight on to the next one
        send(desk, SYSTEM, dossier, "forward", target)
        return "moved"
    if to_status == RESULT_READY:
        dossier.completed_at = desk.now
    dossier.status = to_status
    clock.enter_step(desk, dossier, target)
    return "moved"


def _return_target(desk: Desk, step: ProcessStep, task: InteropTask, handover: InteropHandover):
    if handover.outcome == REJECTED:
        back = desk.session.get(ProcessStep, (task.result or {}).get("from_step_id") or 0)
        if back is not None:
            return back
    following = next_steps(desk.session, step.id)
    if not following:
        raise LookupError(f"step {step.id} has no next step to continue after the hand-back")
    return following[0]


@dataclass(frozen=True)
class PanelRow:
    """One hand-over of the dossier, for the owner's dossier page."""

    task: InteropTask
    step_name: str
    partner_name: str
    marker: str | None


def interop_panel(session: Session, dossier_id: int, *, platform_session: Session | None = None):
    """The dossier's hand-overs to other units, newest first (for ``interop/_dossier_panel.html``)."""
    tasks = list(
        session.scalars(
            select(InteropTask)
            .where(InteropTask.dossier_id == dossier_id, InteropTask.direction == "outgoing")
            .order_by(InteropTask.sent_at.desc(), InteropTask.id.desc())
        )
    )
    if not tasks:
        return []
    desk = Desk(session, None)  # type: ignore[arg-type]  # only the unit's calendar and "now" are used
    return _panel_rows(desk, platform_session or platform_db(), tasks)


def _panel_rows(desk: Desk, platform_session: Session, tasks: list[InteropTask]) -> list[PanelRow]:
    names = _tenant_names(platform_session, {t.partner_tenant_id for t in tasks})
    step_ids = [t.step_id for t in tasks if t.step_id]
    found = desk.session.execute(select(ProcessStep.id, ProcessStep.name).where(ProcessStep.id.in_(step_ids)))
    steps = {row.id: row.name for row in found}
    limit_soon = soon_limit(desk)
    return [
        PanelRow(
            t,
            steps.get(t.step_id, ""),
            names.get(t.partner_tenant_id, ""),
            marker(t.due_at, desk.now, limit_soon) if t.status in OPEN_TASK else None,
        )
        for t in tasks
    ]


def _tenant_names(platform_session: Session, ids: set[int]) -> dict[int, str]:
    rows = platform_session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))
    return {row.id: row.name for row in rows}


# --- partner side -----------------------------------------------------------------------


def open_incoming(desk: Desk, handover: InteropHandover) -> InteropTask:
    """The partner's task for ``handover``, created once, due by this unit's own calendar.

    The clock starts at the hand-over (e-dossiers go at once, DOMAIN.md §2.3) and
    runs on the partner's working days and hours; a redelivery finds the task by
    (owner, dossier code, time sent) and creates nothing.
    """
    found = desk.session.scalar(
        select(InteropTask).where(
            InteropTask.direction == "incoming",
            InteropTask.owner_tenant_id == handover.owner_tenant_id,
            InteropTask.dossier_code == handover.dossier_code,
            InteropTask.sent_at == handover.sent_at,
        )
    )
    if found is not None:
        return found
    task = InteropTask(
        direction="incoming",
        dossier_code=handover.dossier_code,
        owner_tenant_id=handover.owner_tenant_id,
        partner_tenant_id=desk.tenant.id,
        subject=handover.subject,
        status="pending",
        sent_at=handover.sent_at,
        due_at=step_due(desk.calendar, handover.sent_at, Decimal(handover.budget_hours)),
        note=handover.request_note,
    )
    desk.session.add(task)
    desk.session.flush()
    return task


def get_incoming(
    desk: Desk, platform_session: Session, task_id: int, *, lock: bool = False
) -> tuple[InteropTask, InteropHandover]:
    """An incoming task of this unit and its hand-over; the same 404 for "no such" and "not yours".

    ``lock``: row-locked until commit, for ``take``, ``complete`` and ``reject``, so two
    officials acting at once are served one after the other and the second sees the first's work.
    """
    query = select(InteropTask).where(InteropTask.id == task_id, InteropTask.direction == "incoming")
    task = desk.session.scalar(query.with_for_update() if lock else query)
    handover = None
    if task is not None:
        handover = platform_session.scalar(
            select(InteropHandover).where(
                InteropHandover.partner_tenant_id == desk.tenant.id,
                InteropHandover.partner_task_id == task.id,
            )
        )
    if task is None or handover is None:
        raise NotFound(
            "Không tìm thấy nhiệm vụ liên thông ở đơn vị này.", "This unit has no such inter-unit task."
        )
    return task, handover


def check_role(actor: Actor, handover: InteropHandover) -> None:
    if handover.role not in actor.roles:
        vi, en = role_labels(handover.role)
        raise Forbidden(
            f"Nhiệm vụ liên thông này dành cho cán bộ có vai trò {vi} của đơn vị.",
            f"This inter-unit task is for officials of the unit with the role {en}.",
        )


def _check_open(task: InteropTask) -> None:
    if task.status not in OPEN_TASK:
        when = task.completed_at.strftime("%H:%M %d/%m/%Y") if task.completed_at else ""
        raise Conflict(
            f"Nhiệm vụ đã được trả lại cho đơn vị chủ trì lúc {when}; không thể thao tác nữa.",
            f"The task was already handed back to the owning unit at {when}; nothing more can be done.",
        )


def taken_by(task: InteropTask) -> int | None:
    return (task.result or {}).get("taken_by")


def _check_holder(actor: Actor, task: InteropTask) -> None:
    holder = taken_by(task)
    if holder is not None and holder != actor.account_id:
        raise Forbidden(
            f"Nhiệm vụ đang do cán bộ {task.result.get('taken_by_name') or ''} xử lý.",
            f"Another official ({task.result.get('taken_by_name') or ''}) has taken this task.",
        )


def take(desk: Desk, actor: Actor, task: InteropTask, handover: InteropHandover) -> None:
    """Take the task so colleagues see who works on it."""
    _check_open(task)
    check_role(actor, handover)
    _check_holder(actor, task)
    if taken_by(task) == actor.account_id:
        raise Conflict("Bạn đã nhận nhiệm vụ này.", "You have already taken this task.")
    _take(desk, actor, task)


def _take(desk: Desk, actor: Actor, task: InteropTask) -> None:
    task.status = "in_progress"
    task.result = {
        "taken_by": actor.account_id,
        "taken_by_name": actor.name,
        "taken_at": desk.now.isoformat(),
    }


def complete(desk: Desk, actor: Actor, task: InteropTask, handover: InteropHandover, *, note: str) -> str:
    """Done: hand the result back to the owning unit. Returns early / on_time / late."""
    return _hand_back(desk, actor, task, handover, DONE, note)


def reject(desk: Desk, actor: Actor, task: InteropTask, handover: InteropHandover, *, reason: str) -> str:
    """Refuse the sub-task with a reason: the owner gets the dossier back at the step it came from."""
    return _hand_back(desk, actor, task, handover, REJECTED, reason)


def _hand_back(desk: Desk, actor: Actor, task, handover, outcome: str, text: str | None) -> str:
    """``task`` comes locked (``get_incoming(lock=True)``): it is handed back once, one event."""
    _check_open(task)
    check_role(actor, handover)
    _check_holder(actor, task)
    text = texts.lines(text)
    vi, en = ("kết quả xử lý", "the result") if outcome == DONE else ("lý do trả lại", "the reason")
    if not text:
        raise InvalidInterop(
            f"Cần nhập {vi} để gửi lại đơn vị chủ trì.",
            f"Enter {en} to send back to the owning unit.",
            errors={"note": {"vi": f"cần nhập {vi}", "en": f"{en} is required"}},
        )
    texts.check_length(text, "note", vi, en)
    if taken_by(task) is None:  # handed back without taking it first: whoever did it held it
        _take(desk, actor, task)
    on_time = (
        classify(desk.now, task.due_at, desk.setting("classification_granularity")) if task.due_at else None
    )
    task.status = "done" if outcome == DONE else "returned"
    task.completed_at = desk.now
    task.result = {
        **(task.result or {}),
        "outcome": outcome,
        "note": text,
        "by": actor.account_id,
        "by_name": actor.name,
        "on_time_class": on_time,
    }
    emit_event(
        desk.session,
        RETURNED_TOPIC,
        {
            "handover_id": handover.id,
            "task_id": task.id,
            "outcome": outcome,
            "note": text,
            "on_time_class": on_time,
            "completed_at": desk.now.isoformat(),
            "by_name": actor.name,
        },
        tenant_id=desk.tenant.id,
    )
    return on_time


@dataclass(frozen=True)
class InboxRow:
    task: InteropTask
    handover: InteropHandover
    marker: str | None


def inbox(desk: Desk, actor: Actor, platform_session: Session, *, open_only: bool = True, limit: int = 50):
    """Incoming tasks for the roles ``actor`` holds here: open ones soonest due first, else latest first."""
    query = select(InteropHandover).where(
        InteropHandover.partner_tenant_id == desk.tenant.id,
        InteropHandover.partner_task_id.is_not(None),
        InteropHandover.role.in_(sorted(actor.roles)),
    )
    if open_only:
        query = query.where(InteropHandover.status == "received").order_by(
            InteropHandover.partner_due_at, InteropHandover.id
        )
    else:
        query = query.where(InteropHandover.status != "received").order_by(InteropHandover.returned_at.desc())
    handovers = list(platform_session.scalars(query.limit(limit)))
    ids = [h.partner_task_id for h in handovers]
    tasks = {
        t.id: t
        for t in desk.session.scalars(
            select(InteropTask).where(InteropTask.id.in_(ids), InteropTask.direction == "incoming")
        )
    }
    limit_soon = soon_limit(desk)
    return [
        InboxRow(tasks[h.partner_task_id], h, marker(tasks[h.partner_task_id].due_at, desk.now, limit_soon))
        for h in handovers
        if h.partner_task_id in tasks
    ]


def outgoing(desk: Desk, platform_session: Session, *, limit: int = 50) -> list[PanelRow]:
    """This unit's dossiers now at other units, soonest due first."""
    tasks = list(
        desk.session.scalars(
            select(InteropTask)
            .where(InteropTask.direction == "outgoing", InteropTask.status.in_(OPEN_TASK))
            .order_by(InteropTask.due_at, InteropTask.id)
            .limit(limit)
        )
    )
    return _panel_rows(desk, platform_session, tasks) if tasks else []


def tenant_name(platform_session: Session, tenant_id: int) -> str:
    return _tenant_names(platform_session, {tenant_id}).get(tenant_id, "")
