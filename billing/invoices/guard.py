"""The ORM guard: no flush may change a final document, its lines or its snapshots."""

from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from billing.invoices.pricing import FinalInvoiceChanged
from billing.models import FINAL, Invoice, InvoiceLine, InvoiceLineFact

# -- the ORM guard --------------------------------------------------------------------------------


def _loaded_status(obj: Invoice) -> str | None:
    history = inspect(obj).attrs.status.history
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    return None


def _final_parent(session: Session, invoice_id: int | None) -> bool:
    if invoice_id is None:
        return False
    parent = session.get(Invoice, invoice_id)
    return parent is not None and parent not in session.new and _loaded_status(parent) == FINAL


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_final_documents(session: Session, flush_context, instances) -> None:
    """No ORM flush may change, delete or add to a final invoice, its lines or snapshots."""
    for obj in list(session.dirty) + list(session.deleted) + list(session.new):
        if isinstance(obj, Invoice):
            if obj in session.new:
                continue
            changed = obj in session.deleted or session.is_modified(obj)
            if changed and _loaded_status(obj) == FINAL:
                raise FinalInvoiceChanged(f"invoice {obj.number} is final and cannot be changed")
        elif isinstance(obj, InvoiceLine):
            if (obj in session.new or obj in session.deleted or session.is_modified(obj)) and _final_parent(
                session, obj.invoice_id if obj.invoice_id is not None else getattr(obj.invoice, "id", None)
            ):
                raise FinalInvoiceChanged(f"line {obj.position} belongs to a final invoice")
        elif isinstance(obj, InvoiceLineFact):
            line = obj.line if obj.line_id is None else session.get(InvoiceLine, obj.line_id)
            if line is not None and _final_parent(session, line.invoice_id):
                raise FinalInvoiceChanged("a fact snapshot of a final invoice cannot be changed")
