"""``flask billing contracts`` and ``flask billing service-periods`` (issue #6)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from billing import contracts, service_periods


@click.command("contracts")
@with_appcontext
def contracts_command() -> None:
    """List the lease contracts (hợp đồng thuê), the one in force today marked with *."""
    shards = current_app.extensions["motcua"].shards
    today = contracts.vn_today()
    with shards.platform_session() as session:
        for contract in contracts.list_contracts(session):
            mark = "*" if contract.starts_on <= today < contract.ends_on else " "
            seats = ", ".join(f"{s.unit_kind}={s.seats}" for s in contract.seats) or "-"
            plan = contract.plan.name if contract.plan else "-"
            click.echo(
                f"{mark} #{contract.id} {contract.number}  {contract.starts_on} .. {contract.ends_on} "
                f"(exclusive)  {contract.billing_period}  seats: {seats}  plan: {plan}"
            )


@click.command("service-periods")
@with_appcontext
def service_periods_command() -> None:
    """Give every unit without a service period one (units made without the provisioning pipeline)."""
    shards = current_app.extensions["motcua"].shards
    with shards.platform_session() as session, session.begin():
        made = service_periods.ensure_service_periods(session)
    click.echo(f"{made} kỳ sử dụng mới / service periods created")


COMMANDS = (contracts_command, service_periods_command)
