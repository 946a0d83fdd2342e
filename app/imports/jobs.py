"""The RQ job behind the upload page: validate, then import, updating the run's progress row."""

from __future__ import annotations

import logging

from sqlalchemy import event

from app.core.db import get_current_tenant, tenant_db
from app.core.jobs import enqueue_for_tenant
from app.imports import actions
from app.imports.models import HistoryImport

log = logging.getLogger("motcua.imports")
QUEUE = "low"
TIMEOUT = 3600  # 100,000 rows take about two minutes; a big file with slow disks gets room


def run_import(run_id: int) -> str | None:
    """Process run ``run_id`` of the bound tenant; returns its final status."""
    session = tenant_db()
    run = session.get(HistoryImport, run_id)
    if run is None or run.status not in ("validating", "ready"):
        log.warning("history import %s not waiting (status %s)", run_id, run.status if run else None)
        return None
    actions.process(session, get_current_tenant(), run)
    return run.status


def enqueue_after_commit(session, tenant_id: int, run_id: int) -> None:
    """Start the job once the run's row is committed (a worker must be able to read it)."""

    def _enqueue(_session) -> None:
        try:
            enqueue_for_tenant(QUEUE, run_import, tenant_id, run_id, job_options={"timeout": TIMEOUT})
        except Exception:  # Redis down: the run page offers to start it again
            log.exception("history import %s not enqueued", run_id)

    event.listen(session, "after_commit", _enqueue, once=True)
