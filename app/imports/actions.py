"""An import run from start to end: store the file, validate every row, report errors, import in batches.

Validate first: when a row is wrong nothing is imported (status ``invalid``) and the
XLSX error report says which row, which column and why, unless the run was asked to
skip invalid rows (``--skip-invalid`` / "import valid rows anyway"): then the valid rows
are imported and the report is still kept. The CLI and the RQ job both call ``process``.
Each step commits the run's row so its progress is visible from another session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.core.storage import get_storage, storage_key, unique_name
from app.imports import error_report, reader, validate, writer
from app.imports.models import HistoryImport
from app.officials.settings import get_setting

XLSX_TYPE = reader.XLSX_TYPE


def create_run(
    session: Session,
    tenant_slug: str,
    file: reader.ImportFile,
    *,
    account_id: int | None,
    skip_invalid: bool = False,
) -> HistoryImport:
    """Keep the file and record the run (status ``validating``); flushed, not committed."""
    key = storage_key(tenant_slug, "imports", unique_name(file.filename))
    content_type = XLSX_TYPE if file.kind == "xlsx" else "text/csv"
    get_storage().put(key, file.data, content_type)
    run = HistoryImport(
        filename=file.filename,
        storage_key=key,
        status="validating",
        skip_invalid=skip_invalid,
        created_by_account_id=account_id,
    )
    session.add(run)
    session.flush()
    return run


def _kind(filename: str) -> str:
    return "xlsx" if filename.lower().endswith(".xlsx") else "csv"


def _finish(session: Session, run: HistoryImport, status: str, error: str | None = None) -> None:
    run.status = status
    run.error = error
    run.finished_at = datetime.now(UTC)
    session.commit()


def process(
    session: Session,
    tenant,
    run: HistoryImport,
    *,
    batch_size: int = writer.DEFAULT_BATCH,
    on_validated: Callable[[validate.Validation], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> validate.Validation | None:
    """Validate then import ``run``'s stored file into ``tenant`` (a TenantRef). Returns the validation,
    or None when the file itself is unreadable (the run is then ``failed`` with the reason)."""
    run_id = run.id
    try:
        result = _validate(session, tenant, run)
    except reader.HeaderProblem as exc:
        _finish(session, run, "failed", f"{exc.vi} / {exc.en}")
        return None
    if on_validated is not None:
        on_validated(result)
    if result.errors and not run.skip_invalid:
        _finish(session, run, "invalid")
        return result
    run.status = "importing"
    session.commit()
    try:
        writer.write_all(
            session,
            run,
            result.rows,
            tenant_id=tenant.id,
            granularity=get_setting(session, "classification_granularity"),
            batch_size=batch_size,
            progress=progress,
        )
    except Exception as exc:
        session.rollback()
        _finish(session, session.get(HistoryImport, run_id), "failed", str(exc)[:2000])
        raise
    _finish(session, run, "done")
    return result


def _validate(session: Session, tenant, run: HistoryImport) -> validate.Validation:
    """Read and check every row; keep the error report; commit the counts."""
    run.status, run.imported, run.unchanged, run.done_rows = "validating", 0, 0, 0
    data = get_storage().get(run.storage_key)
    file = reader.ImportFile(run.filename, _kind(run.filename), data)
    result = validate.validate(session, reader.rows(file))
    run.total_rows, run.invalid_rows = result.total, result.invalid_rows
    if result.errors:
        key = storage_key(tenant.slug, "imports", f"{run.id}-loi-errors.xlsx")
        get_storage().put(key, error_report.build(result.errors, filename=run.filename), XLSX_TYPE)
        run.error_report_key = key
    else:
        run.error_report_key = None
    session.commit()
    return result
