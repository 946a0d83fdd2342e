"""Writing valid rows: dossiers, their action history and pauses, a batch per transaction.

Rows go in as multi-row INSERTs through the tenant session's connection, never one ORM
object per row (100,000 rows in well under two minutes). ``ON CONFLICT (code) DO NOTHING
RETURNING id, code`` makes the import idempotent: a code already in the unit is skipped
and counted as unchanged, and only the dossiers actually inserted get history rows.

Imported dossiers look like native ones to the reports: the action rows carry the status
history (received, steps, pauses, result, return, withdrawal, stop) and the pause rows the
clock's intervals, and each batch emits one ``dossiers.imported`` outbox event in its own
transaction so the reporting feed derives their facts. Nothing goes through the desk
(app.dossiers.records), so nothing is metered as new usage (issue #6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from app.calendar.deadlines import classify
from app.core.outbox import emit_event
from app.dossiers.models import Dossier, DossierAction, DossierPause
from app.imports.models import HistoryImport
from app.imports.validate import ImportRow
from tenants.naming import strip_diacritics

TOPIC = "dossiers.imported"
DEFAULT_BATCH = 1000
NOTE = "Nhập từ hệ thống cũ / imported from the previous system"
_RESULT_DELIVERY = {1: "counter", 2: "online", 3: "postal"}
# Order of events at the same instant: received first, the end of the dossier last.
_RECEIVE, _STEP, _PAUSE, _COMPLETE, _RETURN, _CLOSE = range(6)


def _search_text(row: ImportRow) -> str:
    parts = (row.code, row.applicant_name, row.applicant_phone, row.applicant_id_number)
    return strip_diacritics(" ".join(p for p in parts if p)).lower()


def dossier_values(row: ImportRow, import_id: int) -> dict:
    return {
        "code": row.code,
        "procedure_id": row.procedure_id,
        "applicant_type": "citizen",
        "applicant_name": row.applicant_name,
        "applicant_id_number": row.applicant_id_number,
        "applicant_phone": row.applicant_phone,
        "applicant_address": row.applicant_address,
        "search_text": _search_text(row),
        "channel": row.channel,
        "result_delivery": _RESULT_DELIVERY[row.channel],
        "service_level": row.service_level,
        "status": row.status,
        "stop_reason": "refused" if row.status == 8 else None,
        "submitted_at": row.received_at,
        "received_at": row.received_at,
        "due_at": row.due_at,
        "due_at_original": row.due_at,
        "completed_at": row.completed_at,
        "returned_at": row.returned_at,
        "history_import_id": import_id,
    }


def _timeline(row: ImportRow) -> list[tuple[datetime, int, str, object]]:
    events: list[tuple[datetime, int, str, object]] = [(row.received_at, _RECEIVE, "receive", None)]
    events += [(done, _STEP, "step", (name, due)) for name, done, due in row.steps]
    for kind, start, end in row.pauses:
        events.append((start, _PAUSE, "pause", kind))
        if end is not None:
            events.append((end, _PAUSE, "resume", kind))
    if row.completed_at is not None:
        events.append((row.completed_at, _COMPLETE, "complete", None))
    if row.returned_at is not None:
        events.append((row.returned_at, _RETURN, "return_result", None))
    if row.withdrawn_at is not None:
        events.append((row.withdrawn_at, _CLOSE, "withdraw", None))
    if row.stopped_at is not None:
        events.append((row.stopped_at, _CLOSE, "stop", None))
    return sorted(events, key=lambda e: (e[0], e[1]))


_PAUSE_ACTIONS = {
    "supplement": ("request_supplement", "receive_supplement", 5),
    "financial": ("request_payment", "confirm_payment", 6),
}


def action_values(row: ImportRow, dossier_id: int, granularity: str) -> list[dict]:
    """The status history as the desk would have written it (form 05 rows; steps with their class)."""
    actions, status = [], None
    for at, _order, what, extra in _timeline(row):
        step_due, on_time, note = None, None, None
        if what == "receive":
            name, target, note = "receive", 2, NOTE
        elif what == "step":
            note, step_due = extra
            name = "transfer" if status == 2 else "forward"
            target = 4 if status in (2, 4) else status
            on_time = classify(at, step_due, granularity) if step_due is not None else None
        elif what in ("pause", "resume"):
            start_name, end_name, paused = _PAUSE_ACTIONS[extra]
            name, target = (start_name, paused) if what == "pause" else (end_name, 4)
        else:
            name, target = what, {"complete": 9, "return_result": 10, "withdraw": 7, "stop": 8}[what]
        actions.append(
            {
                "dossier_id": dossier_id,
                "action": name,
                "from_status": status,
                "to_status": target,
                "at": at,
                "step_due_at": step_due,
                "on_time_class": on_time,
                "note": note,
            }
        )
        status = target
    return actions


def pause_values(row: ImportRow, dossier_id: int) -> list[dict]:
    return [
        {"dossier_id": dossier_id, "kind": kind, "started_at": start, "ended_at": end, "reason": NOTE}
        for kind, start, end in row.pauses
    ]


def _unnest_insert(table, rows: list[dict]):
    """``INSERT INTO t (cols) SELECT unnest(:a), unnest(:b) ...``: a whole batch is one statement with one
    array parameter per column, whatever its size (no per-row statements, no parameter limit)."""
    columns = [table.c[name] for name in rows[0]]
    arrays = [
        func.unnest(bindparam(f"a_{c.name}", [r[c.name] for r in rows], type_=ARRAY(c.type))) for c in columns
    ]
    return insert(table).from_select(columns, select(*arrays))


def write_batch(
    session: Session, rows: Sequence[ImportRow], *, import_id: int, tenant_id: int, granularity: str
) -> tuple[list[int], int]:
    """Insert one batch (no commit); returns (ids of the dossiers inserted, rows already there)."""
    table = Dossier.__table__
    statement = (
        _unnest_insert(table, [dossier_values(r, import_id) for r in rows])
        .on_conflict_do_nothing(index_elements=[table.c.code])
        .returning(table.c.id, table.c.code)
    )
    inserted = {code: dossier_id for dossier_id, code in session.execute(statement)}
    new_rows = [r for r in rows if r.code in inserted]
    actions = [a for r in new_rows for a in action_values(r, inserted[r.code], granularity)]
    pauses = [p for r in new_rows for p in pause_values(r, inserted[r.code])]
    for model, values in ((DossierAction, actions), (DossierPause, pauses)):
        if values:
            session.execute(_unnest_insert(model.__table__, values))
    ids = sorted(inserted.values())
    if ids:
        emit_event(session, TOPIC, {"dossier_ids": ids}, tenant_id=tenant_id)
    return ids, len(rows) - len(new_rows)


def write_all(
    session: Session,
    run: HistoryImport,
    rows: Sequence[ImportRow],
    *,
    tenant_id: int,
    granularity: str,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Each batch in its own transaction with the run's counters (a crash keeps what is done)."""
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        ids, unchanged = write_batch(
            session, batch, import_id=run.id, tenant_id=tenant_id, granularity=granularity
        )
        run.imported += len(ids)
        run.unchanged += unchanged
        run.done_rows += len(batch)
        session.commit()
        if progress is not None:
            progress(len(batch))
