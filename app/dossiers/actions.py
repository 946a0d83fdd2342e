"""Transitions of a dossier that exists: one function per action of DOMAIN.md §2.3.

Each function checks, in order: the status allows the action (409 naming what is
allowed now), the actor may take it (403), the input (422); only then does it
write. The caller's transaction commits the dossier, its action row, any form and
the outbox event together, or none of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.auth.access import Forbidden
from app.core.errors import Conflict, DomainError, NotFound
from app.dossiers import clock, interop, records, texts
from app.dossiers.desk import Actor, Desk, check_actor, check_assignee
from app.dossiers.models import Dossier
from app.dossiers.status import (
    FINANCIAL,
    OPEN,
    PROCESSING,
    REASSIGNERS,
    REFUSED,
    RESULT_READY,
    RETURNED,
    STOPPED,
    SUBMITTED,
    SUPPLEMENT,
    WITHDRAWN,
    check_transition,
)
from app.processes.models import ProcessStep
from app.processes.services import next_steps

STOP_REASONS = ("refused", "suspended", "supplement_expired")


class StaleDossier(Conflict):
    """Someone else changed the dossier since this person loaded it."""


class InvalidAction(DomainError):
    status = 422


def load(desk: Desk, dossier_id: int, expected_version: int | None = None) -> Dossier:
    """The dossier, row-locked for this transaction; 409 if it changed since ``expected_version``."""
    dossier = desk.session.scalar(select(Dossier).where(Dossier.id == dossier_id).with_for_update())
    if dossier is None:
        raise NotFound("Không tìm thấy hồ sơ ở đơn vị này.", "This unit has no such dossier.")
    if expected_version is not None and dossier.row_version != expected_version:
        raise StaleDossier(
            "Hồ sơ vừa được người khác cập nhật. Vui lòng tải lại để xem thay đổi rồi thao tác lại.",
            "Someone else has just updated this dossier. Reload to see the change, then try again.",
            errors={"row_version": dossier.row_version},
        )
    return dossier


def _step(desk: Desk, dossier: Dossier) -> ProcessStep | None:
    return desk.session.get(ProcessStep, dossier.current_step_id) if dossier.current_step_id else None


def _begin(desk: Desk, actor: Actor, dossier: Dossier, action: str):
    transition = check_transition(action, dossier.status)
    step = _step(desk, dossier)
    interop.check_at_home(step, action)  # at a liên thông step the partner unit holds the dossier
    check_actor(desk.session, actor, transition, step, dossier.current_account_id, dossier.citizen_account_id)
    return transition, step


def _text(value: str | None, name: str, vi: str, en: str) -> str:
    """A required reason: cleaned, at most ``texts.MAX_TEXT`` characters (422 naming the field)."""
    value = texts.lines(value)
    if not value:
        raise InvalidAction(f"Cần nhập {vi}.", f"{en} is required.", errors={name: {"vi": vi, "en": en}})
    return texts.check_length(value, name, vi, en)


def _items(items: list[str] | None, name: str, vi: str, en: str) -> list[str]:
    """A required list, one item per line: each cleaned and at most ``texts.MAX_TEXT`` characters."""
    cleaned = [text for text in (texts.one_line(item) for item in items or []) if text]
    if not cleaned:
        raise InvalidAction(f"Cần liệt kê {vi}.", f"List the {en}.", errors={name: {"vi": vi, "en": en}})
    for item in cleaned:
        texts.check_length(item, name, f"một dòng của {vi}", f"a line of the {en}")
    return cleaned


def _next_step(desk: Desk, step: ProcessStep, condition: str = "default") -> ProcessStep:
    following = next_steps(desk.session, step.id, condition)
    if not following:
        raise Conflict(
            f"Bước “{step.name}” không có bước tiếp theo trong quy trình.",
            f"Step “{step.name}” has no next step in the process.",
        )
    return following[0]


def _hand_over(
    desk: Desk,
    actor: Actor,
    dossier: Dossier,
    action: str,
    to_status: int,
    target: ProcessStep,
    to_account_id: int | None,
    note: str | None,
) -> None:
    """Finish the current step (form 05 row with its on-time result) and enter ``target``."""
    note = texts.note(note)  # checked here too: a liên thông hand-over also sends it to the partner
    if target.kind == "interop":  # liên thông: the step goes to the partner unit (app.dossiers.interop)
        interop.send(desk, actor, dossier, action, target, to_account_id=to_account_id, note=note)
        return
    if to_account_id is not None:
        check_assignee(desk, target, to_account_id)
    from_status = dossier.status
    records.action(
        desk,
        actor,
        dossier,
        action,
        from_status,
        to_status,
        to_account_id=to_account_id,
        to_division_id=target.division_id,
        step_due_at=dossier.current_step_due_at,
        on_time_class=clock.step_result(desk, dossier),
        note=note,
    )
    dossier.status = to_status
    clock.enter_step(desk, dossier, target, to_account_id)


def guide(desk: Desk, actor: Actor, dossier: Dossier, *, items: list[str], reason=None) -> None:
    """Status 1 stays 1: form 02 lists, once and completely, what the applicant must add before acceptance."""
    _begin(desk, actor, dossier, "guide")
    items = _items(items, "items", "các giấy tờ cần bổ sung", "documents to supplement")
    reason = texts.note(reason, "reason")
    records.action(
        desk, actor, dossier, "guide", SUBMITTED, SUBMITTED, note=texts.summary(items), role="counter_officer"
    )
    records.issue_form(desk, actor, dossier, "02", items=items, reason=reason)


def refuse(desk: Desk, actor: Actor, dossier: Dossier, *, reasons: list[str]) -> None:
    """1 → 3 with form 03: out of scope or not eligible."""
    _begin(desk, actor, dossier, "refuse")
    reasons = _items(reasons, "reasons", "lý do từ chối", "reasons for refusal")
    records.action(
        desk,
        actor,
        dossier,
        "refuse",
        SUBMITTED,
        REFUSED,
        note=texts.summary(reasons),
        role="counter_officer",
    )
    dossier.status = REFUSED
    records.issue_form(desk, actor, dossier, "03", reasons=reasons)


def transfer(
    desk: Desk, actor: Actor, dossier: Dossier, *, to_account_id: int | None = None, note=None
) -> None:
    """2 → 4: from the counter to the first processing step (to a named official, or to the role's pool)."""
    _, step = _begin(desk, actor, dossier, "transfer")
    _hand_over(desk, actor, dossier, "transfer", PROCESSING, _next_step(desk, step), to_account_id, note)


def forward(
    desk: Desk,
    actor: Actor,
    dossier: Dossier,
    *,
    to_account_id: int | None = None,
    note=None,
    condition="default",
) -> None:
    """4 → 4: hand over to the next step (specialist → head → signer …)."""
    _, step = _begin(desk, actor, dossier, "forward")
    target = _next_step(desk, step, condition)
    if target.kind in ("return", "end"):
        raise Conflict(
            "Bước tiếp theo là trả kết quả: dùng thao tác “Hoàn thành, có kết quả”.",
            "The next step returns the result: use “Result ready”.",
        )
    _hand_over(desk, actor, dossier, "forward", PROCESSING, target, to_account_id, note)


def claim(desk: Desk, actor: Actor, dossier: Dossier) -> None:
    """Take a dossier waiting in the role's pool, so colleagues see who holds it."""
    step = _step(desk, dossier)
    if dossier.current_account_id is not None or step is None:
        raise Conflict("Hồ sơ đã có người xử lý.", "Someone already holds this dossier.")
    _begin(desk, actor, dossier, "forward" if dossier.status == PROCESSING else "transfer")
    dossier.current_account_id = actor.account_id
    records.action(
        desk, actor, dossier, "claim", dossier.status, dossier.status, to_account_id=actor.account_id
    )


def reassign(
    desk: Desk, actor: Actor, dossier: Dossier, *, to_account_id: int | None = None, note=None
) -> None:
    """Give the current step to another official who may take it, or back to the role's pool.

    The holder may hand it back; a head of division or of the unit may move it either way.
    """
    step = _step(desk, dossier)
    if dossier.status not in OPEN or step is None:
        raise Conflict("Hồ sơ không ở bước xử lý nào để giao lại.", "The dossier is at no step to reassign.")
    interop.check_at_home(step, "reassign")
    holder = actor.account_id is not None and actor.account_id == dossier.current_account_id
    if not (actor.roles & REASSIGNERS) and not (holder and to_account_id is None):
        raise Forbidden(
            "Chỉ lãnh đạo phòng, lãnh đạo đơn vị (hoặc người đang giữ hồ sơ, để trả về nhóm) được giao lại.",
            "Only a head of division or of the unit may reassign (the holder may put it back in the pool).",
        )
    if to_account_id is not None:
        check_assignee(desk, step, to_account_id)
    dossier.current_account_id = to_account_id
    records.action(
        desk,
        actor,
        dossier,
        "reassign",
        dossier.status,
        dossier.status,
        to_account_id=to_account_id,
        note=note,
    )


def request_supplement(desk: Desk, actor: Actor, dossier: Dossier, *, items: list[str], reason=None) -> None:
    """4 → 5 with form 02: the clock pauses; time already spent still counts."""
    _begin(desk, actor, dossier, "request_supplement")
    items = _items(items, "items", "các giấy tờ cần bổ sung", "documents to supplement")
    reason = texts.note(reason, "reason")
    days = int(desk.setting("supplement_deadline_days"))
    deadline = desk.now + timedelta(days=days)
    summary = texts.summary(items)
    records.action(desk, actor, dossier, "request_supplement", PROCESSING, SUPPLEMENT, note=summary)
    dossier.status = SUPPLEMENT
    form = records.issue_form(desk, actor, dossier, "02", items=items, reason=reason, deadline_at=deadline)
    desk.session.flush()  # the pause points at the form
    clock.pause(desk, dossier, "supplement", reason or summary, deadline).form_document_id = form.id


def receive_supplement(desk: Desk, actor: Actor, dossier: Dossier, *, note=None) -> int:
    """5 → 4: the clock resumes; every deadline moves by the working time paused. Returns those minutes."""
    _begin(desk, actor, dossier, "receive_supplement")
    minutes = clock.resume(desk, dossier)
    records.action(desk, actor, dossier, "receive_supplement", SUPPLEMENT, PROCESSING, note=note)
    dossier.status = PROCESSING
    return minutes


def request_payment(desk: Desk, actor: Actor, dossier: Dossier, *, reason: str) -> None:
    """4 → 6: waiting for the applicant's taxes or fees; the clock pauses."""
    _begin(desk, actor, dossier, "request_payment")
    reason = _text(reason, "reason", "nội dung nghĩa vụ tài chính", "What must be paid")
    records.action(desk, actor, dossier, "request_payment", PROCESSING, FINANCIAL, note=reason)
    dossier.status = FINANCIAL
    clock.pause(desk, dossier, "financial", reason, None)


def confirm_payment(desk: Desk, actor: Actor, dossier: Dossier, *, note=None) -> int:
    """6 → 4: paid; the clock resumes."""
    _begin(desk, actor, dossier, "confirm_payment")
    minutes = clock.resume(desk, dossier)
    records.action(desk, actor, dossier, "confirm_payment", FINANCIAL, PROCESSING, note=note)
    dossier.status = PROCESSING
    return minutes


def apologise(desk: Desk, actor: Actor, dossier: Dossier, *, new_due_at: datetime, reason: str) -> None:
    """Form 04: once per dossier, a working day or more before the due date, to a later date.

    A paused dossier's due date counts the pause so far. Lateness still counts against the legal date.
    """
    _begin(desk, actor, dossier, "apologise")
    reason = _text(reason, "reason", "lý do chậm trễ", "The reason for the delay")
    if dossier.rescheduled_due_at is not None:
        raise Conflict(
            "Hồ sơ đã được hẹn lại một lần; quy định chỉ cho phép hẹn lại một lần.",
            "This dossier was already given a new date once; only one re-appointment is allowed.",
        )
    due = clock.effective_due(desk, dossier)
    # DOMAIN.md: form 04 goes out at least one working day before the due date.
    one_day = int(desk.calendar.hours.hours_per_day * 60)
    if desk.calendar.working_minutes_between(desk.now, due) < one_day:
        when = due.astimezone(desk.now.tzinfo).strftime("%H:%M %d/%m/%Y")
        raise Conflict(
            f"Phiếu xin lỗi và hẹn lại phải gửi trước ngày hẹn ít nhất 1 ngày làm việc; hạn trả kết quả là "
            f"{when}, nay đã quá hoặc còn chưa đủ 1 ngày làm việc.",
            f"The apology must be sent at least one working day before the due date; the result is due "
            f"{when}, which has passed or is less than one working day away.",
        )
    if new_due_at <= due:
        raise InvalidAction(
            "Ngày hẹn mới phải sau ngày hẹn hiện tại.",
            "The new date must be after the current appointment.",
            errors={
                "new_due_at": {"vi": "phải sau ngày hẹn hiện tại", "en": "must be after the current date"}
            },
        )
    if not desk.calendar.is_working_day(new_due_at.astimezone(desk.now.tzinfo).date()):
        raise InvalidAction(
            "Ngày hẹn mới phải là ngày làm việc.",
            "The new date must be a working day.",
            errors={"new_due_at": {"vi": "không phải ngày làm việc", "en": "not a working day"}},
        )
    records.action(
        desk, actor, dossier, "apologise", dossier.status, dossier.status, note=reason, role="head_of_unit"
    )
    records.issue_form(desk, actor, dossier, "04", reason=reason, new_due_at=new_due_at)
    clock.reschedule(desk, dossier, new_due_at, reason)


def stop(desk: Desk, actor: Actor, dossier: Dossier, *, reason: str, kind: str = "refused") -> None:
    """4/5 → 8: not eligible after appraisal, suspended, or the supplement never came."""
    transition, _ = _begin(desk, actor, dossier, "stop")
    reason = _text(reason, "reason", "lý do dừng xử lý", "The reason for stopping")
    if kind not in STOP_REASONS:
        raise InvalidAction("Loại dừng xử lý không hợp lệ.", "Unknown kind of stop.", errors={"kind": {}})
    if kind == "supplement_expired":
        _check_supplement_expired(desk, dossier)
    _close_pause(desk, dossier)
    records.action(
        desk, actor, dossier, "stop", dossier.status, STOPPED, note=reason, role=_role(actor, transition)
    )
    dossier.status, dossier.stop_reason = STOPPED, kind
    _leave_queue(dossier)


def _check_supplement_expired(desk: Desk, dossier: Dossier) -> None:
    """409 unless the dossier waits for a supplement whose deadline (form 02) has passed."""
    if dossier.status != SUPPLEMENT:
        raise Conflict(
            "Chỉ dừng vì quá hạn bổ sung khi hồ sơ đang chờ bổ sung giấy tờ (đã gửi mẫu 02).",
            "Stopping for a missed supplement needs a dossier waiting for one (form 02 sent).",
            errors={"kind": {"vi": "hồ sơ không chờ bổ sung", "en": "no supplement requested"}},
        )
    pause = clock.open_pause(desk, dossier)
    deadline = pause.deadline_at if pause is not None else None
    if deadline is None or desk.now < deadline:
        when = deadline.astimezone(desk.now.tzinfo).strftime("%H:%M %d/%m/%Y") if deadline else "—"
        raise Conflict(
            f"Hạn bổ sung hồ sơ chưa hết (đến {when}): chưa thể dừng vì quá hạn bổ sung.",
            f"The supplement deadline has not passed yet (it is {when}): the dossier cannot be stopped "
            "for a missed supplement.",
            errors={"kind": {"vi": f"hạn bổ sung đến {when}", "en": f"supplement due {when}"}},
        )


def withdraw(desk: Desk, actor: Actor, dossier: Dossier, *, reason: str | None = None) -> None:
    """1/2/4/5 → 7 at the applicant's request; the trail stays."""
    transition, _ = _begin(desk, actor, dossier, "withdraw")
    _close_pause(desk, dossier)
    role = "applicant" if actor.is_applicant else _role(actor, transition)
    records.action(desk, actor, dossier, "withdraw", dossier.status, WITHDRAWN, note=reason, role=role)
    dossier.status = WITHDRAWN
    _leave_queue(dossier)


def complete(desk: Desk, actor: Actor, dossier: Dossier, *, note=None) -> str:
    """4 → 9: the result is signed; the legal clock stops here. Returns early / on_time / late."""
    _, step = _begin(desk, actor, dossier, "complete")
    target = _next_step(desk, step)
    if target.kind != "return":
        raise Conflict(
            f"Chưa đến bước ký duyệt cuối: hồ sơ còn phải qua bước “{target.name}”.",
            f"Not at the last step yet: the dossier still goes to “{target.name}”.",
        )
    result = clock.outcome(desk, dossier)
    dossier.completed_at = desk.now
    _hand_over(desk, actor, dossier, "complete", RESULT_READY, target, None, note)
    return result


def return_result(desk: Desk, actor: Actor, dossier: Dossier, *, note=None) -> None:
    """9 → 10: handed over, posted or downloaded."""
    _begin(desk, actor, dossier, "return_result")
    records.action(
        desk,
        actor,
        dossier,
        "return_result",
        RESULT_READY,
        RETURNED,
        step_due_at=dossier.current_step_due_at,
        on_time_class=clock.step_result(desk, dossier),
        note=note,
    )
    dossier.status = RETURNED
    dossier.returned_at = desk.now
    _leave_queue(dossier)


def _role(actor: Actor, transition) -> str | None:
    held = sorted(actor.roles & transition.actors)
    return held[0] if held else None


def _close_pause(desk: Desk, dossier: Dossier) -> None:
    row = clock.open_pause(desk, dossier)
    if row is not None:
        row.ended_at = desk.now


def _leave_queue(dossier: Dossier) -> None:
    dossier.current_account_id = None
    dossier.current_role = None
    dossier.current_step_due_at = None
