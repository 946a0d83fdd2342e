"""The city audit console (issue #6): a city auditor reads every unit's usage against the
contract's quotas, drills from an invoice line down to the usage event ids, sees the
independent recount's differences; every view is audited; nobody else gets in, the auditor
gets no further, and the console writes nothing but its own audit rows."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import date, datetime, time, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from app.audit.platform_models import PlatformAuditEvent
from app.auth.models import Account
from app.core.sites import CONSOLE as CONSOLE_SITE
from app.core.usage import record_usage
from billing.aggregate import aggregate_tenant, period_quantity
from billing.models import (
    Contract,
    DailyFact,
    Invoice,
    InvoiceLine,
    InvoiceLineFact,
    PlanMetric,
    PricePlan,
)
from tests.test_auth_support import make_account, sign_in_directly

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CONSOLE = "admin.localhost"
MONTH = date(2041, 3, 1)  # far from other tests' contracts and invoices
D1, D2, D3 = date(2041, 3, 4), date(2041, 3, 5), date(2041, 3, 20)
QUOTA = 100  # dossiers_received per unit per month


# --- data -----------------------------------------------------------------------------


def add_events(
    platform, tenant, metric, day, count, *, dimension="", subjects=None, prefix=None
) -> list[str]:
    """Record ``count`` usage events of ``day`` (Vietnam time) on the tenant's shard; their event ids."""
    prefix = prefix or f"{tenant.slug}-{metric}-{day.isoformat()}-{dimension}"
    ids = [f"{prefix}-{i:03d}" for i in range(count)]
    with Session(platform.shards.engine(tenant.shard)) as session, session.begin():
        for i, event_id in enumerate(ids):
            record_usage(
                session,
                tenant_id=tenant.id,
                source=f"test.{metric}",
                event_id=event_id,
                metric=metric,
                dimension=dimension,
                subject=subjects[i] if subjects else None,
                occurred_at=datetime.combine(day, time(8), VN) + timedelta(minutes=i),
            )
    return ids


def add_fact(platform, tenant, day, metric, quantity, *, dimension="") -> int:
    """A forged daily fact, with no event behind it (made-up hashes)."""
    with platform.shards.platform_session() as session, session.begin():
        fact = DailyFact(
            tenant_id=tenant.id,
            day=day,
            metric=metric,
            dimension=dimension,
            event_count=quantity,
            quantity_sum=quantity,
            quantity_max=1 if quantity else 0,
            distinct_subjects=0,
            events_digest=uuid.uuid4().hex * 2,
            content_hash=uuid.uuid4().hex * 2,
        )
        session.add(fact)
        session.flush()
        return fact.id


def aggregate(platform, tenant, first=MONTH, last=date(2041, 3, 31)) -> dict[tuple, int]:
    """Aggregate the unit's events of first..last into daily facts; (day, metric, dimension) -> fact id."""
    with (
        platform.shards.platform_session() as session,
        session.begin(),
        platform.shards.engine(tenant.shard).connect() as shard,
    ):
        aggregate_tenant(session, shard, tenant.id, first, last)
    with platform.shards.platform_session() as session:
        rows = session.execute(
            select(DailyFact.day, DailyFact.metric, DailyFact.dimension, DailyFact.id).where(
                DailyFact.tenant_id == tenant.id
            )
        )
        return {(day, metric, dimension): fact_id for day, metric, dimension, fact_id in rows}


@pytest.fixture(scope="module")
def contract(platform):
    """The city's contract for 2041 with a quota of 100 dossiers received per unit per month."""
    with platform.shards.platform_session() as session, session.begin():
        row = Contract(
            number=f"HĐ-AUDIT-{uuid.uuid4().hex[:8]}",
            provider_party="Nhà cung cấp thử",
            city_party="UBND thành phố thử",
            starts_on=date(2041, 1, 1),
            ends_on=date(2042, 1, 1),
        )
        row.plan = PricePlan(
            name="Gói thử",
            metrics=[
                PlanMetric(metric="dossiers_received", included=QUOTA, tiers=[]),
                PlanMetric(metric="active_officials", included=1, tiers=[]),
            ],
        )
        session.add(row)
        session.flush()
        return row.id, row.number


@pytest.fixture
def units(platform, make_tenant, contract):
    """Two units, the second on shard s2, with a month of usage aggregated into daily facts."""
    a = make_tenant("district")
    b = make_tenant("district", shard="s2")
    day1 = add_events(platform, a, "dossiers_received", D1, 104, dimension="counter")
    day2 = add_events(platform, a, "dossiers_received", D2, 3, dimension="online")
    add_events(platform, b, "dossiers_received", D1, 2, dimension="counter")
    # Active officials on s2: one person on two days, another on a third day -> 2 in the month
    # (the sum of the daily distinct counts would say 3).
    for day, who in ((D1, "7"), (D2, "7"), (D3, "9")):
        add_events(platform, b, "active_officials", day, 1, subjects=[who])
    fa, fb = aggregate(platform, a), aggregate(platform, b)
    facts = {
        "a1": fa[(D1, "dossiers_received", "counter")],
        "a2": fa[(D2, "dossiers_received", "online")],
        "b1": fb[(D1, "dossiers_received", "counter")],
    }
    assert len(fb) == 4
    return {"a": a, "b": b, "facts": facts, "day1_ids": day1, "day2_ids": day2}


@pytest.fixture
def auditor(platform):
    return make_account(platform, platform_roles=["city_auditor"])


@pytest.fixture
def audit_client(client_for, auditor):
    client = client_for(host=CONSOLE)
    sign_in_directly(client, auditor, site=CONSOLE_SITE)
    return client


_invoice_numbers = itertools.count(1)


def final_invoice(platform, contract, units) -> tuple[int, int]:
    """A final invoice (of a later 2041 month each time) whose overage line froze unit A's two
    daily facts of March."""
    contract_id, number = contract
    a = units["a"]
    n = next(_invoice_numbers)
    with platform.shards.platform_session() as session, session.begin():
        facts = [session.get(DailyFact, units["facts"][k]) for k in ("a1", "a2")]
        invoice = Invoice(
            contract_id=contract_id,
            status="final",
            sequence_no=n,
            number=f"{number}-{n:06d}",
            period_start=date(2041, 3 + n, 1),
            period_end=date(2041, 4 + n, 1),
            subtotal=3_500,
            total=3_500,
            content_hash="c" * 64,
        )
        line = InvoiceLine(
            position=1,
            kind="overage",
            tenant_id=a.id,
            metric="dossiers_received",
            description_vi="Hồ sơ tiếp nhận vượt hạn mức",
            description_en="Dossiers received over the quota",
            quantity=7,
            unit_price=500,
            amount=3_500,
            computation="(107 − 100) × 500 = 3.500 đ",
            facts=[
                InvoiceLineFact(
                    fact_id=f.id,
                    day=f.day,
                    quantity_sum=f.quantity_sum,
                    distinct_subjects=f.distinct_subjects,
                    fact_hash=f.content_hash,
                )
                for f in facts
            ],
        )
        invoice.lines = [
            line,
            InvoiceLine(
                position=2,
                kind="unit_fee",
                tenant_id=a.id,
                description_vi="Phí thuê bao",
                description_en="Unit fee",
                amount=0,
            ),
        ]
        session.add(invoice)
        session.flush()
        return invoice.id, line.id


def audit_count(platform, account_id: int) -> int:
    with platform.shards.platform_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(PlatformAuditEvent)
            .where(
                PlatformAuditEvent.entity == "billing_audit_view",
                PlatformAuditEvent.actor_account_id == account_id,
            )
        )


def last_audit(platform, account_id: int) -> PlatformAuditEvent:
    with platform.shards.platform_session() as session:
        return session.scalar(
            select(PlatformAuditEvent)
            .where(PlatformAuditEvent.actor_account_id == account_id)
            .order_by(PlatformAuditEvent.id.desc())
            .limit(1)
        )


# --- usage ------------------------------------------------------------------------------------


def test_auditor_sees_every_units_usage_against_the_quota(app, audit_client, units, contract):
    a, b = units["a"], units["b"]
    page = audit_client.get("/audit/?month=2041-03&months=3")
    assert page.status_code == 200, page.text
    html = page.text
    assert a.slug in html and b.slug in html and contract[1] in html
    assert re.search(
        rf"{a.slug}.*?<td>107</td>\s*<td>100</td>\s*<td>107</td>", html, re.S
    )  # 107 of 100: 107 %
    # A chart per metric: an accessible SVG (title + description) and its data table beside it.
    assert '<svg role="img" aria-labelledby="c-dossiers_received-title c-dossiers_received-desc"' in html
    assert re.search(r'<desc id="c-dossiers_received-desc">2041-01: 0.*2041-03: 109', html)
    assert "c-active_officials-title" in html

    usage = audit_client.get("/audit/usage.json?month=2041-03&months=3").get_json()
    rows = {(r["tenant"], r["metric"]): r for r in usage["rows"]}
    assert rows[(a.slug, "dossiers_received")]["quantity"] == 107
    assert rows[(a.slug, "dossiers_received")]["included"] == QUOTA
    assert rows[(a.slug, "dossiers_received")]["over_quota"] == 7
    assert rows[(b.slug, "dossiers_received")]["quantity"] == 2
    assert rows[(b.slug, "dossiers_received")]["shard"] == "s2"
    # Distinct officials of the month come from the raw events on s2: 2, not the days' sum 3.
    assert rows[(b.slug, "active_officials")]["quantity"] == 2
    with app.app_context():  # the same numbers as billing's own rule
        assert period_quantity(b.id, "active_officials", MONTH, date(2041, 4, 1)) == 2
        assert period_quantity(a.id, "dossiers_received", MONTH, date(2041, 4, 1)) == 107
    assert rows[(b.slug, "active_officials")]["over_quota"] == 1
    assert usage["contract"] == contract[1]
    assert usage["months"] == ["2041-01", "2041-02", "2041-03"]

    one = audit_client.get(
        f"/audit/usage.json?month=2041-03&tenant={b.slug}&metric=active_officials"
    ).get_json()
    assert [(r["tenant"], r["metric"], r["quantity"]) for r in one["rows"]] == [
        (b.slug, "active_officials", 2)
    ]
    assert one["series"][0]["points"][-1] == {"month": "2041-03", "quantity": 2, "quota": 1}


def test_auditor_reads_the_contracts_and_their_prices(audit_client, contract):
    body = audit_client.get("/audit/contracts.json").get_json()
    mine = next(c for c in body["contracts"] if c["number"] == contract[1])
    assert mine["starts_on"] == "2041-01-01" and mine["currency"] == "VND"
    assert {m["metric"]: m["included"] for m in mine["plan"]["metrics"]} == {
        "active_officials": 1,
        "dossiers_received": QUOTA,
    }
    html = audit_client.get("/audit/contracts").text
    assert contract[1] in html and "Hạn mức mỗi đơn vị mỗi tháng" in html


def test_usage_refuses_bad_parameters(audit_client):
    assert audit_client.get("/audit/?month=2041-13").status_code == 400
    assert audit_client.get("/audit/?months=99").status_code == 400
    assert audit_client.get("/audit/?metric=beers").status_code == 400
    assert audit_client.get("/audit/?tenant=no-such-unit").status_code == 404
    bad = audit_client.get("/audit/usage.json?month=soon")
    assert bad.status_code == 400 and "YYYY-MM" in bad.get_json()["message_en"]


# --- drill-down -------------------------------------------------------------------------------


def test_drill_down_from_invoice_line_to_event_ids(audit_client, platform, units, contract):
    invoice_id, line_id = final_invoice(platform, contract, units)
    a = units["a"]
    invoices = audit_client.get("/audit/invoices")
    assert f"/audit/invoices/{invoice_id}" in invoices.text
    invoice = audit_client.get(f"/audit/invoices/{invoice_id}")
    assert invoice.status_code == 200 and f"/audit/lines/{line_id}" in invoice.text
    assert "(107 − 100) × 500 = 3.500 đ" in invoice.text

    line = audit_client.get(f"/audit/lines/{line_id}.json").get_json()
    assert line["changed"] == 0
    assert [f["fact_id"] for f in line["facts"]] == [units["facts"]["a1"], units["facts"]["a2"]]
    assert "Mọi dữ liệu ngày khớp" in audit_client.get(f"/audit/lines/{line_id}").text

    fact_id = units["facts"]["a1"]
    page1 = audit_client.get(f"/audit/facts/{fact_id}.json").get_json()
    assert page1["differences"] == {} and page1["recount"]["event_count"] == 104
    assert page1["altered_events"] == [] and page1["waiting"] == 0
    assert page1["pages"] == 2 and len(page1["events"]) == 100
    page2 = audit_client.get(f"/audit/facts/{fact_id}.json?page=2").get_json()
    seen = [e["event_id"] for e in page1["events"] + page2["events"]]
    assert seen == units["day1_ids"]  # every event of the fact, in id order, none of another day
    html = audit_client.get(f"/audit/facts/{fact_id}?page=2").text
    assert units["day1_ids"][-1] in html and units["day1_ids"][0] not in html

    # Someone edits the fact after the invoice froze it: the line names the difference...
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            text("UPDATE platform.billing_daily_facts SET quantity_sum = 90 WHERE id = :id"), {"id": fact_id}
        )
    line = audit_client.get(f"/audit/lines/{line_id}.json").get_json()
    assert line["changed"] == 1
    assert line["facts"][0]["changes"] == ["quantity_sum", "content"]  # its hash no longer fits it
    assert (
        line["facts"][0]["frozen"]["quantity_sum"] == 104
        and line["facts"][0]["current"]["quantity_sum"] == 90
    )
    assert "quantity_sum" in audit_client.get(f"/audit/lines/{line_id}").text
    # ...and the fact page shows it no longer matches its events.
    fact = audit_client.get(f"/audit/facts/{fact_id}.json").get_json()
    assert fact["differences"]["quantity_sum"] == {"fact": 90, "events": 104}
    assert set(fact["differences"]) == {"quantity_sum", "content_hash"}
    assert 'role="alert"' in audit_client.get(f"/audit/facts/{fact_id}").text
    # A deleted fact is named too.
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            text("DELETE FROM platform.billing_daily_facts WHERE id = :id"), {"id": units["facts"]["a2"]}
        )
    line = audit_client.get(f"/audit/lines/{line_id}.json").get_json()
    assert line["facts"][1]["changes"] == ["missing"] and line["changed"] == 2

    facts = audit_client.get(
        f"/audit/facts.json?tenant={a.slug}&metric=dossiers_received&month=2041-03"
    ).get_json()
    assert [f["id"] for f in facts["facts"]] == [fact_id]
    assert audit_client.get("/audit/invoices/999999999").status_code == 404
    assert audit_client.get("/audit/lines/999999999.json").status_code == 404
    assert audit_client.get("/audit/facts/999999999").status_code == 404


def test_drill_down_through_an_invoice_billing_finalized(app, audit_client, platform, make_tenant):
    """The same path on an invoice made by billing/invoices.py: refreshed, finalized, chained."""
    from billing.invoice_exports import reaggregate
    from billing.invoices import finalize_invoice, refresh_draft

    unit = make_tenant("district", shard="s2")
    ids = add_events(platform, unit, "dossiers_received", date(2042, 1, 9), 12, dimension="postal")
    add_events(platform, unit, "dossiers_received", date(2042, 1, 10), 3, dimension="postal")
    facts = aggregate(platform, unit, date(2042, 1, 1), date(2042, 1, 31))
    with platform.shards.platform_session() as session, session.begin():
        contract = Contract(
            number=f"HĐ-AUDIT2-{uuid.uuid4().hex[:8]}",
            provider_party="Nhà cung cấp thử",
            city_party="UBND thử",
            city_tenant_id=unit.id,
            starts_on=date(2042, 1, 1),
            ends_on=date(2042, 2, 1),
        )
        contract.plan = PricePlan(
            name="Gói thử",
            metrics=[
                PlanMetric(
                    metric="dossiers_received", included=10, tiers=[{"up_to": None, "unit_price": 1_000}]
                )
            ],
        )
        session.add(contract)
        session.flush()
        with app.app_context():
            draft = refresh_draft(session, contract, date(2042, 1, 1), date(2042, 2, 1))
            invoice = finalize_invoice(
                session, draft.id, actor_label="test", now=datetime(2042, 3, 1, 9, tzinfo=VN)
            )
        invoice_id, number = invoice.id, invoice.number
    page = audit_client.get(f"/audit/invoices/{invoice_id}.json").get_json()
    assert page["invoice"]["number"] == number and page["invoice"]["status"] == "final"
    line = next(x for x in page["lines"] if x["metric"] == "dossiers_received")
    assert line["tenant"] == unit.slug and line["quantity"] == 15 and line["amount"] == 5_000
    detail = audit_client.get(f"/audit/lines/{line['id']}.json").get_json()
    assert detail["changed"] == 0
    first_day = facts[(date(2042, 1, 9), "dossiers_received", "postal")]
    assert [f["fact_id"] for f in detail["facts"]] == [
        first_day,
        facts[(date(2042, 1, 10), "dossiers_received", "postal")],
    ]
    events = audit_client.get(f"/audit/facts/{first_day}.json").get_json()
    assert [e["event_id"] for e in events["events"]] == ids and events["tenant"]["shard"] == "s2"
    assert events["differences"] == {}
    assert number in audit_client.get("/audit/invoices").text

    # The auditor keeps the invoice's files; the raw usage re-aggregates to the line's quantity.
    pdf = audit_client.get(f"/audit/invoices/{invoice_id}/invoice.pdf")
    assert (
        pdf.status_code == 200
        and pdf.data.startswith(b"%PDF")
        and quote(number) in pdf.headers["Content-Disposition"]
    )
    csv_text = audit_client.get(f"/audit/invoices/{invoice_id}/lines.csv").get_data(as_text=True)
    assert unit.slug in csv_text and "dossiers_received" in csv_text
    xlsx = audit_client.get(f"/audit/invoices/{invoice_id}/lines.xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    usage = audit_client.get(f"/audit/invoices/{invoice_id}/usage.jsonl")
    assert usage.mimetype == "application/x-ndjson"
    assert reaggregate(usage.data.splitlines()) == {(unit.slug, "dossiers_received", "2042-01"): 15}
    assert audit_client.get("/audit/invoices/999999999/lines.csv").status_code == 404


def test_fact_page_names_an_altered_event_and_a_late_one(audit_client, platform, units):
    a = units["a"]
    fact_id = units["facts"]["a2"]
    with Session(platform.shards.engine(a.shard)) as session, session.begin():
        altered = session.execute(
            text("UPDATE shard.usage_events SET quantity = 5 WHERE event_id = :e RETURNING id"),
            {"e": units["day2_ids"][1]},
        ).scalar_one()
    late = add_events(platform, a, "dossiers_received", D2, 1, dimension="online", prefix="late")
    body = audit_client.get(f"/audit/facts/{fact_id}.json").get_json()
    assert body["altered_events"] == [altered]
    assert body["differences"]["quantity_sum"] == {"fact": 3, "events": 7}
    assert body["waiting"] == 1  # recorded after the aggregation: waits, is no difference
    assert body["recount"]["event_count"] == 3
    assert [e["event_id"] for e in body["events"] if not e["counted"]] == late
    html = audit_client.get(f"/audit/facts/{fact_id}").text
    assert f"<td>{altered}</td>" in html and "không khớp" in html


def test_draft_line_shows_the_current_facts(audit_client, platform, units, contract):
    a = units["a"]
    with platform.shards.platform_session() as session, session.begin():
        invoice = Invoice(contract_id=contract[0], period_start=date(2041, 3, 1), period_end=date(2041, 4, 1))
        line = InvoiceLine(
            position=1,
            kind="usage",
            tenant_id=a.id,
            metric="dossiers_received",
            description_vi="Hồ sơ",
            description_en="Dossiers",
            amount=0,
        )
        invoice.lines = [line]
        session.add(invoice)
        session.flush()
        line_id = line.id
    body = audit_client.get(f"/audit/lines/{line_id}.json").get_json()
    assert body["facts"] == [] and {f["id"] for f in body["current_facts"]} == {
        units["facts"]["a1"],
        units["facts"]["a2"],
    }


# --- recount, lag -------------------------------------------------------------------------------


def test_recount_shows_a_tampered_fact(audit_client, platform, units):
    a = units["a"]
    # The unit's own records hold no dossier of that day: a fact claiming 5 is 5 too many.
    forged = add_fact(platform, a, date(2041, 3, 25), "dossiers_finished", 5)
    body = audit_client.get(f"/audit/recount.json?from=2041-03-25&to=2041-03-25&tenant={a.slug}").get_json()
    diffs = [
        (r["tenant"], r["metric"], r["facts"], r["source"], r["difference"]) for r in body["differences"]
    ]
    assert (a.slug, "dossiers_finished", 5, 0, 5) in diffs  # facts - source
    assert all(r["difference"] == 0 for r in body["agreements"])
    html = audit_client.get(f"/audit/recount?from=2041-03-25&to=2041-03-25&tenant={a.slug}&run=1").text
    assert 'class="recount-diff"' in html and "dossiers_finished" in html and "+5" in html
    with platform.shards.platform_session() as session, session.begin():
        session.execute(text("DELETE FROM platform.billing_daily_facts WHERE id = :id"), {"id": forged})
    clean = audit_client.get(f"/audit/recount.json?from=2041-03-25&to=2041-03-25&tenant={a.slug}").get_json()
    assert not [r for r in clean["differences"] if r["metric"] == "dossiers_finished"]
    assert audit_client.get("/audit/recount.json?from=2041-03-25&to=2041-01-01").status_code == 400
    assert audit_client.get("/audit/recount.json?from=2041-01-01&to=2041-12-31").status_code == 400


def test_lag_page_lists_every_shard(audit_client, units):
    body = audit_client.get("/audit/lag.json").get_json()
    shards = {s["shard"]: s for s in body["shards"]}
    assert set(shards) >= {"main", "s2"}
    assert shards["s2"]["events_waiting"] >= 5  # the events of unit B, never aggregated by a run
    page = audit_client.get("/audit/lag")
    assert page.status_code == 200 and "s2" in page.text


# --- the audit of the audit ---------------------------------------------------------------------


def _urls(units, invoice_id, line_id) -> list[str]:
    a = units["a"]
    fact = units["facts"]["a1"]
    return [
        "/audit/?month=2041-03",
        "/audit/usage.json?month=2041-03",
        f"/audit/facts?tenant={a.slug}&metric=dossiers_received&month=2041-03",
        f"/audit/facts.json?tenant={a.slug}&metric=dossiers_received&month=2041-03",
        f"/audit/facts/{fact}",
        f"/audit/facts/{fact}.json?page=2",
        "/audit/contracts",
        "/audit/contracts.json",
        "/audit/invoices",
        "/audit/invoices.json",
        f"/audit/invoices/{invoice_id}",
        f"/audit/invoices/{invoice_id}.json",
        f"/audit/invoices/{invoice_id}/invoice.pdf",
        f"/audit/invoices/{invoice_id}/lines.csv",
        f"/audit/invoices/{invoice_id}/lines.xlsx",
        f"/audit/invoices/{invoice_id}/usage.jsonl",
        f"/audit/lines/{line_id}",
        f"/audit/lines/{line_id}.json",
        "/audit/recount",
        f"/audit/recount?month=2041-03&tenant={a.slug}&run=1",
        f"/audit/recount.json?month=2041-03&tenant={a.slug}",
        "/audit/lag",
        "/audit/lag.json",
        "/audit/log",
        "/audit/log.json",
    ]


def test_every_view_leaves_an_audit_row(audit_client, platform, auditor, units, contract):
    invoice_id, line_id = final_invoice(platform, contract, units)
    for url in _urls(units, invoice_id, line_id):
        before = audit_count(platform, auditor.id)
        response = audit_client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert audit_count(platform, auditor.id) == before + 1, url
        row = last_audit(platform, auditor.id)
        path, _, query = url.partition("?")
        assert (
            row.entity == "billing_audit_view" and row.action == "view" and row.actor_label == auditor.email
        )
        assert row.data["path"] == path
        assert {k: v[0] for k, v in row.data["params"].items()} == dict(
            p.split("=", 1) for p in query.split("&") if p
        )
    # A refused request (bad parameter, missing record) is recorded too.
    before = audit_count(platform, auditor.id)
    assert audit_client.get("/audit/invoices/999999999").status_code == 404
    assert audit_count(platform, auditor.id) == before + 1
    assert last_audit(platform, auditor.id).entity_id == "invoice_detail:999999999"

    log = audit_client.get("/audit/log.json").get_json()
    assert log["rows"][0]["path"] == "/audit/log.json"  # the log lists its own viewing first
    assert log["rows"][1]["view"] == "invoice_detail:999999999" and log["rows"][1]["actor"] == auditor.email
    assert auditor.email in audit_client.get("/audit/log").text


def test_auditor_views_write_nothing_but_audit_rows(audit_client, platform, units, contract):
    invoice_id, line_id = final_invoice(platform, contract, units)
    writes: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in (
            "SELECT",
            "SET",
            "SHOW",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT",
            "RELEASE",
            "WITH",
        ):
            writes.append(statement)

    engines = [platform.shards.engine(name) for name in platform.shards.names]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", watch)
    try:
        for url in _urls(units, invoice_id, line_id):
            assert audit_client.get(url).status_code == 200, url
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", watch)
    assert writes, "the audit rows themselves are writes"
    assert all(re.match(r"\s*INSERT INTO platform\.audit_events\b", s) for s in writes), writes


def test_the_console_transaction_refuses_writes_after_the_audit_row(app, platform, auditor):
    """What makes the views read-only: the request's platform transaction after the audit row."""
    from app.core.db import platform_db
    from billing import audit_data

    with app.test_request_context("/audit/", base_url=f"http://{CONSOLE}"):
        session = platform_db()
        audit_data.make_read_only(session)
        with pytest.raises(Exception, match="read-only transaction"):
            session.execute(
                text("UPDATE platform.accounts SET full_name = full_name WHERE id = :id"), {"id": auditor.id}
            )
        session.rollback()
        with audit_data.shard_reader("s2") as conn, pytest.raises(Exception, match="read-only transaction"):
            conn.execute(text("DELETE FROM shard.usage_events WHERE id = -1"))


# --- who may come in ------------------------------------------------------------------------


AUDIT_PATHS = [
    "/audit/",
    "/audit/usage.json",
    "/audit/invoices",
    "/audit/recount",
    "/audit/lag",
    "/audit/log",
]


def test_anonymous_goes_to_sign_in(client_for):
    client = client_for(host=CONSOLE)
    for path in AUDIT_PATHS:
        response = client.get(path)
        if path.endswith(".json"):
            assert response.status_code == 401 and response.get_json()["code"] == 401
        else:
            assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_officials_of_a_unit_are_refused(client_for, platform, make_tenant):
    tenant = make_tenant("district")
    for roles in (["unit_admin"], ["head_of_unit", "fee_collector"]):
        official = make_account(platform, memberships=[(tenant, roles)])
        client = client_for(host=CONSOLE)
        sign_in_directly(client, official, site=CONSOLE_SITE)
        for path in AUDIT_PATHS:
            assert client.get(path).status_code == 403, (roles, path)
        assert audit_count(platform, official.id) == 0  # refused before anything is shown or logged
    # A unit session carried to the console is no console session at all.
    official = make_account(platform, memberships=[(tenant, ["unit_admin"])])
    client = client_for(host=CONSOLE)
    sign_in_directly(client, official, tenant)
    assert client.get("/audit/").status_code == 302


def test_provider_ops_may_read_the_audit_console(client_for, platform, units):
    ops = make_account(platform, platform_roles=["provider_ops"])
    client = client_for(host=CONSOLE)
    sign_in_directly(client, ops, site=CONSOLE_SITE)
    assert client.get("/audit/?month=2041-03").status_code == 200
    assert audit_count(platform, ops.id) == 1


def test_auditor_role_taken_away_gets_403(audit_client, platform, auditor):
    from app.auth import actions

    assert audit_client.get("/audit/lag").status_code == 200
    with platform.shards.platform_session() as session, session.begin():
        actions.set_platform_roles(session, session.get(Account, auditor.id), [])
    assert audit_client.get("/audit/lag").status_code == 403


def test_auditor_is_refused_on_every_ops_only_console_route(app, audit_client, make_tenant):
    """Every other console route (tenants, lifecycle actions, onboarding, runs, federation and any
    contracts or invoices edits registered there) answers an auditor 403, not a crash.

    The city's reports (issue #7) and the national portal sync status are the auditor's too;
    retrying the sync stays with ops."""
    tenant = make_tenant("district")
    city_reading = ("reports_console.", "reports_city.", "reports_exports_console.", "dvcqg_console.index")
    public = {
        "console.login_form",
        "console.logout",
        "console_rp.login",
        "console_rp.callback",
        "console_rp.logout",
    }
    checked = []
    for rule in app.url_map.iter_rules():
        if (
            rule.subdomain != CONSOLE_SITE
            or rule.endpoint in public
            or rule.endpoint.startswith("billing_audit.")
            or rule.endpoint.startswith(city_reading)
        ):
            continue
        if rule.endpoint == "static":
            continue
        values = {
            name: _sample(name, converter, tenant.slug, {name: 1})
            for name, converter in rule._converters.items()
        }
        if "kind" in values:
            values["kind"] = "suspend"
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = audit_client.open(path, method=method, data={"csrf_token": "test-csrf-token"})
            if (method, rule.endpoint) == ("GET", "console.tenants"):  # the console's home: sent on
                assert response.status_code == 302 and response.headers["Location"] == "/audit/"
            else:
                assert response.status_code == 403, (method, path, response.status_code)
            checked.append((method, rule.endpoint))
    endpoints = {e for _, e in checked}
    assert {"console.tenants", "console.tenant_detail", "lifecycle.start", "runs.run_resume"} <= endpoints
    assert "dvcqg_console.retry_console" in endpoints


def test_set_auditor_cli_grants_and_takes_away(app, platform):
    account = make_account(platform, platform_roles=["provider_ops"])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "set-auditor", account.email])
    assert result.exit_code == 0, result.output
    with platform.shards.platform_session() as session:
        assert session.get(Account, account.id).platform_roles == ["provider_ops", "city_auditor"]
    result = runner.invoke(args=["accounts", "set-auditor", account.email, "--off"])
    assert result.exit_code == 0, result.output
    with platform.shards.platform_session() as session:
        assert session.get(Account, account.id).platform_roles == ["provider_ops"]
    result = runner.invoke(args=["accounts", "set-auditor", "nobody@example.vn"])
    assert result.exit_code == 1


def menu(html: str) -> str:
    """The console's menu bar (app/templates/console/_layout.html)."""
    return re.search(r'<nav [^>]*class="account-bar">.*?</nav>', html, re.S).group(0)


def test_console_menu_shows_an_auditor_only_the_audit_console(audit_client, client_for, platform):
    nav = menu(audit_client.get("/audit/lag").text)
    assert 'href="/audit/"' in nav
    assert 'href="/"' not in nav and "/runs/" not in nav and "/onboarding/" not in nav
    ops = make_account(platform, platform_roles=["provider_ops"])
    client = client_for(host=CONSOLE)
    sign_in_directly(client, ops, site=CONSOLE_SITE)
    nav = menu(client.get("/audit/lag").text)
    assert 'href="/audit/"' in nav and 'href="/"' in nav and "/runs/" in nav


def test_after_a_bare_login_an_auditor_lands_on_the_audit_console(
    audit_client, client_for, platform, make_tenant
):
    """/login returns to the console's home, the unit list (ops only): an auditor who is not ops is
    sent on to the audit console instead of a 403; everyone else sees what they saw before."""
    login = audit_client.get("/login")
    assert login.status_code == 302 and login.headers["Location"].endswith("next=/")
    home = audit_client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/audit/"
    assert audit_client.get("/?kind=district").headers["Location"] == "/audit/"
    assert audit_client.get(home.headers["Location"]).status_code == 200
    # Provider ops (with or without the auditor role) keep the unit list.
    for roles in (["provider_ops"], ["provider_ops", "city_auditor"]):
        ops = client_for(host=CONSOLE)
        sign_in_directly(ops, make_account(platform, platform_roles=roles), site=CONSOLE_SITE)
        assert ops.get("/").status_code == 200, roles
    # A unit official on the console: still refused; nobody signed in: still sent to sign in.
    official = client_for(host=CONSOLE)
    tenant = make_tenant("district")
    sign_in_directly(
        official, make_account(platform, memberships=[(tenant, ["unit_admin"])]), site=CONSOLE_SITE
    )
    assert official.get("/").status_code == 403
    anonymous = client_for(host=CONSOLE).get("/")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")


def test_out_of_range_parameters_are_a_400_with_one_audit_row(audit_client, platform, auditor, units):
    """Pages past any BIGINT offset, a NUL in a parameter (PostgreSQL text and JSONB refuse it):
    a clear 400 (JSON on the JSON endpoints), and the view is still recorded exactly once."""
    fact = units["facts"]["a1"]
    urls = [
        "/audit/usage.json?tenant=%00",
        "/audit/log.json?page=99999999999999999999",
        "/audit/log?page=99999999999999999999",
        f"/audit/facts/{fact}.json?page=99999999999999999999",
        f"/audit/facts/{fact}.json?page=-1",
        "/audit/log.json?page=%00",
        "/audit/usage.json?metric=%00",
        "/audit/recount.json?month=2041-03&tenant=a%00b",
        "/audit/facts.json?tenant=%00&metric=dossiers_received",
    ]
    for url in urls:
        before = audit_count(platform, auditor.id)
        response = audit_client.get(url)
        assert response.status_code == 400, (url, response.status_code)
        if ".json" in url:
            assert response.get_json()["code"] == 400, url
        assert audit_count(platform, auditor.id) == before + 1, url
    assert audit_client.get("/audit/log.json").status_code == 200


def _sample(name: str, converter, tenant_slug: str, ids: dict[str, int]):
    """A value for a route argument: an existing id, one of an ``any(...)`` list, or a unit's slug."""
    if hasattr(converter, "num_convert"):
        return ids[name]
    if hasattr(converter, "items"):  # any('invoice.pdf', ...): each file answers alike
        return sorted(converter.items)[0]
    return tenant_slug


def _billing_routes(app, tenant_slug: str, ids: dict[str, int]) -> list[tuple[str, str, str]]:
    """(method, path, endpoint) of every route billing registered (pages, JSON API, downloads),
    with ids of records that exist."""
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not view.__module__.startswith("billing."):
            continue
        values = {
            name: _sample(name, converter, tenant_slug, ids) for name, converter in rule._converters.items()
        }
        path = rule.build(values, append_unknown=False)[1]
        routes += [(m, path, rule.endpoint) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def _wants_json(path: str) -> bool:
    return path.endswith(".json") or path.startswith("/api/")


def test_every_billing_route_by_who_asks(app, client_for, platform, make_tenant, units, contract):
    """Every route billing registers, whoever wrote it: anonymous -> sign-in (401 as JSON), a unit
    official on the console -> 403, a unit host -> 404 (even for its admin), provider ops posting
    without the CSRF token -> 400; nothing is written by any of them."""
    tenant = make_tenant("district")
    invoice_id, line_id = final_invoice(platform, contract, units)
    ids = {"contract_id": contract[0], "invoice_id": invoice_id, "line_id": line_id}
    ids["fact_id"] = units["facts"]["a1"]
    routes = _billing_routes(app, tenant.slug, ids)
    endpoints = {e for _, _, e in routes}
    assert {"billing_audit.usage", "billing_audit.invoice_file", "contracts.contract_create"} <= endpoints
    assert any(e.startswith("billing_contracts_api.") for e in endpoints)

    anonymous = client_for(host=CONSOLE)
    official_account = make_account(platform, memberships=[(tenant, ["unit_admin", "fee_collector"])])
    official = client_for(host=CONSOLE)
    sign_in_directly(official, official_account, site=CONSOLE_SITE)
    on_unit = client_for(tenant)
    sign_in_directly(on_unit, official_account, tenant)
    ops = client_for(host=CONSOLE)
    sign_in_directly(ops, make_account(platform, platform_roles=["provider_ops"]), site=CONSOLE_SITE)
    posts = 0
    for method, path, endpoint in routes:
        where = (method, path, endpoint)
        answer = anonymous.open(path, method=method, data={"csrf_token": "test-csrf-token"})
        if _wants_json(path):
            assert answer.status_code == 401, (where, answer.status_code)
        else:
            assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), where
        answer = official.open(path, method=method, data={"csrf_token": "test-csrf-token"})
        assert answer.status_code == 403, (where, answer.status_code)
        answer = on_unit.open(path, method=method, data={"csrf_token": "test-csrf-token"})
        assert answer.status_code == 404, (where, answer.status_code)
        if method == "POST":
            posts += 1
            answer = ops.open(path, method=method, data={"csrf_token": "wrong"})
            assert answer.status_code == 400, (where, answer.status_code)
    assert posts >= 3
    assert audit_count(platform, official_account.id) == 0


def test_the_usage_pages_json_link_takes_only_the_filters(audit_client, units):
    """The page's JSON link was built from every query parameter: ``endpoint=`` or ``_scheme=`` made
    url_for fail (a 500), and ``_external``/``_scheme``/``_anchor`` wrote a link of the asker's choice
    (``javascript:`` included) into the auditor's page."""
    for query in (
        "endpoint=x",
        "_scheme=https",
        "_method=POST",
        "_external=1&_scheme=javascript&_anchor=%0Aalert(1)",
    ):
        page = audit_client.get(f"/audit/?month=2041-03&{query}")
        assert page.status_code == 200, (query, page.status_code)
        link = re.search(r'<a href="([^"]*)">JSON</a>', page.text).group(1)
        assert link == "/audit/usage.json?month=2041-03", (query, link)
    page = audit_client.get(
        f"/audit/?month=2041-03&months=3&tenant={units['a'].slug}&metric=dossiers_received"
    )
    link = re.search(r'<a href="([^"]*)">JSON</a>', page.text).group(1)
    assert link.startswith("/audit/usage.json?") and f"tenant={units['a'].slug}" in link
    assert "months=3" in link and "metric=dossiers_received" in link and "month=2041-03" in link


def test_charts_of_nothing_zero_or_huge_usage_draw_finite_bars():
    import math

    from billing.audit_views import CHART_HEIGHT, chart

    assert chart({"metric": "api_calls", "points": []})["bars"] == []
    zero = chart({"metric": "api_calls", "points": [{"month": "2041-01", "quantity": 0, "quota": 0}]})
    assert zero["bars"][0]["height"] == 0 and zero["bars"][0]["quota_y"] == zero["base_y"]
    huge = chart(
        {
            "metric": "attachment_bytes",
            "points": [
                {"month": "2041-01", "quantity": 9 * 10**18, "quota": 10**17},
                {"month": "2041-02", "quantity": 1, "quota": None},
            ],
        }
    )
    for bar in huge["bars"]:
        for key in ("x", "y", "height"):
            assert math.isfinite(bar[key]) and 0 <= bar["height"] <= CHART_HEIGHT
    assert huge["bars"][0]["height"] == CHART_HEIGHT and huge["bars"][0]["over"]
    assert huge["bars"][1]["quota_y"] is None and not huge["bars"][1]["over"]
