"""`flask billing ...`: aggregation, recount, verify, contracts and invoices (issue #6).

Each feature module adds its commands to ``billing_group`` here, so ``flask billing --help``
lists them all.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

billing_group = AppGroup("billing", help="Đo đếm, hợp đồng, hóa đơn / Metering, contracts and invoices.")


@billing_group.command("metrics")
def metrics_command() -> None:
    """List the metered quantities (chỉ số đo đếm)."""
    from app.core.usage import METRICS

    for name, (vi, en, unit, measure) in METRICS.items():
        click.echo(f"{name:22} {measure:9} {unit:9} {vi} / {en}")


def _register(commands) -> None:
    for command in commands:
        billing_group.add_command(command)


# Each feature module lists its commands here (one line each).
from billing import metering_cli  # noqa: E402  (aggregate, recount, verify)

_register(metering_cli.COMMANDS)
from billing import invoice_cli  # noqa: E402  (invoice refresh, finalize, list)

_register(invoice_cli.COMMANDS)
from billing import contract_cli  # noqa: E402  (contracts, service-periods)

_register(contract_cli.COMMANDS)
