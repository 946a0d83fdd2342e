"""``flask dossiers import FILE --tenant SLUG [--skip-invalid] [--batch-size N] [--report PATH]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.errors import DomainError
from app.core.storage import get_storage
from app.imports import actions, reader, writer
from tenants.registry import TenantError, get_tenant
from tenants.resolution import TenantRef

dossiers_cli = AppGroup("dossiers", help="Hồ sơ / dossiers.")
CLI_MAX_BYTES = 2 * 1024 * 1024 * 1024  # the web form has its own, smaller limit


def _fail(vi: str, en: str) -> None:
    click.echo(f"Lỗi / error: {vi} / {en}", err=True)
    sys.exit(1)


@dossiers_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", "slug", required=True, help="Đơn vị / tenant slug")
@click.option(
    "--skip-invalid", is_flag=True, help="Nhập các dòng hợp lệ dù có dòng lỗi / import the valid rows"
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=writer.DEFAULT_BATCH, show_default=True)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def import_command(file: Path, slug: str, skip_invalid: bool, batch_size: int, report_path: Path | None):
    """Import closed and open dossiers of the unit's previous system from FILE (CSV or XLSX).

    Every row is validated first; with errors nothing is imported unless --skip-invalid.
    Rows whose code is already in the unit are left as they are (counted as unchanged).
    """
    shards = current_app.extensions["motcua"].shards
    try:
        with shards.platform_session() as session:
            tenant = TenantRef.of(get_tenant(session, slug))
    except TenantError as exc:
        _fail("không tìm thấy đơn vị", str(exc))
    try:
        checked = reader.check_import_file(file.name, file.read_bytes(), max_bytes=CLI_MAX_BYTES)
    except DomainError as exc:
        _fail(exc.vi, exc.en)
    report_path = report_path or file.with_name(f"{file.stem}.errors.xlsx")
    with shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        run = actions.create_run(session, tenant.slug, checked, account_id=None, skip_invalid=skip_invalid)
        session.commit()
        click.echo(f"Lần nhập / run #{run.id}: đang kiểm tra / validating {checked.filename} ...")
        bar = _Bar()
        try:
            result = actions.process(
                session, tenant, run, batch_size=batch_size, on_validated=bar.start, progress=bar.update
            )
        finally:
            bar.close()
        if result is None:
            _fail("không đọc được tệp", run.error or "")
        if run.error_report_key:
            try:
                report_path.write_bytes(get_storage().get(run.error_report_key))
            except OSError as exc:  # the run is recorded; only the local copy of the report failed
                _fail(
                    f"không ghi được báo cáo lỗi vào {report_path} ({exc.strerror})",
                    f"cannot write the error report to {report_path} ({exc.strerror}); "
                    f"it stays on the run #{run.id} page",
                )
            click.echo(f"Báo cáo lỗi / error report: {report_path} ({len(result.errors)} lỗi / errors)")
        click.echo(
            f"Tổng / rows: {run.total_rows}; lỗi / invalid: {run.invalid_rows}; "
            f"đã nhập / imported: {run.imported}; đã có / unchanged: {run.unchanged}"
        )
        if run.status == "invalid":
            _fail(
                "có dòng lỗi, chưa nhập hồ sơ nào (dùng --skip-invalid để nhập các dòng hợp lệ)",
                "some rows are invalid, nothing was imported (use --skip-invalid to import the valid rows)",
            )


class _Bar:
    """click.progressbar over the valid rows, opened once validation knows how many there are."""

    def __init__(self):
        self.bar = None

    def start(self, validation) -> None:
        click.echo(f"Hợp lệ / valid: {len(validation.rows)}; lỗi / invalid rows: {validation.invalid_rows}")
        self.bar = click.progressbar(length=len(validation.rows), label="Nhập / importing")
        self.bar.__enter__()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
