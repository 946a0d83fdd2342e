"""`flask billing invoice refresh|finalize|list` (issue #6): the console's actions from a shell."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.core.errors import DomainError

invoice_group = AppGroup("invoice", help="Hóa đơn / Invoices: refresh drafts, finalize, list.")


def _shards():
    from app.core.db import get_platform

    return get_platform().shards


@invoice_group.command("refresh")
@click.option("--contract", "contract_number", help="Only this contract (its number).")
def refresh_command(contract_number: str | None) -> None:
    """Recompute drafts still in their grace window; finalize those past it (as the job does)."""
    from billing.invoices import refresh_all

    for line in refresh_all(contract_number=contract_number):
        click.echo(line)


@invoice_group.command("finalize")
@click.option("--id", "invoice_id", type=int, help="The draft's id.")
@click.option("--contract", "contract_number", help="The contract's number (with --period).")
@click.option("--period", "period_start", type=click.DateTime(["%Y-%m-%d", "%Y-%m"]), help="Period start.")
@click.option("--by", "actor_label", default="cli", show_default=True, help="Who finalizes (audit label).")
def finalize_command(invoice_id, contract_number, period_start, actor_label) -> None:
    """Number, freeze and chain a draft whose period has ended."""
    from billing.invoices import finalize_invoice, find_invoice, period_of, refresh_draft
    from billing.models import Contract

    with _shards().platform_session() as session:
        try:
            with session.begin():
                if invoice_id is None:
                    if not (contract_number and period_start):
                        raise click.UsageError("give --id, or --contract and --period")
                    contract = session.scalar(select(Contract).where(Contract.number == contract_number))
                    if contract is None:
                        raise click.ClickException(f"no contract {contract_number!r}")
                    period = period_of(
                        contract, date(period_start.year, period_start.month, period_start.day)
                    )
                    if period is None:
                        raise click.ClickException("that day is in none of the contract's periods")
                    invoice = find_invoice(session, contract.id, period[0]) or refresh_draft(
                        session, contract, *period
                    )
                    invoice_id = invoice.id
                invoice = finalize_invoice(session, invoice_id, actor_label=actor_label)
                click.echo(f"{invoice.number} {invoice.total} {invoice.content_hash}")
        except DomainError as exc:
            raise click.ClickException(f"{exc.vi} / {exc.en}") from exc


@invoice_group.command("list")
@click.option("--contract", "contract_number", help="Only this contract (its number).")
def list_command(contract_number: str | None) -> None:
    """Invoices and credit notes: number, kind, period, status, total, hash."""
    from billing.models import Contract, Invoice

    with _shards().platform_session() as session:
        query = (
            select(Invoice, Contract.number)
            .join(Contract)
            .order_by(Contract.id, Invoice.period_start, Invoice.id)
        )
        if contract_number:
            query = query.where(Contract.number == contract_number)
        for invoice, number in session.execute(query):
            click.echo(
                f"{invoice.id:>6} {number} {invoice.kind:11} {invoice.period_start} {invoice.status:5} "
                f"{invoice.number or '-':30} {invoice.total:>14} {invoice.content_hash or ''}"
            )


COMMANDS = (invoice_group,)
