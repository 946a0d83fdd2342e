"""Invoice exports (PDF, CSV, XLSX, raw usage JSONL re-aggregated by hand) and the console pages:
ops only, CSRF, refusals shown, every change audited (issue #6)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from billing import invoice_exports, invoices
from billing.models import FINAL, Contract, Invoice
from tests.billing_invoice_support import LATER, aggregate, make_world, put_fact, record_events, remove_worlds
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly

VN = ZoneInfo("Asia/Ho_Chi_Minh")
JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


@pytest.fixture(autouse=True)
def _the_city(city, platform):
    """Each test's contract hangs under the one city (see make_world); removed afterwards."""
    yield city
    remove_worlds(platform)


def _draft(platform, world, start=JAN, end=FEB):
    with platform.shards.platform_session() as session, session.begin():
        contract = session.get(Contract, world.contract_id)
        return invoices.refresh_draft(session, contract, start, end, now=LATER).id


def _finalize(platform, invoice_id):
    with platform.shards.platform_session() as session, session.begin():
        invoices.finalize_invoice(session, invoice_id, actor_label="ops", now=LATER)


def _events(world):
    """January 2025 for the district and the commune, with the month's edges in Hà Nội time."""
    district = [
        {"day": date(2025, 1, 3), "metric": "dossiers_received", "dimension": "counter"} for _ in range(120)
    ]
    district += [
        {"day": date(2025, 1, 4), "metric": "dossiers_received", "dimension": "online"} for _ in range(30)
    ]
    # 00:10 on 1 January in Hà Nội is still 31 December in UTC: it belongs to January.
    district.append(
        {"day": JAN, "metric": "dossiers_received", "at": datetime.combine(JAN, time(0, 10), tzinfo=VN)}
    )
    # 00:30 on 1 February in Hà Nội (31 January in UTC) belongs to February: not in the export.
    district.append(
        {"day": FEB, "metric": "dossiers_received", "at": datetime.combine(FEB, time(0, 30), tzinfo=VN)}
    )
    # Three officials active on several days: 3 distinct in the month, not 7.
    for day, who in ((2, "a"), (3, "a"), (3, "b"), (10, "b"), (11, "c"), (12, "a"), (20, "c")):
        district.append(
            {
                "day": date(2025, 1, day),
                "metric": "active_officials",
                "subject": who,
                "event_id": f"{who}:{day}",
                "source": "official.active",
            }
        )
    district.append({"day": date(2025, 1, 8), "metric": "attachment_bytes", "quantity": 123_456})
    commune = [{"day": date(2025, 1, 15), "metric": "dossiers_received"} for _ in range(7)]
    return district, commune


def test_raw_usage_export_reaggregates_to_the_invoice_quantities(platform, app):
    world = make_world(platform)
    district, commune = _events(world)
    record_events(platform, world.district_id, district)
    record_events(platform, world.commune_id, commune)
    for tenant_id in (world.district_id, world.commune_id):
        aggregate(platform, tenant_id, date(2024, 12, 31), date(2025, 2, 1))
    with app.app_context():
        invoice_id = _draft(platform, world)
    with platform.shards.platform_session() as session:
        invoice = session.get(Invoice, invoice_id)
        contract = session.get(Contract, world.contract_id)
        raw = list(invoice_exports.usage_jsonl(session, platform.shards, invoice, contract))
        slugs = {world.district_id: world.district_slug, world.commune_id: world.commune_slug}
        billed = {
            (slugs[line.tenant_id], line.metric): line.quantity
            for line in invoice.lines
            if line.kind in ("usage", "overage")
        }

    # Re-aggregation with nothing but the documented rules (docs/invoices.md).
    distinct_metrics = {"active_officials", "active_citizens"}
    sums: dict = {}
    subjects: dict = {}
    for text_line in raw:
        event = json.loads(text_line)
        assert event["day"].startswith("2025-01")
        key = (event["tenant"], event["metric"])
        if event["metric"] in distinct_metrics:
            subjects.setdefault(key, set()).add(event["subject"])
        else:
            sums[key] = sums.get(key, 0) + event["quantity"]
    recount = {**sums, **{key: len(found) for key, found in subjects.items()}}

    assert recount == billed
    assert billed[(world.district_slug, "dossiers_received")] == 151  # 120 + 30 + the 00:10 one
    assert billed[(world.district_slug, "active_officials")] == 3
    assert billed[(world.district_slug, "attachment_bytes")] == 123_456
    assert billed[(world.commune_slug, "dossiers_received")] == 7
    # The batched distinct count the invoice uses agrees with H2's period_quantity.
    from billing.aggregate import period_quantity

    with app.app_context():
        assert period_quantity(world.district_id, "active_officials", JAN, FEB) == 3
        assert period_quantity(world.district_id, "dossiers_received", JAN, FEB) == 151
    assert invoice_exports.reaggregate(raw) == {(t, m, "2025-01"): q for (t, m), q in billed.items()}
    first = json.loads(raw[0])
    assert set(first) == {
        "tenant", "tenant_id", "source", "event_id", "metric", "dimension", "quantity", "subject",
        "occurred_at", "day", "row_hash",
    }  # fmt: skip


def _invoice_with_lines(platform, *, final=True):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        put_fact(session, world.district_id, date(2025, 1, 2), "dossiers_received", 400)
    invoice_id = _draft(platform, world)
    if final:
        _finalize(platform, invoice_id)
    return world, invoice_id


def test_pdf_csv_and_xlsx_carry_the_lines_units_and_hashes(platform):
    world, invoice_id = _invoice_with_lines(platform)
    with platform.shards.platform_session() as session:
        invoice = session.get(Invoice, invoice_id)
        contract = session.get(Contract, world.contract_id)
        pdf = invoice_exports.invoice_pdf(session, invoice, contract)
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        flat = " ".join(text.split())
        assert "HÓA ĐƠN DỊCH VỤ THUÊ NỀN TẢNG MỘT CỬA" in flat and invoice.number in flat
        assert "Quận Lê Chân" in flat and "Phường An Biên" in flat  # the per-unit breakdown
        assert invoice.content_hash in text.replace("\n", "") and "Mã băm chứng từ trước" in flat
        assert "TỔNG CỘNG: 7.721.592 đ" in flat  # the hand-computed total of the month
        assert "1.000.000 đ × 22/31 ngày = 709.677 đ" in flat  # computations are printed

        rows = list(csv.reader(io.StringIO(invoice_exports.lines_csv(session, invoice).decode("utf-8-sig"))))
        assert rows[0][0] == "position" and len(rows) == len(invoice.lines) + 1
        assert sum(int(r[9]) for r in rows[1:]) == invoice.total == 7_721_592

        book = load_workbook(io.BytesIO(invoice_exports.lines_xlsx(session, invoice, contract)))
        sheet = book.active
        assert sheet["B1"].value == invoice.number and sheet["B5"].value == invoice.content_hash
        amounts = [row[9] for row in sheet.iter_rows(min_row=9, values_only=True)]
        assert sum(amounts) == 7_721_592


# -- console ---------------------------------------------------------------------------------------


@pytest.fixture
def console(client_for, platform):
    ops = make_account(platform, platform_roles=["provider_ops"])
    client = client_for(host="admin.localhost")
    sign_in_directly(client, ops, site="console")
    client.ops = ops
    return client


def _audits(platform, invoice_id, action):
    with platform.shards.platform_session() as session:
        return session.scalars(
            select(PlatformAuditEvent).where(
                PlatformAuditEvent.entity == "billing_invoice",
                PlatformAuditEvent.entity_id == str(invoice_id),
                PlatformAuditEvent.action == action,
            )
        ).all()


def test_ops_see_lines_per_unit_and_download_every_export(console, platform):
    world, invoice_id = _invoice_with_lines(platform)
    listing = console.get(f"/billing/invoices/?contract={world.contract_id}")
    assert listing.status_code == 200 and f"{world.contract_number}-000001" in listing.text
    page = console.get(f"/billing/invoices/{invoice_id}")
    assert page.status_code == 200
    for text in ("Quận Lê Chân", "Phường An Biên", "709.677 đ", "7.721.592 đ", "Mã băm chứng từ trước"):
        assert text in page.text
    assert "/credit-notes" in page.text and "/finalize" not in page.text  # final: credit notes only
    for suffix, kind in (
        ("invoice.pdf", "application/pdf"),
        ("lines.csv", "text/csv"),
        ("lines.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("usage.jsonl", "application/x-ndjson"),
    ):
        response = console.get(f"/billing/invoices/{invoice_id}/{suffix}")
        assert response.status_code == 200 and response.mimetype == kind, suffix
        assert "attachment" in response.headers["Content-Disposition"]


def test_finalize_credit_and_adjust_from_the_console(console, platform, city):
    world, invoice_id = _invoice_with_lines(platform, final=False)
    response = console.post(f"/billing/invoices/{invoice_id}/finalize", data={"csrf_token": TEST_CSRF})
    assert response.status_code == 303
    with platform.shards.platform_session() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice.status == FINAL and invoice.finalized_by_label == console.ops.email
    (event,) = _audits(platform, invoice_id, "finalize")
    assert event.actor_account_id == console.ops.id and event.data["number"] == invoice.number

    # Finalizing again is refused, clearly, with the page.
    again = console.post(f"/billing/invoices/{invoice_id}/finalize", data={"csrf_token": TEST_CSRF})
    assert again.status_code == 409 and "đã chốt rồi" in again.text

    # A credit note larger than the invoice is refused, and says what is left.
    too_much = console.post(
        f"/billing/invoices/{invoice_id}/credit-notes",
        data={"csrf_token": TEST_CSRF, "amount": "7.721.593", "reason": "SLA"},
    )
    assert too_much.status_code == 409 and "7.721.592 đ" in too_much.text
    no_reason = console.post(
        f"/billing/invoices/{invoice_id}/credit-notes", data={"csrf_token": TEST_CSRF, "amount": "100"}
    )
    assert no_reason.status_code == 422 and "lý do" in no_reason.text
    for amount in ("1e6", "a123", "1-2", "9" * 30):
        bad_amount = console.post(
            f"/billing/invoices/{invoice_id}/credit-notes",
            data={"csrf_token": TEST_CSRF, "amount": amount, "reason": "x"},
        )
        assert bad_amount.status_code == 422, amount
    ok = console.post(
        f"/billing/invoices/{invoice_id}/credit-notes",
        data={"csrf_token": TEST_CSRF, "amount": "500.000", "reason": "Gián đoạn 4 giờ ngày 20/01"},
    )
    assert ok.status_code == 303
    with platform.shards.platform_session() as session:
        note = session.scalar(select(Invoice).where(Invoice.credits_invoice_id == invoice_id))
        assert (note.number, note.total, note.status) == (f"{world.contract_number}-000002", -500_000, FINAL)
        assert _audits(platform, note.id, "credit_note")[0].actor_label == console.ops.email

    # An adjustment goes on the next draft, made from the list page.
    made = console.post(
        "/billing/invoices/drafts",
        data={"csrf_token": TEST_CSRF, "contract_id": world.contract_id, "period_start": "2025-02-01"},
    )
    assert made.status_code == 303
    feb_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert _audits(platform, feb_id, "refresh")
    added = console.post(
        f"/billing/invoices/{feb_id}/adjustments",
        data={
            "csrf_token": TEST_CSRF,
            "amount": "-200.000",
            "description": "Bù gián đoạn",
            "reason": "SLA tháng 1",
            "tenant": world.district_slug,
        },
    )
    assert added.status_code == 303
    page = console.get(f"/billing/invoices/{feb_id}").text
    assert "Bù gián đoạn" in page and "SLA tháng 1" in page and "−200.000 đ" in page
    assert _audits(platform, feb_id, "adjust")[0].data["amount"] == -200_000
    # A unit outside the contract is refused.
    outsider = console.post(
        f"/billing/invoices/{feb_id}/adjustments",
        data={"csrf_token": TEST_CSRF, "amount": "1", "description": "x", "reason": "y", "tenant": city.slug},
    )
    assert outsider.status_code == 422 and "không thuộc hợp đồng" in outsider.text
    # On a final invoice an adjustment is refused.
    refused = console.post(
        f"/billing/invoices/{invoice_id}/adjustments",
        data={"csrf_token": TEST_CSRF, "amount": "1", "description": "x", "reason": "y"},
    )
    assert refused.status_code == 409


def test_posts_need_the_csrf_token(console, platform):
    _, invoice_id = _invoice_with_lines(platform, final=False)
    assert console.post(f"/billing/invoices/{invoice_id}/finalize").status_code == 400
    assert (
        console.post(f"/billing/invoices/{invoice_id}/finalize", data={"csrf_token": "x"}).status_code == 400
    )
    with platform.shards.platform_session() as session:
        assert session.get(Invoice, invoice_id).status == "draft"
    assert not _audits(platform, invoice_id, "finalize")


def test_only_provider_ops_reach_invoices(client_for, platform, make_tenant):
    _, invoice_id = _invoice_with_lines(platform, final=False)
    paths = [
        "/billing/invoices/",
        f"/billing/invoices/{invoice_id}",
        f"/billing/invoices/{invoice_id}/lines.csv",
    ]
    anonymous = client_for(host="admin.localhost")
    for path in paths:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    unit = make_tenant()
    for account in (
        make_account(platform, memberships=[(unit, ["unit_admin"])]),
        make_account(platform, platform_roles=["city_auditor"]),
    ):
        client = client_for(host="admin.localhost")
        sign_in_directly(client, account, site="console")
        for path in paths:
            assert client.get(path).status_code == 403, path
        posted = client.post(f"/billing/invoices/{invoice_id}/finalize", data={"csrf_token": TEST_CSRF})
        assert posted.status_code == 403
    # A unit's own host has no such pages.
    assert client_for(unit).get(f"/billing/invoices/{invoice_id}").status_code == 404
    with platform.shards.platform_session() as session:
        assert session.get(Invoice, invoice_id).status == "draft"


def test_an_unknown_invoice_is_404(console):
    assert console.get("/billing/invoices/999999999").status_code == 404
    assert (
        console.post("/billing/invoices/999999999/finalize", data={"csrf_token": TEST_CSRF}).status_code
        == 404
    )


def test_a_draft_for_a_period_outside_the_contract_is_refused(console, platform):
    world = make_world(platform)
    for period in ("2024-12-01", "2025-01-15", "not-a-day"):
        response = console.post(
            "/billing/invoices/drafts",
            data={"csrf_token": TEST_CSRF, "contract_id": world.contract_id, "period_start": period},
        )
        assert response.status_code == 422, period
    with platform.shards.platform_session() as session:
        assert not session.scalars(select(Invoice).where(Invoice.contract_id == world.contract_id)).all()


def test_a_credit_note_prints_as_one(console, platform):
    _, invoice_id = _invoice_with_lines(platform)
    console.post(
        f"/billing/invoices/{invoice_id}/credit-notes",
        data={"csrf_token": TEST_CSRF, "amount": "1.000", "reason": "Sai đơn giá"},
    )
    with platform.shards.platform_session() as session:
        note = session.scalar(select(Invoice).where(Invoice.credits_invoice_id == invoice_id))
        number, content_hash = note.number, note.content_hash
    page = console.get(f"/billing/invoices/{note.id}")
    assert page.status_code == 200 and "Sai đơn giá" in page.text and "/credit-notes" not in page.text
    pdf = console.get(f"/billing/invoices/{note.id}/invoice.pdf")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).split())
    assert "HÓA ĐƠN ĐIỀU CHỈNH GIẢM" in text and number in text and "TỔNG CỘNG: -1.000 đ" in text
    assert content_hash[:20] in text.replace(" ", "")
