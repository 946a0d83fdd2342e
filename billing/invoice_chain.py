"""The invoices' hash chain (issue #6): each final document seals its content and its predecessor.

``invoice_hash(invoice)`` is the SHA-256 (hex) of the UTF-8 bytes of this canonical JSON
(keys sorted, no spaces, non-ASCII kept, ``json.dumps(..., sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``)::

    {"document": {"contract_id", "kind", "number", "sequence_no", "period_start", "period_end",
                  "currency", "subtotal", "discount", "total", "credits_invoice_id", "reason",
                  "finalized_at", "finalized_by_label"},
     "previous_hash": <content_hash of the contract's previous final document, or null>,
     "lines": [{"position", "kind", "tenant_id", "metric", "description_vi", "description_en",
                "quantity", "unit_price", "amount", "computation", "reason", "is_late_adjustment",
                "facts": [{"fact_id", "day", "quantity_sum", "distinct_subjects", "fact_hash"}, ...]}]}

Lines are in ``position`` order, their facts in ``fact_id`` order; days are ``YYYY-MM-DD``,
``finalized_at`` is UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, the currency its ISO code.
``previous_hash`` of document n is ``content_hash`` of document n-1 of the same contract
(``sequence_no`` order, invoices and credit notes alike), so removing or editing any
document breaks the link after it.

Where: at finalizing, the audit event (entity ``billing_invoice``) keeps a *locator*: the
digest of the header and of every line's fields and snapshots. The chain says *that* a
document was altered; the locator lets ``verify_invoices`` say *which* line or snapshot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audit.platform_models import PlatformAuditEvent
from billing.models import FINAL, Contract, DailyFact, Invoice, InvoiceLine, InvoiceSequence

HEADER_FIELDS = (
    "contract_id",
    "kind",
    "number",
    "sequence_no",
    "period_start",
    "period_end",
    "currency",
    "subtotal",
    "discount",
    "total",
    "credits_invoice_id",
    "reason",
    "finalized_at",
    "finalized_by_label",
)
LINE_FIELDS = (
    "position",
    "kind",
    "tenant_id",
    "metric",
    "description_vi",
    "description_en",
    "quantity",
    "unit_price",
    "amount",
    "computation",
    "reason",
    "is_late_adjustment",
)
FACT_FIELDS = ("fact_id", "day", "quantity_sum", "distinct_subjects", "fact_hash")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "code"):  # sqlalchemy_utils Currency
        return value.code
    return value


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def _pick(row: Any, fields: tuple[str, ...]) -> dict:
    if isinstance(row, dict):
        return {name: _value(row[name]) for name in fields}
    return {name: _value(getattr(row, name)) for name in fields}


def fact_dict(fact: Any) -> dict:
    """A snapshot in canonical form (from a row mapping, a dict or an ORM object)."""
    get = fact.__getitem__ if isinstance(fact, dict) else fact._mapping.__getitem__
    return {
        "fact_id": get("fact_id"),
        "day": get("day").isoformat(),
        "quantity_sum": get("quantity_sum"),
        "distinct_subjects": get("distinct_subjects"),
        "fact_hash": get("fact_hash"),
    }


def line_dict(line: Any, facts: list[dict]) -> dict:
    """A line in canonical form, with its snapshots (already canonical) in fact_id order."""
    return {**_pick(line, LINE_FIELDS), "facts": sorted(facts, key=lambda f: f["fact_id"])}


def payload(header: Any, lines: list[dict]) -> dict:
    """The canonical document from a header (object or dict) and canonical lines (``line_dict``)."""
    return {
        "document": _pick(header, HEADER_FIELDS),
        "previous_hash": header["previous_hash"] if isinstance(header, dict) else header.previous_hash,
        "lines": sorted(lines, key=lambda line: line["position"]),
    }


def locator(document: dict) -> dict:
    """Digests of the header and of each line's fields and snapshots (kept in the audit trail)."""
    return {
        "header": sha256(document["document"]),
        "lines": [
            [
                line["position"],
                sha256({k: v for k, v in line.items() if k != "facts"}),
                sha256(line["facts"]),
            ]
            for line in document["lines"]
        ],
    }


def invoice_hash(invoice: Invoice) -> str:
    """The content hash of an ORM invoice with its lines and their snapshots (see the module doc)."""
    lines = [
        line_dict(line, [{name: _value(getattr(f, name)) for name in FACT_FIELDS} for f in line.facts])
        for line in invoice.lines
    ]
    return sha256(payload(invoice, lines))


@dataclass(frozen=True)
class Sealed:
    content_hash: str
    locator: dict


def stored_lines(session: Session, invoice_id: int) -> list[dict]:
    """The invoice's lines and snapshots as stored, in canonical form (position order)."""
    lines = session.execute(
        select(InvoiceLine.id, *(getattr(InvoiceLine, f) for f in LINE_FIELDS))
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(InvoiceLine.position)
    ).all()
    # The snapshots come back as one JSON array per line, built by PostgreSQL (a month of 250
    # units is ~70,000 of them; json.loads is much faster than building dicts row by row).
    facts = dict(session.execute(_SNAPSHOTS_JSON, {"invoice": invoice_id}).all())
    return [line_dict(dict(line._mapping), facts.get(line.id, [])) for line in lines]


_SNAPSHOTS_JSON = text(
    """
    SELECT s.line_id,
           json_agg(json_build_object('fact_id', s.fact_id, 'day', to_char(s.day, 'YYYY-MM-DD'),
                                      'quantity_sum', s.quantity_sum,
                                      'distinct_subjects', s.distinct_subjects,
                                      'fact_hash', s.fact_hash) ORDER BY s.fact_id)
    FROM platform.billing_invoice_line_facts s
    JOIN platform.billing_invoice_lines l ON l.id = s.line_id
    WHERE l.invoice_id = :invoice
    GROUP BY s.line_id
    """
)


def seal(session: Session, invoice: Invoice, *, lines: list[dict] | None = None) -> Sealed:
    """Hash a document about to become final: header from the object; its lines as stored
    (read back, or ``lines`` when the caller has just compared or written exactly those)."""
    session.flush()
    document = payload(invoice, lines if lines is not None else stored_lines(session, invoice.id))
    return Sealed(sha256(document), locator(document))


# -- verification ---------------------------------------------------------------------------------


def _locator_of(session: Session, invoice_id: int) -> dict | None:
    event = session.scalar(
        select(PlatformAuditEvent)
        .where(
            PlatformAuditEvent.entity == "billing_invoice",
            PlatformAuditEvent.entity_id == str(invoice_id),
            PlatformAuditEvent.action.in_(("finalize", "credit_note")),
        )
        .order_by(PlatformAuditEvent.id.desc())
        .limit(1)
    )
    return (event.data or {}).get("locator") if event is not None else None


def _where(session: Session, name: str, document: dict, lines: list, recorded: dict | None) -> str:
    """Name the altered part of a document whose hash no longer matches."""
    if recorded is None:
        return f"{name}: nội dung đã bị sửa / its content was altered (content_hash mismatch)"
    now = locator(document)
    if now["header"] != recorded.get("header"):
        return (
            f"{name}: phần đầu (tổng tiền, kỳ, số...) đã bị sửa / "
            "its header (totals, period, number...) was altered"
        )
    before = {pos: (fields, facts) for pos, fields, facts in recorded.get("lines", [])}
    after = {pos: (fields, facts) for pos, fields, facts in now["lines"]}
    for position in sorted(set(before) | set(after)):
        if position not in after:
            return f"{name}, dòng {position}: đã bị xóa / line {position} was deleted"
        if position not in before:
            return f"{name}, dòng {position}: dòng lạ được thêm / line {position} was added"
        if before[position][0] != after[position][0]:
            return f"{name}, dòng {position}: đã bị sửa / line {position} was altered"
        if before[position][1] != after[position][1]:
            line = next(line for line in document["lines"] if line["position"] == position)
            return f"{name}, dòng {position}: {_which_snapshot(session, line['facts'])}"
    return f"{name}: nội dung đã bị sửa / its content was altered (content_hash mismatch)"


def _which_snapshot(session: Session, facts: list[dict]) -> str:
    """The first snapshot that disagrees with its fact, when that fact has not changed since."""
    current = {
        row.id: row
        for row in session.execute(
            select(
                DailyFact.id, DailyFact.content_hash, DailyFact.quantity_sum, DailyFact.distinct_subjects
            ).where(DailyFact.id.in_([f["fact_id"] for f in facts]))
        )
    }
    for snap in facts:
        fact = current.get(snap["fact_id"])
        if fact is None or fact.content_hash != snap["fact_hash"]:
            continue  # the fact changed since (late events) or vanished: it cannot tell
        if (fact.quantity_sum, fact.distinct_subjects) != (snap["quantity_sum"], snap["distinct_subjects"]):
            return (
                f"bản chụp số liệu ngày {snap['fact_id']} ({snap['day']}) đã bị sửa / "
                f"the snapshot of daily fact {snap['fact_id']} ({snap['day']}) was altered"
            )
    return "bản chụp số liệu ngày đã bị sửa / a daily fact snapshot was altered"


def verify_invoices(platform_session: Session, *, contract_ids: Iterable[int] | None = None) -> str | None:
    """Recompute every final document's hash and link (of ``contract_ids`` only, when given);
    the first problem found, or None."""
    session = platform_session
    contracts = select(Contract).order_by(Contract.id)
    if contract_ids is not None:
        contracts = contracts.where(Contract.id.in_(list(contract_ids)))
    for contract in session.scalars(contracts).all():
        documents = session.scalars(
            select(Invoice)
            .where(Invoice.contract_id == contract.id, Invoice.status == FINAL)
            .order_by(Invoice.sequence_no)
        ).all()
        previous: Invoice | None = None
        expected = 1
        for invoice in documents:
            name = f"hóa đơn / invoice {invoice.number}"
            if invoice.sequence_no != expected:
                missing = f"{contract.number}-{expected:06d}"
                return (
                    f"{name}: thiếu chứng từ số {missing} trước nó (dãy số nhảy từ {expected - 1} lên "
                    f"{invoice.sequence_no}) / document {missing} before it is missing"
                )
            if invoice.number != f"{contract.number}-{invoice.sequence_no:06d}":
                return f"{name}: số hiệu không khớp số thứ tự / its number does not match its sequence"
            lines = stored_lines(session, invoice.id)
            document = payload(invoice, lines)
            if sha256(document) != invoice.content_hash:
                return _where(session, name, document, lines, _locator_of(session, invoice.id))
            want = previous.content_hash if previous is not None else None
            if invoice.previous_hash != want:
                before = previous.number if previous is not None else "—"
                return (
                    f"{name}: mã băm trước không khớp chứng từ {before} / its previous_hash does not match "
                    f"document {before}"
                )
            previous, expected = invoice, expected + 1
        next_number = session.scalar(
            select(InvoiceSequence.next_number).where(InvoiceSequence.contract_id == contract.id)
        )
        if documents and next_number != expected:
            last = f"{contract.number}-{next_number - 1:06d}"
            return (
                f"hợp đồng / contract {contract.number}: chứng từ cuối {last} bị thiếu / the last document "
                f"{last} is missing (sequence at {next_number}, chain ends at {expected - 1})"
            )
    return None
