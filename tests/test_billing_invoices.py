"""Invoices: hand-computed amounts, identical recomputation, gap-free numbering under concurrency,
credit notes, immutability, late adjustments, the hash chain (issue #6)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from app.audit.platform_models import PlatformAuditEvent
from billing import invoice_chain, invoices
from billing.invoices import FinalInvoiceChanged, InvoiceInputError, InvoiceRefused
from billing.models import FINAL, Contract, Invoice, InvoiceLine, ServicePeriod
from tenants.models import Tenant
from tests.billing_invoice_support import CREATED, LATER, make_world, put_fact, remove_worlds, set_fact

JAN, FEB, MAR, APR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)


@pytest.fixture(autouse=True)
def _the_city(city, platform):
    """Each test's contract hangs under the one city (see make_world); removed afterwards."""
    yield city
    remove_worlds(platform)


def _facts_for_january(session, world):
    # 400 dossiers received by the district in January 2025, on 4 days and two channels.
    put_fact(session, world.district_id, date(2025, 1, 2), "dossiers_received", 150, dimension="counter")
    put_fact(session, world.district_id, date(2025, 1, 2), "dossiers_received", 50, dimension="online")
    put_fact(session, world.district_id, date(2025, 1, 15), "dossiers_received", 120, dimension="counter")
    put_fact(session, world.district_id, date(2025, 1, 31), "dossiers_received", 80, dimension="counter")
    # 60 for the commune: within its 100 included.
    put_fact(session, world.commune_id, date(2025, 1, 20), "dossiers_received", 60)


def _draft(platform, world, start=JAN, end=FEB):
    with platform.shards.platform_session() as session, session.begin():
        contract = session.get(Contract, world.contract_id)
        invoice = invoices.refresh_draft(session, contract, start, end, now=LATER)
        return invoice.id


def _lines(platform, invoice_id):
    with platform.shards.platform_session() as session:
        invoice = session.get(Invoice, invoice_id)
        return [
            (
                line.position,
                line.kind,
                line.tenant_id,
                line.metric,
                line.quantity,
                line.unit_price,
                line.amount,
                line.computation,
                line.is_late_adjustment,
                [(f.fact_id, f.day, f.quantity_sum, f.fact_hash) for f in line.facts],
            )
            for line in invoice.lines
        ], (invoice.subtotal, invoice.discount, invoice.total)


def _finalize(platform, invoice_id, label="ops@example.vn"):
    with platform.shards.platform_session() as session, session.begin():
        invoice = invoices.finalize_invoice(session, invoice_id, actor_label=label, now=LATER)
        return invoice.number


def test_a_month_is_priced_to_the_dong(platform):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
    invoice_id = _draft(platform, world)

    lines, totals = _lines(platform, invoice_id)
    by = {(line[1], line[2]): line for line in lines}
    # District: a full month, 3,000,000 đ.
    assert by[("unit_fee", world.district_id)][6] == 3_000_000
    # Commune live from 10 January: 22 of 31 days of 1,000,000 đ = 709,677.42 -> 709,677 đ.
    commune_fee = by[("unit_fee", world.commune_id)]
    assert (commune_fee[4], commune_fee[5], commune_fee[6]) == (22, 1_000_000, 709_677)
    assert "1.000.000 đ × 22/31 ngày = 709.677 đ" in commune_fee[7]
    # Its setup fee, billed in the period of its activation day: 5,000,000 đ.
    assert by[("setup_fee", world.commune_id)][6] == 5_000_000
    assert ("setup_fee", world.district_id) not in by  # activated before this period
    # 400 dossiers, 100 included -> 300 over: 50 × 500 + 150 × 400 + 100 × 300 = 115,000 đ.
    overage = by[("overage", world.district_id)]
    assert (overage[3], overage[4], overage[6]) == ("dossiers_received", 400, 115_000)
    assert "50 × 500 đ = 25.000 đ + 150 × 400 đ = 60.000 đ + 100 × 300 đ = 30.000 đ" in overage[7]
    assert "counter: 350, online: 50" in overage[7]
    assert len(overage[9]) == 4 and sum(f[2] for f in overage[9]) == 400  # linked to its 4 facts
    # The commune's 60 are within its quota: a usage line of 0 đ, still linked to its fact.
    usage = by[("usage", world.commune_id)]
    assert (usage[4], usage[6], len(usage[9])) == (60, 0, 1)
    # Subtotal 3,000,000 + 709,677 + 5,000,000 + 115,000 = 8,824,677 đ;
    # discount 12.5 % = 1,103,084.625 -> 1,103,085 đ; total 7,721,592 đ.
    assert totals == (8_824_677, 1_103_085, 7_721_592)
    assert lines[-1][1] == "discount" and lines[-1][6] == -1_103_085
    assert sum(line[6] for line in lines) == 7_721_592


def test_computing_the_same_invoice_twice_is_identical(platform):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
    first = _lines(platform, _draft(platform, world))
    second = _lines(platform, _draft(platform, world))
    assert first == second
    with platform.shards.platform_session() as session:
        contract = session.get(Contract, world.contract_id)
        a = invoices.compute_statement(session, contract, JAN, FEB)
        b = invoices.compute_statement(session, contract, JAN, FEB)
        assert a == b and a.total == first[1][2]


def test_a_quarter_applies_the_quota_per_month(platform):
    world = make_world(platform, period="quarterly", discount_bp=0)
    with platform.shards.platform_session() as session, session.begin():
        put_fact(session, world.district_id, date(2025, 1, 5), "dossiers_received", 150)
        put_fact(session, world.district_id, date(2025, 2, 5), "dossiers_received", 50)
    invoice_id = _draft(platform, world, JAN, APR)
    lines, totals = _lines(platform, invoice_id)
    by = {(line[1], line[2], line[3], line[4]): line for line in lines}
    # January 150 of 100 included: 50 × 500 = 25,000 đ; February 50: nothing. (A quarterly
    # quota of 300 would have billed nothing.)
    assert by[("overage", world.district_id, "dossiers_received", 150)][6] == 25_000
    assert by[("usage", world.district_id, "dossiers_received", 50)][6] == 0
    # Fees per month: district 3 × 3,000,000; commune 709,677 + 1,000,000 + 1,000,000.
    assert by[("unit_fee", world.district_id, None, 90)][6] == 9_000_000
    commune = by[("unit_fee", world.commune_id, None, 22 + 28 + 31)]
    assert commune[6] == 2_709_677 and "cộng / total 2.709.677 đ" in commune[7]
    assert totals == (9_000_000 + 2_709_677 + 5_000_000 + 25_000, 0, 16_734_677)


def test_sum_quantities_agree_with_period_quantity(platform, app):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
    from billing.aggregate import period_quantity

    with app.app_context():
        assert period_quantity(world.district_id, "dossiers_received", JAN, FEB) == 400


def test_finalize_numbers_freezes_and_chains(platform):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
    jan = _draft(platform, world)
    assert _finalize(platform, jan) == f"{world.contract_number}-000001"
    feb = _draft(platform, world, FEB, MAR)
    assert _finalize(platform, feb) == f"{world.contract_number}-000002"
    with platform.shards.platform_session() as session:
        first, second = session.get(Invoice, jan), session.get(Invoice, feb)
        assert first.status == FINAL and first.previous_hash is None
        assert second.previous_hash == first.content_hash
        assert invoice_chain.invoice_hash(first) == first.content_hash
        assert invoice_chain.invoice_hash(second) == second.content_hash
        # The commune's setup fee is marked billed, and February does not bill it again.
        period = session.scalar(select(ServicePeriod).where(ServicePeriod.tenant_id == world.commune_id))
        assert period.setup_invoice_id == jan
        assert not [line for line in second.lines if line.kind == "setup_fee"]
        assert invoice_chain.verify_invoices(session, contract_ids=[world.contract_id]) is None


def test_finalizing_twice_or_too_early_is_refused(platform):
    world = make_world(platform)
    jan = _draft(platform, world)
    with platform.shards.platform_session() as session, session.begin():
        early = datetime(2025, 1, 31, 16, 59, tzinfo=UTC)  # 23:59 on 31 January in Hà Nội
        with pytest.raises(InvoiceRefused, match="chưa kết thúc"):
            invoices.finalize_invoice(session, jan, actor_label="x", now=early)
    _finalize(platform, jan)
    with (
        platform.shards.platform_session() as session,
        session.begin(),
        pytest.raises(InvoiceRefused, match="đã chốt rồi"),
    ):
        invoices.finalize_invoice(session, jan, actor_label="x", now=LATER)
    with platform.shards.platform_session() as session, session.begin():
        contract = session.get(Contract, world.contract_id)
        with pytest.raises(InvoiceRefused, match="đã chốt"):
            invoices.refresh_draft(session, contract, JAN, FEB)


def test_a_final_invoice_cannot_change_through_the_orm(platform):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
    jan = _finalize_draft(platform, world)
    attempts = [
        lambda s: setattr(s.get(Invoice, jan), "total", 1),
        lambda s: setattr(s.get(Invoice, jan).lines[0], "amount", 1),
        lambda s: setattr(next(x for x in s.get(Invoice, jan).lines if x.facts).facts[0], "quantity_sum", 1),
        lambda s: s.delete(s.get(Invoice, jan).lines[0]),
        lambda s: s.info.setdefault("keep", s.get(Invoice, jan)).lines.append(
            InvoiceLine(position=99, kind="adjustment", description_vi="x", description_en="x", amount=1)
        ),
        lambda s: s.delete(s.get(Invoice, jan)),
    ]
    for attempt in attempts:
        with platform.shards.platform_session() as session:
            attempt(session)
            with pytest.raises(FinalInvoiceChanged):
                session.flush()
            session.rollback()
    with platform.shards.platform_session() as session:
        assert invoice_chain.verify_invoices(session, contract_ids=[world.contract_id]) is None


def _finalize_draft(platform, world, start=JAN, end=FEB):
    invoice_id = _draft(platform, world, start, end)
    _finalize(platform, invoice_id)
    return invoice_id


def test_two_concurrent_finalizations_take_consecutive_numbers(platform):
    world = make_world(platform)
    drafts = [_draft(platform, world, s, e) for s, e in ((JAN, FEB), (FEB, MAR), (MAR, APR))]
    barrier = threading.Barrier(len(drafts) + 1)
    results: dict[int, object] = {}

    def run(invoice_id):
        barrier.wait()
        try:
            results[invoice_id] = _finalize(platform, invoice_id)
        except Exception as exc:
            results[invoice_id] = exc

    # Three drafts at once, plus the first one a second time: one of those two is refused.
    threads = [threading.Thread(target=run, args=(i,)) for i in drafts]
    threads.append(
        threading.Thread(target=lambda: results.setdefault("again", _try(platform, drafts[0], barrier)))
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = sorted(v for k, v in results.items() if k != "again" and isinstance(v, str))
    again = results["again"]
    if isinstance(again, str):  # the repeat won the race: the first draft's own call was refused
        numbers = sorted([*numbers, again])
    assert numbers == [f"{world.contract_number}-{n:06d}" for n in (1, 2, 3)]
    refused = [v for v in results.values() if isinstance(v, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], InvoiceRefused)
    with platform.shards.platform_session() as session:
        assert invoice_chain.verify_invoices(session, contract_ids=[world.contract_id]) is None
        seq = session.execute(
            text("SELECT next_number FROM platform.billing_invoice_sequences WHERE contract_id = :c"),
            {"c": world.contract_id},
        ).scalar_one()
        assert seq == 4


def _try(platform, invoice_id, barrier):
    barrier.wait()
    try:
        return _finalize(platform, invoice_id)
    except Exception as exc:
        return exc


def _credit(platform, invoice_id, amount, reason="Giảm do gián đoạn dịch vụ"):
    with platform.shards.platform_session() as session, session.begin():
        note = invoices.create_credit_note(
            session, invoice_id, amount=amount, reason=reason, actor_label="ops"
        )
        return note.id, note.number, note.total


def test_credit_notes_are_bounded_numbered_and_chained(platform):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
    jan = _finalize_draft(platform, world)  # total 7,721,592 đ
    with pytest.raises(InvoiceRefused, match="vượt quá"):
        _credit(platform, jan, 7_721_593)
    with pytest.raises(InvoiceInputError, match="lý do"):
        _credit(platform, jan, 100, reason="  ")
    with pytest.raises(InvoiceInputError, match="lớn hơn 0"):
        _credit(platform, jan, 0)
    _, number, total = _credit(platform, jan, 721_592)
    assert number == f"{world.contract_number}-000002" and total == -721_592
    with pytest.raises(InvoiceRefused, match=r"7\.000\.000 đ"):  # what is left is said
        _credit(platform, jan, 7_000_001)
    _, number, _ = _credit(platform, jan, 7_000_000)
    assert number == f"{world.contract_number}-000003"
    with pytest.raises(InvoiceRefused):
        _credit(platform, jan, 1)
    feb = _draft(platform, world, FEB, MAR)
    with pytest.raises(InvoiceRefused, match="đã chốt"):  # not against a draft
        _credit(platform, feb, 1)
    assert _finalize(platform, feb) == f"{world.contract_number}-000004"
    with platform.shards.platform_session() as session:
        assert invoice_chain.verify_invoices(session, contract_ids=[world.contract_id]) is None


def test_manual_adjustments_need_a_reason_and_survive_refreshes(platform):
    world = make_world(platform, discount_bp=0)
    feb = _draft(platform, world, FEB, MAR)
    with (
        platform.shards.platform_session() as session,
        session.begin(),
        pytest.raises(InvoiceInputError, match="lý do"),
    ):
        invoices.add_adjustment(session, feb, amount=-200_000, description="Bù", reason="")
    with platform.shards.platform_session() as session, session.begin():
        invoices.add_adjustment(
            session,
            feb,
            amount=-200_000,
            description="Bù giờ gián đoạn 20/01",
            reason="SLA tháng 1 không đạt",
        )
    lines, totals = _lines(platform, _draft(platform, world, FEB, MAR))  # refreshed again: still there
    adjustment = [line for line in lines if line[1] == "adjustment"]
    assert len(adjustment) == 1 and adjustment[0][6] == -200_000 and not adjustment[0][8]
    assert totals[2] == 3_000_000 + 1_000_000 - 200_000
    with platform.shards.platform_session() as session:
        event = session.scalar(
            select(PlatformAuditEvent.data).where(
                PlatformAuditEvent.entity == "billing_invoice",
                PlatformAuditEvent.entity_id == str(feb),
                PlatformAuditEvent.action == "adjust",
            )
        )
        assert event["reason"] == "SLA tháng 1 không đạt"


def test_late_usage_lands_on_the_next_draft_as_a_visible_adjustment(platform):
    world = make_world(platform, discount_bp=0)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
        late_fact = put_fact(
            session, world.district_id, date(2025, 1, 31), "dossiers_received", 10, dimension="postal"
        )
        changed_id = late_fact.id
    jan = _finalize_draft(platform, world)  # 410 dossiers: 310 over, 119,000 đ
    # After finalizing: the postal fact of 31 January grows from 10 to 40 and a new fact
    # appears for the commune (60 -> 60 + 45 = 105: 5 over its 100).
    with platform.shards.platform_session() as session, session.begin():
        set_fact(session, changed_id, 40)
        put_fact(session, world.commune_id, date(2025, 1, 29), "dossiers_received", 45)
    lines, totals = _lines(platform, _draft(platform, world, FEB, MAR))
    late = [line for line in lines if line[8]]
    assert {(line[2], line[4], line[6]) for line in late} == {
        # district: now 440, billed 410: +30, all in the 300 đ tier: 9,000 đ
        (world.district_id, 30, 9_000),
        # commune: now 105, billed 60: +45, of which 5 over the quota: 5 × 500 = 2,500 đ
        (world.commune_id, 45, 2_500),
    }
    assert totals[0] == 3_000_000 + 1_000_000 + 9_000 + 2_500  # February's fees and the late lines
    district_late = next(line for line in late if line[2] == world.district_id)
    assert "hiện nay / now 440" in district_late[7] and "đã tính / billed 410" in district_late[7]
    assert changed_id in [f[0] for f in district_late[9]]
    # Once February is final, March no longer repeats them.
    feb = _draft(platform, world, FEB, MAR)
    _finalize(platform, feb)
    lines, _ = _lines(platform, _draft(platform, world, MAR, APR))
    assert not [line for line in lines if line[8]]
    # Facts that shrink give a negative late adjustment.
    with platform.shards.platform_session() as session, session.begin():
        set_fact(session, changed_id, 0)
    lines, _ = _lines(platform, _draft(platform, world, MAR, APR))
    (shrink,) = [line for line in lines if line[8]]
    assert (shrink[4], shrink[6]) == (-40, -12_000)
    with platform.shards.platform_session() as session:
        assert session.get(Invoice, jan).status == FINAL
        assert invoice_chain.verify_invoices(session, contract_ids=[world.contract_id]) is None


# -- the chain and SQL tampering -------------------------------------------------------------------


@pytest.fixture
def chain(platform):
    world = make_world(platform)
    with platform.shards.platform_session() as session, session.begin():
        _facts_for_january(session, world)
    ids = [_finalize_draft(platform, world, s, e) for s, e in ((JAN, FEB), (FEB, MAR), (MAR, APR))]
    with platform.shards.platform_session() as session:
        assert invoice_chain.verify_invoices(session, contract_ids=[world.contract_id]) is None
    return world, ids


def _tamper(platform, sql, **params):
    with platform.shards.platform_session() as session, session.begin():
        session.execute(text(sql), params)
    with platform.shards.platform_session() as session:
        # Other test files leave documents of their own: only this test's contract is read.
        return invoice_chain.verify_invoices(session, contract_ids=[w.contract_id for w in CREATED])


def test_verify_names_an_altered_total(platform, chain):
    world, ids = chain
    problem = _tamper(
        platform, "UPDATE platform.billing_invoices SET total = total - 1 WHERE id = :i", i=ids[0]
    )
    assert f"{world.contract_number}-000001" in problem and "header" in problem


def test_verify_names_an_altered_line(platform, chain):
    world, ids = chain
    problem = _tamper(
        platform,
        "UPDATE platform.billing_invoice_lines SET amount = amount + 1 "
        "WHERE invoice_id = :i AND position = 2",
        i=ids[1],
    )
    assert f"{world.contract_number}-000002" in problem and "line 2 was altered" in problem


def test_verify_names_an_altered_snapshot(platform, chain):
    world, ids = chain
    with platform.shards.platform_session() as session:
        line = session.scalar(
            select(InvoiceLine).where(InvoiceLine.invoice_id == ids[0], InvoiceLine.kind == "overage")
        )
        fact_id, position = line.facts[1].fact_id, line.position
    problem = _tamper(
        platform,
        "UPDATE platform.billing_invoice_line_facts SET quantity_sum = quantity_sum + 5 "
        "WHERE fact_id = :f AND line_id IN "
        "(SELECT id FROM platform.billing_invoice_lines WHERE invoice_id = :i)",
        f=fact_id,
        i=ids[0],
    )
    assert f"{world.contract_number}-000001" in problem
    assert f"line {position}" in problem or f"dòng {position}" in problem
    assert f"daily fact {fact_id}" in problem


def test_verify_names_a_document_deleted_from_the_middle(platform, chain):
    world, ids = chain
    problem = _tamper(platform, "DELETE FROM platform.billing_invoices WHERE id = :i", i=ids[1])
    assert f"{world.contract_number}-000003" in problem and f"{world.contract_number}-000002" in problem
    assert "missing" in problem


def test_verify_names_a_broken_link(platform, chain):
    world, ids = chain
    problem = _tamper(
        platform,
        "UPDATE platform.billing_invoices SET previous_hash = repeat('a', 64) WHERE id = :i",
        i=ids[2],
    )
    # previous_hash is part of the sealed content too: either way the third document is named.
    assert f"{world.contract_number}-000003" in problem


def test_verify_names_a_deleted_last_document(platform, chain):
    world, ids = chain
    problem = _tamper(platform, "DELETE FROM platform.billing_invoices WHERE id = :i", i=ids[2])
    assert f"{world.contract_number}-000003" in problem and "missing" in problem


def test_decommissioning_refreshes_the_units_last_draft(platform, app):
    from provisioning import decommission

    assert invoices.final_invoice_for_decommission in decommission.FINAL_INVOICE_HOOKS
    world = make_world(platform, discount_bp=0)
    with platform.shards.platform_session() as session, session.begin():
        period = session.scalar(select(ServicePeriod).where(ServicePeriod.tenant_id == world.commune_id))
        period.active_until = date(2025, 3, 15)  # as service_periods.end_service records it
        commune = session.get(Tenant, world.commune_id)
        session.expunge(commune)
    with app.app_context():
        at = datetime(2025, 3, 15, 3, 0, tzinfo=UTC)
        invoices.final_invoice_for_decommission(commune, at)
        invoices.final_invoice_for_decommission(commune, at)  # hooks are retried: idempotent
    with platform.shards.platform_session() as session:
        (march,) = session.scalars(
            select(Invoice).where(Invoice.contract_id == world.contract_id, Invoice.period_start == MAR)
        ).all()
        fee = next(x for x in march.lines if x.kind == "unit_fee" and x.tenant_id == world.commune_id)
        # Live 1-14 March: 1,000,000 × 14/31 = 451,612.90 -> 451,613 đ.
        assert (fee.quantity, fee.amount) == (14, 451_613)
        assert march.status == "draft"


def test_the_job_refreshes_open_drafts_and_finalizes_after_grace(platform, app):
    world = make_world(platform, discount_bp=0, starts_on=JAN, ends_on=date(2025, 4, 1))
    # 4 March 2025 in Hà Nội: January is past its 5 grace days, February (ended 1 March) is not.
    now = datetime(2025, 3, 4, 5, 0, tzinfo=UTC)
    with app.app_context():
        done = invoices.refresh_all(now=now, contract_number=world.contract_number)
        assert len(done) == 3
        again = invoices.refresh_all(now=now, contract_number=world.contract_number)
    with platform.shards.platform_session() as session:
        rows = session.execute(
            select(Invoice.period_start, Invoice.status, Invoice.number)
            .where(Invoice.contract_id == world.contract_id)
            .order_by(Invoice.period_start)
        ).all()
    assert rows == [
        (JAN, FINAL, f"{world.contract_number}-000001"),
        (FEB, "draft", None),
        (MAR, "draft", None),
    ]
    assert len(again) == 2  # January, final now, is left alone


def test_the_cli_finalizes_and_lists(platform, app):
    world = make_world(platform)
    _draft(platform, world)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["billing", "invoice", "finalize", "--contract", world.contract_number, "--period", "2025-01"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{world.contract_number}-000001 ")
    again = runner.invoke(
        args=["billing", "invoice", "finalize", "--contract", world.contract_number, "--period", "2025-01"]
    )
    assert again.exit_code != 0 and "already final" in again.output
    listed = runner.invoke(args=["billing", "invoice", "list", "--contract", world.contract_number])
    assert f"{world.contract_number}-000001" in listed.output
