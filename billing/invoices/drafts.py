"""Drafts: written (compared first, then COPY), refreshed, manual adjustments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from app.audit.platform import record
from app.core.errors import NotFound
from billing.invoice_chain import LINE_FIELDS
from billing.invoices.pricing import (
    AUDIT_ENTITY,
    CANONICAL_KEY,
    InvoiceInputError,
    InvoiceRefused,
    LineSpec,
    compute_statement,
    contract_unit_ids,
    dong,
)
from billing.models import DRAFT, FINAL, INVOICE, Contract, Invoice, InvoiceLine

# -- drafts ---------------------------------------------------------------------------------------


def _manual_lines(session: Session, invoice_id: int) -> list[LineSpec]:
    rows = session.scalars(
        select(InvoiceLine)
        .where(
            InvoiceLine.invoice_id == invoice_id,
            InvoiceLine.kind == "adjustment",
            InvoiceLine.is_late_adjustment.is_(False),
        )
        .order_by(InvoiceLine.position)
    )
    return [
        LineSpec(
            kind="adjustment",
            tenant_id=line.tenant_id,
            description_vi=line.description_vi,
            description_en=line.description_en,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            computation=line.computation,
            reason=line.reason,
        )
        for line in rows
    ]


_LINE_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('platform.billing_invoice_lines', 'id')) "
    "FROM generate_series(1, :n)"
)
LINE_COLUMNS = tuple(f for f in LINE_FIELDS if f != "position")  # what a line holds besides its place


def _copy(session: Session, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Bulk-load rows with COPY on the session's own connection (its transaction): a month's
    ~70,000 fact snapshots load in a fraction of the time of INSERT statements."""
    driver = session.connection().connection.driver_connection
    statement = f"COPY platform.{table} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _canonical_lines(lines: Sequence[LineSpec]) -> list[dict]:
    from billing.invoice_chain import line_dict

    return [
        line_dict(
            {"position": n, **line.row()},
            [
                {
                    "fact_id": fact_id,
                    "day": day.isoformat(),
                    "quantity_sum": quantity_sum,
                    "distinct_subjects": distinct_subjects,
                    "fact_hash": fact_hash,
                }
                for fact_id, day, quantity_sum, distinct_subjects, fact_hash in line.facts
            ],
        )
        for n, line in enumerate(lines, 1)
    ]


def _write_lines(session: Session, invoice: Invoice, lines: Sequence[LineSpec]) -> bool:
    """Replace a draft's lines and snapshots when they differ from the stored ones (a month of
    250 units is ~70,000 rows: compared first, then written in bulk). True when written."""
    from billing.invoice_chain import stored_lines

    if invoice.status != DRAFT:
        raise InvoiceRefused("Hóa đơn đã chốt, không thể sửa", "a final invoice cannot be changed")
    session.flush()
    canonical = _canonical_lines(lines)
    # What the seal of a finalization hashes: exactly what is stored after this call.
    session.info.setdefault(CANONICAL_KEY, {})[invoice.id] = canonical
    if stored_lines(session, invoice.id) == canonical:
        return False
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    if lines:
        ids = session.scalars(_LINE_IDS, {"n": len(lines)}).all()
        _copy(
            session,
            "billing_invoice_lines",
            ("id", "invoice_id", "position", *LINE_COLUMNS),
            (
                (line_id, invoice.id, n, *(line.row()[c] for c in LINE_COLUMNS))
                for n, (line_id, line) in enumerate(zip(ids, lines, strict=True), 1)
            ),
        )
        _copy(
            session,
            "billing_invoice_line_facts",
            ("line_id", "fact_id", "day", "quantity_sum", "distinct_subjects", "fact_hash"),
            ((line_id, *fact) for line_id, line in zip(ids, lines, strict=True) for fact in line.facts),
        )
    session.expire(invoice, ["lines"])
    return True


def find_invoice(session: Session, contract_id: int, period_start: date) -> Invoice | None:
    return session.scalar(
        select(Invoice).where(
            Invoice.contract_id == contract_id, Invoice.kind == INVOICE, Invoice.period_start == period_start
        )
    )


def refresh_draft(
    session: Session,
    contract: Contract,
    period_start: date,
    period_end: date,
    *,
    now: datetime | None = None,
    extra: Sequence[LineSpec] = (),
) -> Invoice:
    """Create or recompute the period's draft (manual adjustments are kept); refused once final."""
    invoice = session.scalar(
        select(Invoice)
        .where(
            Invoice.contract_id == contract.id, Invoice.kind == INVOICE, Invoice.period_start == period_start
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        invoice = Invoice(
            contract_id=contract.id,
            kind=INVOICE,
            status=DRAFT,
            period_start=period_start,
            period_end=period_end,
            currency=contract.currency,
        )
        session.add(invoice)
        session.flush()
    if invoice.status == FINAL:
        raise InvoiceRefused(
            f"Hóa đơn {invoice.number} đã chốt, không tính lại được; hãy lập hóa đơn điều chỉnh giảm "
            "hoặc điều chỉnh ở kỳ sau",
            f"invoice {invoice.number} is final and cannot be recomputed; issue a credit note or "
            "adjust the next invoice",
        )
    manual = _manual_lines(session, invoice.id) + list(extra)
    statement = compute_statement(
        session, contract, invoice.period_start, invoice.period_end, invoice_id=invoice.id, manual=manual
    )
    _write_lines(session, invoice, statement.lines)
    invoice.subtotal, invoice.discount, invoice.total = (
        statement.subtotal,
        statement.discount,
        statement.total,
    )
    invoice.refreshed_at = now or datetime.now(UTC)
    session.flush()
    return invoice


def get_invoice(session: Session, invoice_id: int, *, lock: bool = False) -> Invoice:
    query = select(Invoice).where(Invoice.id == invoice_id).execution_options(populate_existing=True)
    invoice = session.scalar(query.with_for_update() if lock else query)
    if invoice is None:
        raise NotFound("Không tìm thấy hóa đơn", "invoice not found")
    return invoice


def add_adjustment(
    session: Session,
    invoice_id: int,
    *,
    amount: int,
    description: str,
    reason: str,
    tenant_id: int | None = None,
    actor_label: str | None = None,
    actor_account_id: int | None = None,
    now: datetime | None = None,
) -> Invoice:
    """A manual line (positive or negative, with a reason) on a draft; the draft is recomputed."""
    invoice = get_invoice(session, invoice_id, lock=True)
    if invoice.status != DRAFT or invoice.kind != INVOICE:
        raise InvoiceRefused(
            "Chỉ thêm điều chỉnh vào hóa đơn nháp (kỳ tiếp theo)",
            "adjustments go on a draft invoice (the next one)",
        )
    description, reason = (description or "").strip(), (reason or "").strip()
    if not reason:
        raise InvoiceInputError("Điều chỉnh phải có lý do", "an adjustment needs a reason")
    if not description:
        raise InvoiceInputError("Điều chỉnh phải có nội dung", "an adjustment needs a description")
    if not isinstance(amount, int) or amount == 0:
        raise InvoiceInputError("Số tiền điều chỉnh phải khác 0 đồng", "the adjustment amount must not be 0")
    contract = session.get(Contract, invoice.contract_id)
    if tenant_id is not None and tenant_id not in contract_unit_ids(session, contract):
        raise InvoiceInputError(
            "Đơn vị không thuộc hợp đồng này", "that unit is not one of the contract's units"
        )
    line = LineSpec(
        kind="adjustment",
        tenant_id=tenant_id,
        description_vi=f"Điều chỉnh: {description}",
        description_en=f"Adjustment: {description}",
        quantity=1,
        unit_price=amount,
        amount=amount,
        computation=f"1 × {dong(amount)} (điều chỉnh thủ công / manual adjustment)",
        reason=reason,
    )
    refresh_draft(session, contract, invoice.period_start, invoice.period_end, now=now, extra=[line])
    record(
        session,
        entity=AUDIT_ENTITY,
        entity_id=invoice.id,
        action="adjust",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"amount": amount, "description": description, "reason": reason, "tenant_id": tenant_id},
    )
    return invoice
