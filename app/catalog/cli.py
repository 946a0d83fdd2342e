"""``flask catalog``: publish a standard catalogue version and watch its rollout.

flask catalog publish --kind commune --version 2      # publish, then wait with a progress bar
flask catalog status [--kind commune] [--version 2]   # versions, rollout counts, failed units
flask catalog retry --kind commune --version 2        # send failed (and stale) units again
flask catalog reindex [--tenant slug]                 # rebuild the city-wide procedure index
"""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup
from tqdm import tqdm

from app.catalog import index, standard
from app.catalog.standard_models import FAILED
from app.core.errors import DomainError

_KINDS = [kind.value for kind in standard.KIND_LABELS]
catalog_cli = AppGroup("catalog", help="Danh mục TTHC chuẩn / the standard procedure catalogue.")

_kind = click.option("--kind", required=True, type=click.Choice(_KINDS), help="unit kind of the catalogue")


def _shards():
    return current_app.extensions["motcua"].shards


def _fail(exc: DomainError) -> None:
    click.echo(f"Lỗi / error: {exc.vi} / {exc.en}", err=True)
    sys.exit(1)


def _wait(kind: str, number: int, timeout: float) -> bool:
    """Show the rollout's progress until every unit is done or failed; False on timeout."""
    with _shards().platform_session() as session:
        version_id = standard.get_version(session, kind, number).id
    deadline = time.monotonic() + timeout
    bar = None
    warned = False
    try:
        while True:
            with _shards().platform_session() as session:
                progress = standard.rollout_progress(session, version_id)
            if bar is None:
                bar = tqdm(total=progress.total, desc=f"{kind} v{number}", unit="unit")
            bar.n = progress.finished
            bar.set_postfix(failed=progress.by_status[FAILED], conflicted=progress.conflicted, refresh=False)
            bar.refresh()
            if progress.stale and not warned:
                warned = True
                tqdm.write(
                    f"{progress.stale} đơn vị chờ quá lâu: chạy `flask catalog retry --kind {kind} "
                    f"--version {number}` / {progress.stale} units look stuck: retry them",
                    file=sys.stderr,
                )
            if progress.is_finished:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
    finally:
        if bar is not None:
            bar.close()


def _report(kind: str, number: int) -> int:
    with _shards().platform_session() as session:
        version = standard.get_version(session, kind, number)
        progress = standard.rollout_progress(session, version.id)
        click.echo(
            f"{kind} v{number}: {progress.by_status['done']}/{progress.total} xong / done, "
            f"{progress.by_status[FAILED]} lỗi / failed; applied {progress.applied}, kept {progress.kept}, "
            f"conflicted {progress.conflicted}, unchanged {progress.unchanged}"
        )
        for rollout, tenant in standard.list_rollouts(session, version.id):
            if rollout.status == FAILED:
                click.echo(f"  {tenant.slug}: {rollout.error}")
    return progress.by_status[FAILED]


@catalog_cli.command("publish")
@_kind
@click.option("--version", "number", required=True, type=int, help="the draft's version number")
@click.option("--wait/--no-wait", default=True, help="wait for the rollout jobs (needs `flask jobs worker`)")
@click.option("--timeout", default=3600.0, show_default=True, help="seconds to wait")
def publish(kind: str, number: int, wait: bool, timeout: float) -> None:
    """Publish draft version N of a kind's catalogue and roll it out to every unit of that kind."""
    try:
        with _shards().platform_session() as session, session.begin():
            version = standard.get_version(session, kind, number)
            if version.is_published:
                click.echo(f"v{number} đã ban hành / already published")
            else:
                offered = standard.publish_version(session, version, actor_id=None)
                click.echo(f"Đã ban hành / published {kind} v{number}: {offered} đơn vị / units")
    except DomainError as exc:
        _fail(exc)
    if not wait:
        return
    if not _wait(kind, number, timeout):
        click.echo(
            "Hết thời gian chờ: worker có đang chạy? / timed out: is `flask jobs worker` running?", err=True
        )
        sys.exit(1)
    sys.exit(1 if _report(kind, number) else 0)


@catalog_cli.command("retry")
@_kind
@click.option("--version", "number", required=True, type=int)
@click.option("--wait/--no-wait", default=True)
@click.option("--timeout", default=3600.0, show_default=True)
def retry(kind: str, number: int, wait: bool, timeout: float) -> None:
    """Send the failed and stuck units of a published version again (and offer it to new units)."""
    try:
        with _shards().platform_session() as session, session.begin():
            count = standard.retry_rollouts(session, standard.get_version(session, kind, number))
    except DomainError as exc:
        _fail(exc)
    click.echo(f"Gửi lại / sent again: {count}")
    if wait and count and not _wait(kind, number, timeout):
        sys.exit(1)
    sys.exit(1 if _report(kind, number) else 0)


@catalog_cli.command("status")
@click.option("--kind", type=click.Choice(_KINDS))
@click.option("--version", "number", type=int, help="details of one version (needs --kind)")
def status(kind: str | None, number: int | None) -> None:
    """Versions of each catalogue and how far their rollouts got."""
    try:
        if kind and number:
            _report(kind, number)
            return
        with _shards().platform_session() as session:
            for each in [kind] if kind else _KINDS:
                versions = standard.list_versions(session, each)
                counts = standard.procedure_counts(session, [v.id for v in versions])
                click.echo(f"{each}: {len(versions)} phiên bản / versions")
                for v in versions:
                    line = f"  v{v.number} {v.status} {counts[v.id]} thủ tục / procedures"
                    if v.is_published:
                        p = standard.rollout_progress(session, v.id)
                        line += f"; {p.by_status['done']}/{p.total} done, {p.by_status[FAILED]} failed"
                        if p.stale:
                            line += f", {p.stale} stuck (retry)"
                    click.echo(line)
    except DomainError as exc:
        _fail(exc)


@catalog_cli.command("reindex")
@click.option("--tenant", "slug", default=None, help="one unit's slug (default: every unit not archived)")
def reindex_command(slug: str | None) -> None:
    """Rebuild the city-wide procedure index from the units' catalogues, with progress."""
    total = index.tenant_ids_to_reindex(slug)
    if slug is not None and total == 0:
        click.echo(f"Lỗi / error: không có đơn vị {slug} / no unit {slug}", err=True)
        sys.exit(1)
    rows = 0
    with tqdm(total=total, desc="reindex", unit="unit") as bar:

        def step(_tenant, count: int) -> None:
            nonlocal rows
            rows += count
            bar.update(1)

        index.reindex(slug, progress=step)
    click.echo(f"{total} đơn vị, {rows} thủ tục / {total} units, {rows} procedures indexed")
