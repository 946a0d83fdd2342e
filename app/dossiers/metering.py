"""Usage events of a unit's dossiers (issue #6), written in the transaction of the action itself.

Three places call this module, so every path that receives, submits, finishes or files
something is metered by construction: ``records.action`` (every transition or hand-over
row), ``records.issue_form`` (every form) and the two writers of ``dossier_files``
(``files.attach``, ``online._move_files``). Each event's ``occurred_at`` is the action's
``desk.now``, the very value written into the source row an independent recount counts
(docs/metering.md, "Usage events").

The events of a transaction are written by ONE insert just before it commits (the
session's ``before_commit``, which also runs when a savepoint is released), so metering
adds one round trip to an action, not one per event. They belong to the transaction: a
rolled-back transaction, or savepoint, takes its pending events with it, and the unique key
(tenant, source, event id) makes a retried action count once. A savepoint's release writes
the events recorded outside it too; if a savepoint around it is rolled back later, the rows
of events recorded outside that one go back to waiting for the commit (never counted zero
times), those recorded inside it are dropped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.calendar.workcal import VN_TZ
from app.core.usage import insert_usage_rows, usage_row
from app.dossiers.desk import Actor, Desk
from app.dossiers.models import Dossier, DossierAction, DossierFile, FormDocument
from app.dossiers.status import DRAFT, RECEIVED, RESULT_READY, SUBMITTED

COUNTER, ONLINE, POSTAL = 1, 2, 3
CHANNELS = {COUNTER: "counter", ONLINE: "online", POSTAL: "postal"}
APPLICANT_ROLE = "applicant"
PENDING = "usage_pending"  # session.info: [(transaction the event was recorded in, row), ...]
# session.info: [(transaction recorded in, transaction written in, row), ...] until the whole commits
WRITTEN = "usage_written"
_hooks: list[bool] = []  # the session hooks are installed once, on first use


def local_day(at: datetime) -> str:
    """The Asia/Ho_Chi_Minh calendar day of ``at`` (the day every usage rule counts by)."""
    return at.astimezone(VN_TZ).date().isoformat()


def _record(desk: Desk, **fields) -> None:
    """Keep the event with the session's current (innermost) transaction until it commits."""
    row = usage_row(tenant_id=desk.tenant.id, **fields)
    session = desk.session
    if not _hooks:
        _install_hooks()
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:
        session.connection()  # begins the transaction the event belongs to
        transaction = session.get_transaction()
    session.info.setdefault(PENDING, []).append((transaction, row))


def pending_events(session: Session) -> list[dict]:
    """The events recorded in ``session`` and not written yet (they are, when it commits)."""
    return [row for _, row in session.info.get(PENDING, ())]


def _write_pending(session: Session) -> None:
    pending = session.info.get(PENDING)
    if pending:
        rows = [row for _, row in pending]
        # Written inside the transaction being committed (the innermost: a savepoint being released).
        written_in = session.get_nested_transaction() or session.get_transaction()
        insert_usage_rows(session, rows)
        session.info.setdefault(WRITTEN, []).extend((t, written_in, row) for t, row in pending)
        pending.clear()


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """The rolled-back (savepoint's) own events are gone; rows it undid of events recorded outside
    it, written by a savepoint released inside it, wait again for the commit."""
    pending = session.info.get(PENDING)
    if pending:
        pending[:] = [(t, row) for t, row in pending if not _within(t, previous_transaction)]
    written = session.info.get(WRITTEN)
    if written:
        undone = [(t, row) for t, w, row in written if _within(w, previous_transaction)]
        written[:] = [entry for entry in written if not _within(entry[1], previous_transaction)]
        again = [(t, row) for t, row in undone if not _within(t, previous_transaction)]
        if again:
            session.info.setdefault(PENDING, []).extend(again)


def _forget_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction is over (committed, rolled back or closed)
        session.info.pop(PENDING, None)
        session.info.pop(WRITTEN, None)


def _install_hooks() -> None:
    event.listen(Session, "before_commit", _write_pending)
    event.listen(Session, "after_soft_rollback", _drop_rolled_back)
    event.listen(Session, "after_transaction_end", _forget_ended)
    _hooks.append(True)


def action_recorded(desk: Desk, actor: Actor, dossier: Dossier, row: DossierAction) -> None:
    """Meter one action row: received, submitted online, finished, and the official at work today."""
    at, before, after = row.at, row.from_status, row.to_status
    if after == RECEIVED and before != RECEIVED:
        _record(
            desk,
            source="dossier.received",
            event_id=dossier.code,
            metric="dossiers_received",
            dimension=CHANNELS.get(dossier.channel, str(dossier.channel)),
            occurred_at=at,
        )
    if before == DRAFT and after == SUBMITTED and dossier.channel == ONLINE:
        citizen = str(dossier.citizen_account_id) if dossier.citizen_account_id is not None else None
        _record(
            desk,
            source="dossier.online",
            event_id=dossier.code,
            metric="online_submissions",
            subject=citizen,
            occurred_at=at,
        )
        if citizen is not None:
            _record(
                desk,
                source="citizen.active",
                event_id=f"{citizen}:{local_day(at)}",
                metric="active_citizens",
                subject=citizen,
                occurred_at=at,
            )
    if after == RESULT_READY and before != RESULT_READY:
        _record(
            desk,
            source="dossier.finished",
            event_id=dossier.code,
            metric="dossiers_finished",
            occurred_at=at,
        )
    if not actor.is_applicant and row.actor_account_id is not None and row.role != APPLICANT_ROLE:
        official = str(row.actor_account_id)
        _record(
            desk,
            source="official.active",
            event_id=f"{official}:{local_day(at)}",
            metric="active_officials",
            subject=official,
            occurred_at=at,
        )


def form_issued(desk: Desk, form: FormDocument) -> None:
    """One generated document per form row; its id is the table's own unique key."""
    _record(
        desk,
        source="document.generated",
        event_id=f"{form.form_set}:{form.form_no}:{form.number}",
        metric="documents_generated",
        dimension=form.form_no,
        occurred_at=form.issued_at,
    )


def file_stored(desk: Desk, row: DossierFile) -> None:
    """The bytes of a file that became part of a dossier (``row`` flushed: its id is the event id)."""
    _record(
        desk,
        source="attachment.stored",
        event_id=str(row.id),
        metric="attachment_bytes",
        dimension=row.kind,
        quantity=row.size_bytes,
        occurred_at=desk.now,
    )
