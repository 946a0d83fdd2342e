"""Invoices (hóa đơn) and credit notes (hóa đơn điều chỉnh giảm) of a lease contract (issue #6).

A period's **draft** is computed from the service periods (active days), the price plan
and the daily facts, and recomputed by a periodic job until ``period_end + grace_days``.
**Finalizing** takes the next number of the contract's gap-free sequence under a row lock,
freezes the lines and their fact snapshots and seals them with a hash chained to the
previous final document (billing/invoice_chain.py). A final document never changes:
corrections are credit notes, manual adjustment lines on the next draft, and late
adjustments (usage of a finalized period counted after it was finalized). The rules, with
worked examples, are in docs/invoices.md.

Computing the same draft twice gives the same lines and totals: lines are ordered by
unit slug, kind, metric and month, never by insertion time.

The package: ``pricing`` (what a statement contains), ``drafts`` (writing and refreshing
drafts, manual adjustments), ``finalize`` (numbering, finalizing, credit notes), ``jobs``
(the periodic refresh, the decommission hook), ``guard`` (the ORM guard on final
documents). Everything callers use is re-exported here.
"""

from billing.invoices import guard  # noqa: F401  (registers the before_flush guard)
from billing.invoices.drafts import (
    add_adjustment,
    find_invoice,
    get_invoice,
    refresh_draft,
)
from billing.invoices.finalize import (
    create_credit_note,
    credited_so_far,
    document_number,
    finalize_invoice,
    take_number,
)
from billing.invoices.jobs import (
    final_invoice_for_decommission,
    refresh_all,
    refresh_contract,
)
from billing.invoices.pricing import (
    AUDIT_ENTITY,
    LOCAL_TZ,
    VANISHED_FACT_HASH,
    FactSnap,
    FinalInvoiceChanged,
    InvoiceInputError,
    InvoiceRefused,
    LineSpec,
    Statement,
    compute_statement,
    contract_periods,
    contract_unit_ids,
    distinct_quantities,
    dong,
    late_adjustments,
    local_today,
    months,
    next_month,
    ordered_units,
    period_of,
    price,
    unit_subtotals,
)

__all__ = [
    "AUDIT_ENTITY",
    "LOCAL_TZ",
    "VANISHED_FACT_HASH",
    "FactSnap",
    "FinalInvoiceChanged",
    "InvoiceInputError",
    "InvoiceRefused",
    "LineSpec",
    "Statement",
    "add_adjustment",
    "compute_statement",
    "contract_periods",
    "contract_unit_ids",
    "create_credit_note",
    "credited_so_far",
    "distinct_quantities",
    "document_number",
    "dong",
    "final_invoice_for_decommission",
    "finalize_invoice",
    "find_invoice",
    "get_invoice",
    "late_adjustments",
    "local_today",
    "months",
    "next_month",
    "ordered_units",
    "period_of",
    "price",
    "refresh_all",
    "refresh_contract",
    "refresh_draft",
    "take_number",
    "unit_subtotals",
]
