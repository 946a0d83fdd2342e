"""Numbering from the gap-free sequence, finalizing, credit notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.audit.platform import record
from billing.invoices.drafts import get_invoice, refresh_draft
from billing.invoices.pricing import (
    AUDIT_ENTITY,
    CANONICAL_KEY,
    InvoiceInputError,
    InvoiceRefused,
    dong,
    local_today,
)
from billing.models import (
    CREDIT_NOTE,
    DRAFT,
    FINAL,
    INVOICE,
    Contract,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    ServicePeriod,
)

# -- numbering and finalizing ---------------------------------------------------------------------


def take_number(session: Session, contract_id: int) -> int:
    """The contract's next number, under the sequence row's lock (created when absent)."""
    session.execute(
        pg_insert(InvoiceSequence)
        .values(contract_id=contract_id, next_number=1)
        .on_conflict_do_nothing(index_elements=["contract_id"])
    )
    current = session.execute(
        select(InvoiceSequence.next_number)
        .where(InvoiceSequence.contract_id == contract_id)
        .with_for_update()
    ).scalar_one()
    session.execute(
        update(InvoiceSequence)
        .where(InvoiceSequence.contract_id == contract_id)
        .values(next_number=current + 1)
        .execution_options(synchronize_session=False)
    )
    return current


def document_number(contract: Contract, sequence_no: int) -> str:
    return f"{contract.number}-{sequence_no:06d}"


def _previous_hash(session: Session, contract_id: int, sequence_no: int) -> str | None:
    if sequence_no == 1:
        return None
    return session.scalar(
        select(Invoice.content_hash).where(
            Invoice.contract_id == contract_id, Invoice.sequence_no == sequence_no - 1
        )
    )


def finalize_invoice(
    session: Session,
    invoice_id: int,
    *,
    actor_label: str | None,
    actor_account_id: int | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Recompute the draft one last time, number it, freeze it and chain its hash."""
    from billing import invoice_chain

    now = now or datetime.now(UTC)
    # The contract first, shared: a price change (which locks it for update, then its drafts)
    # waits for this invoice or sees it final, never prices the period under our feet.
    contract_id = get_invoice(session, invoice_id).contract_id
    contract = session.get(Contract, contract_id, with_for_update={"read": True})
    invoice = get_invoice(session, invoice_id, lock=True)
    if invoice.kind != INVOICE:
        raise InvoiceRefused("Hóa đơn điều chỉnh giảm đã chốt từ khi lập", "a credit note is final already")
    if invoice.status == FINAL:
        raise InvoiceRefused(
            f"Hóa đơn {invoice.number} đã chốt rồi", f"invoice {invoice.number} is already final"
        )
    if local_today(now) < invoice.period_end:
        last = invoice.period_end - timedelta(days=1)
        raise InvoiceRefused(
            f"Kỳ hóa đơn chưa kết thúc (đến hết ngày {last:%d/%m/%Y})",
            f"the invoice's period has not ended yet (it runs to {last:%Y-%m-%d})",
        )
    refresh_draft(session, contract, invoice.period_start, invoice.period_end, now=now)
    if invoice.total < 0:
        raise InvoiceRefused(
            f"Tổng hóa đơn âm ({dong(invoice.total)}): hãy lập hóa đơn điều chỉnh giảm thay vì điều chỉnh",
            f"the invoice total is negative ({invoice.total} VND): issue a credit note instead",
        )
    sequence_no = take_number(session, contract.id)
    invoice.sequence_no = sequence_no
    invoice.number = document_number(contract, sequence_no)
    invoice.previous_hash = _previous_hash(session, contract.id, sequence_no)
    invoice.finalized_at = now
    invoice.finalized_by_label = actor_label
    sealed = invoice_chain.seal(session, invoice, lines=session.info[CANONICAL_KEY].pop(invoice.id))
    invoice.content_hash = sealed.content_hash
    invoice.status = FINAL
    session.execute(
        update(ServicePeriod)
        .where(
            ServicePeriod.setup_invoice_id.is_(None),
            ServicePeriod.tenant_id.in_(
                select(InvoiceLine.tenant_id).where(
                    InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "setup_fee"
                )
            ),
        )
        .values(setup_invoice_id=invoice.id)
        .execution_options(synchronize_session=False)
    )
    record(
        session,
        entity=AUDIT_ENTITY,
        entity_id=invoice.id,
        action="finalize",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={
            "number": invoice.number,
            "total": invoice.total,
            "content_hash": invoice.content_hash,
            "previous_hash": invoice.previous_hash,
            "locator": sealed.locator,
        },
    )
    session.flush()
    return invoice


def credited_so_far(session: Session, invoice_id: int) -> int:
    """The positive sum of the credit notes already issued against an invoice."""
    total = session.scalar(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.credits_invoice_id == invoice_id, Invoice.kind == CREDIT_NOTE
        )
    )
    return -int(total)


def create_credit_note(
    session: Session,
    invoice_id: int,
    *,
    amount: int,
    reason: str,
    actor_label: str | None,
    actor_account_id: int | None = None,
    now: datetime | None = None,
) -> Invoice:
    """A final credit note against a final invoice: numbered from the same sequence and chained."""
    from billing import invoice_chain

    now = now or datetime.now(UTC)
    invoice = get_invoice(session, invoice_id, lock=True)
    if invoice.kind != INVOICE or invoice.status != FINAL:
        raise InvoiceRefused(
            "Chỉ lập hóa đơn điều chỉnh giảm cho hóa đơn đã chốt",
            "a credit note can only reference a final invoice",
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvoiceInputError("Hóa đơn điều chỉnh giảm phải có lý do", "a credit note needs a reason")
    if not isinstance(amount, int) or amount <= 0:
        raise InvoiceInputError(
            "Số tiền điều chỉnh giảm phải lớn hơn 0 đồng", "a credit note's amount must be more than 0 VND"
        )
    already = credited_so_far(session, invoice.id)
    left = invoice.total - already
    if amount > left:
        raise InvoiceRefused(
            f"Số tiền giảm {dong(amount)} vượt quá phần còn lại của hóa đơn {invoice.number}: "
            f"{dong(invoice.total)} − đã giảm {dong(already)} = {dong(left)}",
            f"the credit of {amount} VND exceeds what is left of invoice {invoice.number}: "
            f"{invoice.total} − {already} already credited = {left} VND",
        )
    contract = session.get(Contract, invoice.contract_id)
    sequence_no = take_number(session, contract.id)
    note = Invoice(
        contract_id=contract.id,
        kind=CREDIT_NOTE,
        status=DRAFT,
        sequence_no=sequence_no,
        number=document_number(contract, sequence_no),
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        currency=invoice.currency,
        subtotal=-amount,
        discount=0,
        total=-amount,
        credits_invoice_id=invoice.id,
        reason=reason,
        finalized_at=now,
        finalized_by_label=actor_label,
        previous_hash=_previous_hash(session, contract.id, sequence_no),
        refreshed_at=now,
    )
    session.add(note)
    session.flush()
    session.add(
        InvoiceLine(
            invoice_id=note.id,
            position=1,
            kind="credit",
            description_vi=f"Điều chỉnh giảm cho hóa đơn {invoice.number}",
            description_en=f"Credit against invoice {invoice.number}",
            quantity=1,
            unit_price=-amount,
            amount=-amount,
            computation=(
                f"{dong(invoice.total)} − đã giảm / credited {dong(already)} = còn / left {dong(left)}; "
                f"giảm / credit {dong(amount)}"
            ),
            reason=reason,
        )
    )
    session.flush()
    sealed = invoice_chain.seal(session, note)
    note.content_hash = sealed.content_hash
    note.status = FINAL
    record(
        session,
        entity=AUDIT_ENTITY,
        entity_id=note.id,
        action="credit_note",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={
            "number": note.number,
            "credits": invoice.number,
            "amount": amount,
            "reason": reason,
            "content_hash": note.content_hash,
            "previous_hash": note.previous_hash,
            "locator": sealed.locator,
        },
    )
    session.flush()
    return note
