"""Invoice exports (issue #6): the PDF (Vietnamese, per-unit breakdown, both hashes), the lines
as CSV and XLSX, and the period's raw usage as JSON lines anyone can re-aggregate.

The raw usage export holds every usage event of the contract's units whose Asia/Ho_Chi_Minh
day falls in the period, one JSON object a line, ordered by tenant then event id::

    {"tenant": "<slug>", "tenant_id": 7, "source": "dossier.received", "event_id": "HP-...",
     "metric": "dossiers_received", "dimension": "counter", "quantity": 1, "subject": null,
     "occurred_at": "2026-01-02T02:03:04.000000Z", "day": "2026-01-02", "row_hash": "<sha256>"}

Re-aggregation (docs/invoices.md gives the full rules and a script): group by tenant, metric
and calendar month of ``day``; "sum" metrics add ``quantity``; "distinct" metrics count the
distinct non-null ``subject`` values of the month. Those are the invoice's usage quantities.
``row_hash`` re-derives from the other fields (app/core/usage.py ``usage_hash``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from app.core.usage import METRICS
from app.documents.pdf import HEADINGS, Sheet, fit_row
from billing.invoices import contract_unit_ids, dong, ordered_units
from billing.models import CREDIT_NOTE, DRAFT, Contract, Invoice, InvoiceLine, InvoiceLineFact
from tenants.engines import ShardEngines
from tenants.models import Tenant

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
A4 = (210, 297)
KIND_LABELS = {
    "unit_fee": ("Phí thuê bao", "Unit fee"),
    "setup_fee": ("Phí khởi tạo", "Setup fee"),
    "usage": ("Sử dụng (trong hạn mức)", "Usage (within quota)"),
    "overage": ("Vượt hạn mức", "Overage"),
    "discount": ("Chiết khấu", "Discount"),
    "adjustment": ("Điều chỉnh", "Adjustment"),
    "credit": ("Điều chỉnh giảm", "Credit"),
}
COLUMNS = (
    "position",
    "kind",
    "tenant",
    "tenant_name",
    "metric",
    "description_vi",
    "description_en",
    "quantity",
    "unit_price",
    "amount",
    "is_late_adjustment",
    "reason",
    "computation",
    "fact_ids",
)


def file_stem(invoice: Invoice) -> str:
    return (invoice.number or f"nhap-{invoice.id}-{invoice.period_start:%Y%m}").replace("/", "-")


def _rows(session: Session, invoice: Invoice) -> list[list]:
    ids = {line.tenant_id for line in invoice.lines if line.tenant_id is not None}
    tenants = {t.id: t for t in session.scalars(select(Tenant).where(Tenant.id.in_(ids)))}
    facts = fact_ids(session, invoice.id)
    rows = []
    for line in invoice.lines:
        tenant = tenants.get(line.tenant_id)
        rows.append(
            [
                line.position,
                line.kind,
                tenant.slug if tenant else "",
                tenant.name if tenant else "",
                line.metric or "",
                line.description_vi,
                line.description_en,
                line.quantity,
                line.unit_price,
                line.amount,
                "yes" if line.is_late_adjustment else "",
                line.reason or "",
                line.computation,
                " ".join(str(fact_id) for fact_id in facts.get(line.id, [])),
            ]
        )
    return rows


def fact_ids(session: Session, invoice_id: int) -> dict[int, list[int]]:
    """Each line's linked daily fact ids, in one query (a month of 250 units has ~70,000)."""
    rows = session.execute(
        select(
            InvoiceLineFact.line_id,
            func.array_agg(aggregate_order_by(InvoiceLineFact.fact_id, InvoiceLineFact.fact_id)),
        )
        .join(InvoiceLine, InvoiceLine.id == InvoiceLineFact.line_id)
        .where(InvoiceLine.invoice_id == invoice_id)
        .group_by(InvoiceLineFact.line_id)
    )
    return {line_id: list(ids) for line_id, ids in rows}


def lines_csv(session: Session, invoice: Invoice) -> bytes:
    """The lines as UTF-8 CSV (with a BOM so spreadsheet programs read the Vietnamese right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(_rows(session, invoice))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _clean(value):
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def lines_xlsx(session: Session, invoice: Invoice, contract: Contract) -> bytes:
    """The lines in a workbook: a header block, then one row a line; amounts are numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Dong hoa don"
    sheet.append(["Hóa đơn / Invoice", invoice.number or "BẢN NHÁP / DRAFT"])
    sheet.append(["Hợp đồng / Contract", contract.number])
    sheet.append(["Kỳ / Period", invoice.period_start.isoformat(), invoice.period_end.isoformat()])
    sheet.append(["Tổng / Total (VND)", invoice.total])
    sheet.append(["Mã băm / Hash", invoice.content_hash or ""])
    sheet.append(["Mã băm trước / Previous hash", invoice.previous_hash or ""])
    sheet.append([])
    sheet.append(list(COLUMNS))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in _rows(session, invoice):
        sheet.append([_clean(value) for value in row])
    for column, width in zip(
        "ABCDEFGHIJKLMN", (6, 12, 14, 28, 20, 50, 40, 10, 12, 14, 6, 30, 80, 20), strict=True
    ):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=9):
        row[12].alignment = Alignment(wrap_text=True, vertical="top")
        for index in (7, 8, 9):
            row[index].number_format = "#,##0"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- the PDF --------------------------------------------------------------------------------------


class InvoiceSheet(Sheet):
    """The forms' page; U+2212 (the minus of amounts and computations) printed as "-", which
    the embedded font subset otherwise drops (a credit note's total would read positive)."""

    def normalize_text(self, text: str) -> str:
        return super().normalize_text(text.replace("\u2212", "-"))


def invoice_pdf(session: Session, invoice: Invoice, contract: Contract) -> bytes:
    """The invoice in Vietnamese, per unit, with its computation, totals and both hashes."""
    is_credit = invoice.kind == CREDIT_NOTE
    title = "HÓA ĐƠN ĐIỀU CHỈNH GIẢM" if is_credit else "HÓA ĐƠN DỊCH VỤ THUÊ NỀN TẢNG MỘT CỬA"
    pdf = InvoiceSheet(size=A4, title=f"{title} {invoice.number or ''}".strip())
    pdf.text_line(contract.provider_party, style="B", size=10)
    pdf.text_line(title, style="B", size=13, align="C")
    if invoice.status == DRAFT:
        pdf.text_line(
            "BẢN NHÁP — chưa chốt, số liệu còn được cập nhật, không có giá trị thanh toán",
            style="I",
            size=9,
            align="C",
        )
    pdf.ln(2)
    pdf.labelled("Số:", invoice.number or "(chưa cấp số)", bold=True)
    pdf.labelled("Hợp đồng:", contract.number)
    pdf.labelled("Bên cung cấp:", contract.provider_party)
    pdf.labelled("Bên thuê:", contract.city_party)
    last = invoice.period_end.toordinal() - 1
    pdf.labelled(
        "Kỳ tính phí:",
        f"từ ngày {invoice.period_start:%d/%m/%Y} đến hết ngày {date.fromordinal(last):%d/%m/%Y}",
    )
    if invoice.finalized_at:
        at = invoice.finalized_at.astimezone(LOCAL_TZ)
        pdf.labelled("Ngày chốt:", f"{at:%d/%m/%Y %H:%M} ({invoice.finalized_by_label or ''})")
    if invoice.reason:
        pdf.labelled("Lý do:", invoice.reason)
    pdf.labelled("Đơn vị tiền tệ:", "VND (đồng)")
    pdf.ln(2)

    widths = (52, 14, 24, 26)
    for tenant, lines in ordered_units(session, invoice):
        heading = f"{tenant.name} ({tenant.slug})" if tenant else "Các khoản chung của hợp đồng"
        pdf.text_line(heading, style="B", size=10)
        with pdf.table(
            col_widths=widths,
            text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
            line_height=4,
            headings_style=HEADINGS,
        ) as table:
            table.row(["Nội dung / cách tính", "Số lượng", "Đơn giá (đ)", "Thành tiền (đ)"])
            for line in lines:
                label = KIND_LABELS.get(line.kind, (line.kind,))[0]
                late = " [ĐIỀU CHỈNH SỐ LIỆU ĐẾN MUỘN]" if line.is_late_adjustment else ""
                body = f"{label}{late}: {line.description_vi}\n{line.computation}"
                if line.reason and not line.is_late_adjustment:
                    body += f"\nLý do: {line.reason}"
                table.row(
                    fit_row(
                        pdf,
                        widths,
                        [
                            body,
                            _n(line.quantity),
                            _n(line.unit_price) if line.unit_price else "",
                            _n(line.amount),
                        ],
                    )
                )
        pdf.font("B", 9)
        pdf.cell(0, 5, f"Cộng đơn vị: {dong(sum(line.amount for line in lines))}", align="R")
        pdf.ln(7)

    pdf.ln(1)
    if not is_credit:
        pdf.labelled("Cộng tiền dịch vụ:", dong(invoice.subtotal))
        pdf.labelled("Chiết khấu:", dong(-invoice.discount) if invoice.discount else "0 đ")
        manual = invoice.total - invoice.subtotal + invoice.discount
        if manual:
            pdf.labelled("Điều chỉnh thủ công:", dong(manual))
    pdf.labelled("TỔNG CỘNG:", dong(invoice.total), bold=True, size=11)
    pdf.ln(3)
    pdf.text_line("Kiểm chứng (SHA-256, quy tắc trong docs/invoices.md):", style="B", size=8)
    pdf.text_line(f"Mã băm nội dung: {invoice.content_hash or '(chưa chốt)'}", size=7.5)
    pdf.text_line(f"Mã băm chứng từ trước: {invoice.previous_hash or '(chứng từ đầu tiên)'}", size=7.5)
    return bytes(pdf.output())


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


# -- raw usage, JSON lines ------------------------------------------------------------------------

_EVENTS = text(
    """
    SELECT e.id, e.tenant_id, e.source, e.event_id, e.metric, e.dimension, e.quantity, e.subject,
           e.occurred_at, (e.occurred_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day, e.row_hash
    FROM shard.usage_events e
    WHERE e.tenant_id = ANY(:tenants) AND e.occurred_at >= :start AND e.occurred_at < :end
    ORDER BY e.tenant_id, e.id
    """
)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


def usage_jsonl(
    session: Session, shards: ShardEngines, invoice: Invoice, contract: Contract
) -> Iterator[bytes]:
    """Every usage event of the contract's units in the invoice's period, one JSON object a line."""
    unit_ids = contract_unit_ids(session, contract)
    tenants = session.execute(
        select(Tenant.id, Tenant.slug, Tenant.shard).where(Tenant.id.in_(unit_ids))
    ).all()
    slugs = {tenant_id: slug for tenant_id, slug, _ in tenants}
    by_shard: dict[str, list[int]] = {}
    for tenant_id, _, shard in sorted(tenants, key=lambda t: t[1]):
        by_shard.setdefault(shard, []).append(tenant_id)
    params = {"start": _day_start(invoice.period_start), "end": _day_start(invoice.period_end)}
    order = {tenant_id: n for n, (tenant_id, _, _) in enumerate(sorted(tenants, key=lambda t: t[1]))}
    rows = []
    for shard, ids in sorted(by_shard.items()):
        with shards.engine(shard).connect() as conn:
            rows += conn.execute(_EVENTS, {**params, "tenants": ids}).all()
    rows.sort(key=lambda r: (order[r.tenant_id], r.id))
    for row in rows:
        yield (
            json.dumps(
                {
                    "tenant": slugs[row.tenant_id],
                    "tenant_id": row.tenant_id,
                    "source": row.source,
                    "event_id": row.event_id,
                    "metric": row.metric,
                    "dimension": row.dimension,
                    "quantity": row.quantity,
                    "subject": row.subject,
                    "occurred_at": row.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "day": row.day.isoformat(),
                    "row_hash": row.row_hash,
                },
                ensure_ascii=False,
                sort_keys=True,
            )
            + "\n"
        ).encode()


def reaggregate(lines: Iterator[str | bytes]) -> dict[tuple[str, str, str], int]:
    """The documented re-aggregation of a raw usage export: ``{(tenant, metric, "YYYY-MM"): quantity}``.

    Plain Python, the same rules as docs/invoices.md; kept here so the docs' script is tested.
    """
    sums: dict[tuple[str, str, str], int] = {}
    subjects: dict[tuple[str, str, str], set] = {}
    for raw in lines:
        event = json.loads(raw)
        key = (event["tenant"], event["metric"], event["day"][:7])
        if METRICS[event["metric"]][3] == "distinct":
            if event["subject"] is not None:
                subjects.setdefault(key, set()).add(event["subject"])
            subjects.setdefault(key, set())
        else:
            sums[key] = sums.get(key, 0) + event["quantity"]
    return {**sums, **{key: len(values) for key, values in subjects.items()}}
