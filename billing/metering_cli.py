"""``flask billing aggregate | recount | verify`` (registered on billing_group by billing/cli.py)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click
from flask.cli import with_appcontext


def _tenant_ids(slugs: tuple[str, ...]) -> list[int] | None:
    if not slugs:
        return None
    from sqlalchemy import select

    from app.core.db import get_platform
    from tenants.models import Tenant

    with get_platform().shards.platform_session() as session:
        found = dict(session.execute(select(Tenant.slug, Tenant.id).where(Tenant.slug.in_(slugs))).all())
    missing = sorted(set(slugs) - set(found))
    if missing:
        raise click.BadParameter(
            f"không có đơn vị / no such unit: {', '.join(missing)}", param_hint="--tenant"
        )
    return list(found.values())


day_option = click.DateTime(formats=["%Y-%m-%d"])


@click.command("aggregate")
@with_appcontext
@click.option("--from", "first", type=day_option, help="First day (YYYY-MM-DD, Asia/Ho_Chi_Minh).")
@click.option("--to", "last", type=day_option, help="Last day, included (default: today).")
@click.option("--tenant", "slugs", multiple=True, help="Only this unit (slug); repeatable.")
@click.option(
    "--settle",
    default=60,
    show_default=True,
    help="Count events recorded at least this many seconds ago (a transaction in flight counts whole later).",
)
def aggregate_command(first, last, slugs, settle) -> None:
    """Tổng hợp sự kiện đo đếm thành số liệu ngày / Aggregate usage events into daily facts.

    Without --from: the late window (BILLING_LATE_WINDOW_DAYS) plus every day that received
    events since the previous run. Safe to re-run.
    """
    from sqlalchemy import func, select

    from app.core.db import get_platform
    from billing.aggregate import aggregate_all, local_day
    from tenants.models import Tenant

    ids = _tenant_ids(slugs)
    first_day = first.date() if first else None
    last_day = last.date() if last else None
    if first_day and not last_day:
        last_day = local_day(datetime.now(UTC))  # today in Asia/Ho_Chi_Minh, not the server's date
    if last_day and not first_day:
        raise click.BadParameter("--to cần --from / --to needs --from", param_hint="--from")
    if first_day and last_day < first_day:
        raise click.BadParameter("--to trước --from / --to is before --from", param_hint="--to")
    with get_platform().shards.platform_session() as session:
        query = select(func.count()).select_from(Tenant)
        if ids is not None:
            query = query.where(Tenant.id.in_(ids))
        total = session.scalar(query) or 0
    with click.progressbar(length=total, label="Đơn vị / units", file=sys.stderr) as bar:
        runs = aggregate_all(
            first_day=first_day,
            last_day=last_day,
            tenant_ids=ids,
            settle_seconds=settle,
            progress=lambda result: bar.update(1),
        )
    for run in runs:
        click.echo(
            f"{run.shard}: {run.first_day}..{run.last_day} events={run.events} facts={run.facts}"
            f" cut-off={run.started_at.isoformat()}"
        )


@click.command("recount")
@with_appcontext
@click.option("--from", "first", type=day_option, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "last", type=day_option, required=True, help="Last day, included.")
@click.option("--tenant", "slugs", multiple=True, help="Only this unit (slug); repeatable.")
@click.option("--all", "show_all", is_flag=True, help="Also list the rows that agree.")
def recount_command(first, last, slugs, show_all) -> None:
    """Kiểm đếm độc lập từ dữ liệu gốc / Recount usage from the units' own rows; exit 1 on any difference."""
    from billing.recount import recount

    rows = recount(first.date(), last.date() + timedelta(days=1), _tenant_ids(slugs))
    different = [row for row in rows if row.difference]
    for row in rows:
        if show_all or row.difference:
            source = "not recountable" if row.source is None else row.source
            click.echo(
                f"{row.slug:24} {row.metric:20} {row.dimension or '-':8} billed={row.facts}"
                f" source={source} difference={row.difference if row.difference is not None else '-'}"
            )
    click.echo(f"{len(rows)} rows, {len(different)} with a difference / khác biệt")
    if different:
        sys.exit(1)


@click.command("verify")
@with_appcontext
def verify_command() -> None:
    """Kiểm tra chuỗi băm / Verify the hash chain; exit 1 naming the first altered record."""
    from billing.verify import verify

    result = verify()
    checked = ", ".join(f"{key}={value}" for key, value in result.checked.items())
    click.echo(f"checked: {checked}")
    for note in result.notes:
        click.echo(note)
    if result.checked.get("pending_events"):
        click.echo(
            f"{result.checked['pending_events']} events recorded after their day was aggregated:"
            " the next aggregation counts them"
        )
    if result.ok:
        click.echo("OK: không phát hiện thay đổi / no altered record")
        return
    click.echo(f"ALTERED / BỊ THAY ĐỔI: {result.first_problem}")
    for problem in result.problems[1:]:
        click.echo(f"  also: {problem}")
    sys.exit(1)


COMMANDS = (aggregate_command, recount_command, verify_command)
