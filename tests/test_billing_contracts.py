"""Lease contracts, price plans, seats and service periods (issue #6): every refusal of bad input,
overlapping terms, retroactive changes after a final invoice, the audit trail, billing periods,
onboarding's seats from the contract in force, service periods from provisioning, the console
pages and the JSON API (provider ops only, CSRF-checked), the demo's contract."""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app.audit.platform_models import PlatformAuditEvent
from app.core.usage import METRICS
from billing import contracts, service_periods
from billing.contracts import ContractError, ContractOverlap, PeriodFinalized
from billing.demo import DEMO_NUMBER, seed_billing_demo
from billing.models import FINAL, Contract, Invoice, ServicePeriod
from billing.money import active_days
from provisioning import decommission, provision_steps
from provisioning.pipeline import StepContext
from provisioning.pipeline_models import RunStatus
from provisioning.seats import seat_limit, seats_left, seats_taken
from provisioning.spec import ProvisionSpec
from tenants.models import Tenant
from tests.contract_support import contract_data, delete_contracts, make_contract
from tests.lifecycle_support import run_pipeline
from tests.onboarding_support import submitted_request
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly

CONSOLE = "admin.localhost"


@pytest.fixture(autouse=True)
def clean_contracts(platform):
    delete_contracts(platform)
    yield
    delete_contracts(platform)


@pytest.fixture
def ops(platform):
    return make_account(platform, platform_roles=["provider_ops"])


@pytest.fixture
def console(client_for, ops):
    client = client_for(host=CONSOLE)
    sign_in_directly(client, ops, site="console")
    return client


def today() -> date:
    return contracts.vn_today()


def create(platform, data):
    with platform.shards.platform_session() as session, session.begin():
        return contracts.snapshot(contracts.create_contract(session, data, actor_label="test"))


def update_it(platform, contract_id, data):
    with platform.shards.platform_session() as session, session.begin():
        return contracts.snapshot(contracts.update_contract(session, contract_id, data, actor_label="test"))


def contract_count(platform) -> int:
    with platform.shards.platform_session() as session:
        return len(session.scalars(select(Contract.id)).all())


def audit_of(platform, contract_id) -> list[PlatformAuditEvent]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(PlatformAuditEvent)
                .where(
                    PlatformAuditEvent.entity == "billing_contract",
                    PlatformAuditEvent.entity_id == str(contract_id),
                )
                .order_by(PlatformAuditEvent.id)
            )
        )


def with_plan(**changes) -> dict:
    data = contract_data()
    data["plan"].update(changes)
    return data


def with_metric(**changes) -> dict:
    data = contract_data()
    data["plan"]["metrics"][0].update(changes)
    return data


# --- creating, and every refusal ------------------------------------------------------------------


def test_a_contract_is_stored_with_its_seats_and_plan_and_audited(platform):
    data = contract_data()
    stored = create(platform, data)
    assert stored["number"] == data["number"] and stored["currency"] == "VND"
    assert stored["seats"] == {"commune": 200, "department": 30, "district": 15}
    assert stored["plan"]["unit_fees"] == {
        "commune": 1_000_000,
        "department": 4_000_000,
        "district": 3_000_000,
    }
    assert stored["plan"]["metrics"] == [
        {
            "metric": "dossiers_received",
            "included": 500,
            "tiers": [{"up_to": 1000, "unit_price": 500}, {"up_to": None, "unit_price": 300}],
        }
    ]
    [event] = audit_of(platform, stored["id"])
    assert event.action == "created" and event.actor_label == "test" and event.data["after"] == stored


BAD_INPUTS = {
    "end before start": (
        contract_data(date(2025, 6, 1), date(2025, 5, 1)),
        "ends_on",
        "phải sau ngày bắt đầu",
    ),
    "empty term": (contract_data(date(2025, 6, 1), date(2025, 6, 1)), "ends_on", "phải sau ngày bắt đầu"),
    "no start": (contract_data(starts_on=None), "starts_on", "cần một ngày"),
    "no number": (contract_data(number=" "), "number", "Cần nhập số hợp đồng"),
    "unknown seat kind": (
        contract_data(seats={"province": 3}),
        "seats.province",
        "Loại đơn vị không xác định",
    ),
    "negative seats": (contract_data(seats={"district": -1}), "seats.district", "không được âm"),
    "seats not a number": (contract_data(seats={"district": "many"}), "seats.district", "số nguyên"),
    "unknown fee kind": (with_plan(unit_fees={"province": 1}), "plan.unit_fees.province", "không xác định"),
    "negative fee": (
        with_plan(unit_fees={"district": -3_000_000}),
        "plan.unit_fees.district",
        "không được âm",
    ),
    "negative setup fee": (with_plan(setup_fee=-1), "plan.setup_fee", "Phí khởi tạo không được âm"),
    "discount over 100 %": (with_plan(discount_bp=10_001), "plan.discount_bp", "từ 0 đến 100 %"),
    "negative discount": (with_plan(discount_bp=-1), "plan.discount_bp", "từ 0 đến 100 %"),
    "no plan": (contract_data(plan=None), "plan", "cần có bảng giá"),
    "no plan name": (with_plan(name=""), "plan.name", "cần có tên"),
    "unknown metric": (with_metric(metric="page_views"), "plan.metrics.0.metric", "không xác định"),
    "negative quota": (with_metric(included=-5), "plan.metrics.0.included", "Hạn mức không được âm"),
    "no tiers": (with_metric(tiers=[]), "plan.metrics.0.tiers", "chưa có bậc nào"),
    "negative tier price": (
        with_metric(tiers=[{"up_to": None, "unit_price": -300}]),
        "plan.metrics.0.tiers",
        "đơn giá không được âm",
    ),
    "bounded last tier": (
        with_metric(tiers=[{"up_to": 1000, "unit_price": 300}]),
        "plan.metrics.0.tiers",
        "Bậc cuối phải không giới hạn",
    ),
    "tiers not increasing": (
        with_metric(
            tiers=[
                {"up_to": 1000, "unit_price": 3},
                {"up_to": 500, "unit_price": 2},
                {"up_to": None, "unit_price": 1},
            ]
        ),
        "plan.metrics.0.tiers",
        "mức trên phải lớn hơn bậc trước",
    ),
    "unbounded tier in the middle": (
        with_metric(tiers=[{"up_to": None, "unit_price": 3}, {"up_to": None, "unit_price": 1}]),
        "plan.metrics.0.tiers",
        "Chỉ bậc cuối được không giới hạn",
    ),
    "currency other than VND": (
        contract_data(currency="USD"),
        "currency",
        "chỉ lập bằng đồng Việt Nam (VND)",
    ),
    "billing period": (
        contract_data(billing_period="weekly"),
        "billing_period",
        "hằng tháng (monthly) hoặc hằng quý",
    ),
    "grace days": (contract_data(grace_days=-1), "grace_days", "từ 0 đến"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_refused_clearly_and_nothing_is_stored(platform, name):
    data, field, words = BAD_INPUTS[name]
    with pytest.raises(ContractError) as refused:
        create(platform, copy.deepcopy(data))
    assert refused.value.status == 422
    assert field in refused.value.errors, refused.value.errors
    vi, en = refused.value.errors[field]
    assert words in vi and en  # Vietnamese first, with its English
    assert contract_count(platform) == 0


def test_a_duplicate_metric_and_every_problem_at_once(platform):
    data = contract_data(seats={"district": -1})
    data["plan"]["setup_fee"] = -1
    data["plan"]["metrics"].append(copy.deepcopy(data["plan"]["metrics"][0]))
    with pytest.raises(ContractError) as refused:
        create(platform, data)
    assert {"seats.district", "plan.setup_fee", "plan.metrics.1.metric"} <= set(refused.value.errors)
    assert "hai lần" in refused.value.errors["plan.metrics.1.metric"][0]


# --- overlapping terms ------------------------------------------------------------------------------


def test_overlapping_terms_are_refused_naming_the_other_contract(platform):
    first = create(platform, contract_data(date(2025, 1, 1), date(2026, 1, 1)))
    for start, end in [
        (date(2025, 12, 1), date(2026, 6, 1)),  # its tail
        (date(2024, 6, 1), date(2025, 1, 2)),  # its first day
        (date(2025, 3, 1), date(2025, 4, 1)),  # inside
        (date(2024, 1, 1), date(2027, 1, 1)),  # around
    ]:
        with pytest.raises(ContractOverlap) as refused:
            create(platform, contract_data(start, end))
        assert refused.value.status == 409
        assert first["number"] in refused.value.vi and first["number"] in refused.value.en
        assert "31/12/2025" in refused.value.vi  # the other's last day, inclusive
    # Back to back is fine: the first ends (exclusive) the day the next starts.
    second = create(platform, contract_data(date(2026, 1, 1), date(2027, 1, 1)))
    # Moving the second over the first is refused too; the same number twice as well.
    moved = contract_data(date(2025, 12, 1), date(2027, 1, 1), number=second["number"])
    with pytest.raises(ContractOverlap, match=re.escape(first["number"])):
        update_it(platform, second["id"], moved)
    with pytest.raises(ContractOverlap, match="HĐ-X"):
        create(platform, contract_data(date(2030, 1, 1), date(2031, 1, 1), number="HĐ-X"))
        create(platform, contract_data(date(2032, 1, 1), date(2033, 1, 1), number="HĐ-X"))
    assert contract_count(platform) == 3


# --- periods and the contract in force ---------------------------------------------------------------


def test_periods_are_calendar_months_or_quarters_clipped_to_the_term(platform):
    monthly = Contract(starts_on=date(2026, 1, 15), ends_on=date(2026, 4, 10), billing_period="monthly")
    assert contracts.periods(monthly) == [
        (date(2026, 1, 15), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 4, 1)),
        (date(2026, 4, 1), date(2026, 4, 10)),
    ]
    quarterly = Contract(starts_on=date(2026, 2, 20), ends_on=date(2027, 1, 1), billing_period="quarterly")
    assert contracts.periods(quarterly) == [
        (date(2026, 2, 20), date(2026, 4, 1)),
        (date(2026, 4, 1), date(2026, 7, 1)),
        (date(2026, 7, 1), date(2026, 10, 1)),
        (date(2026, 10, 1), date(2027, 1, 1)),
    ]
    december = Contract(starts_on=date(2025, 12, 1), ends_on=date(2026, 1, 1), billing_period="monthly")
    assert contracts.periods(december) == [(date(2025, 12, 1), date(2026, 1, 1))]
    assert contracts.period_of(quarterly, date(2026, 5, 5)) == (date(2026, 4, 1), date(2026, 7, 1))
    assert contracts.period_of(quarterly, date(2027, 1, 1)) is None


def test_the_contract_in_force_holds_its_first_day_not_its_end(platform):
    first = create(platform, contract_data(date(2025, 1, 1), date(2025, 7, 1)))
    second = create(platform, contract_data(date(2025, 7, 1), date(2026, 1, 1)))
    with platform.shards.platform_session() as session:
        assert contracts.contract_in_force(session, date(2024, 12, 31)) is None
        assert contracts.contract_in_force(session, date(2025, 1, 1)).id == first["id"]
        assert contracts.contract_in_force(session, date(2025, 6, 30)).id == first["id"]
        assert contracts.contract_in_force(session, date(2025, 7, 1)).id == second["id"]
        assert contracts.contract_in_force(session, date(2026, 1, 1)) is None


def test_percent_shows_basis_points_as_the_form_reads_them():
    from billing.contract_views import percent

    assert [percent(bp) for bp in (0, 1000, 9950, 1234, 10_000, 5)] == [
        "0 %",
        "10 %",
        "99,5 %",
        "12,34 %",
        "100 %",
        "0,05 %",
    ]


def test_vn_date_is_the_asia_ho_chi_minh_day():
    assert contracts.vn_date(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)) == date(2026, 2, 1)
    assert contracts.vn_date(datetime(2026, 1, 31, 16, 59, tzinfo=UTC)) == date(2026, 1, 31)


# --- changes, the audit trail and finalized periods ------------------------------------------------


def finalize_first_period(platform, contract_id) -> None:
    """A final invoice for the contract's first month, as H4's finalize leaves it."""
    with platform.shards.platform_session() as session, session.begin():
        contract = contracts.get_contract(session, contract_id)
        start, end = contracts.periods(contract)[0]
        session.add(
            Invoice(
                contract_id=contract_id,
                status=FINAL,
                sequence_no=1,
                number=f"{contract.number}-000001",
                period_start=start,
                period_end=end,
                content_hash="0" * 64,
                finalized_at=datetime.now(UTC),
            )
        )


def test_changes_are_audited_with_before_and_after(platform):
    data = contract_data()
    stored = create(platform, data)
    data["seats"]["district"] = 16
    data["plan"]["unit_fees"]["district"] = 3_200_000
    data["plan"]["metrics"] = []
    changed = update_it(platform, stored["id"], data)
    assert changed["seats"]["district"] == 16 and changed["plan"]["metrics"] == []
    update_it(platform, stored["id"], data)  # the same again: nothing changed, nothing recorded
    _created, updated = audit_of(platform, stored["id"])
    assert updated.action == "updated"
    assert updated.data["before"]["plan"]["unit_fees"]["district"] == 3_000_000
    assert updated.data["after"]["plan"]["unit_fees"]["district"] == 3_200_000


def test_a_final_invoice_freezes_what_priced_its_period(platform):
    data = contract_data(date(2025, 1, 1), date(2026, 1, 1))
    stored = create(platform, data)
    finalize_first_period(platform, stored["id"])

    for change, field in [
        (lambda d: d["plan"]["unit_fees"].update(district=1), "plan"),
        (lambda d: d["plan"].update(discount_bp=0), "plan"),
        (lambda d: d["plan"]["metrics"][0].update(included=999), "plan"),
        (lambda d: d.update(starts_on=date(2025, 1, 2)), "starts_on"),
        (lambda d: d.update(billing_period="quarterly"), "billing_period"),
        (lambda d: d.update(number="HĐ-KHÁC"), "number"),
    ]:
        attempt = copy.deepcopy(data)
        change(attempt)
        with pytest.raises(PeriodFinalized) as refused:
            update_it(platform, stored["id"], attempt)
        assert refused.value.status == 409 and field in refused.value.errors
        assert "hồi tố" in refused.value.vi and "31/01/2025" in refused.value.vi
        assert "hợp đồng mới" in refused.value.vi and "retroactively" in refused.value.en
    early_end = copy.deepcopy(data)
    early_end["ends_on"] = date(2025, 1, 20)
    with pytest.raises(PeriodFinalized, match="không thể kết thúc trước"):
        update_it(platform, stored["id"], early_end)

    # What did not price the finalized month may still change: seats, the plan's name, the end after it.
    allowed = copy.deepcopy(data)
    allowed["seats"]["commune"] = 250
    allowed["plan"]["name"] = "Gói thử (đổi tên)"
    allowed["ends_on"] = date(2025, 2, 1)
    changed = update_it(platform, stored["id"], allowed)
    assert changed["seats"]["commune"] == 250 and changed["ends_on"] == "2025-02-01"
    assert audit_of(platform, stored["id"])[-1].action == "updated"


# --- seats in onboarding --------------------------------------------------------------------------


def test_onboarding_seats_come_from_the_contract_in_force_else_the_setting(app, platform, monkeypatch):
    monkeypatch.setattr(platform.settings, "onboarding_seats", {"department": 5})
    with app.app_context(), platform.shards.platform_session() as session:
        taken = seats_taken(session, "department")
        assert seat_limit("department", session) == 5  # no contract: the old setting
        assert seat_limit("commune", session) is None  # unlimited there
    # A contract that ended yesterday changes nothing.
    make_contract(platform, contract_data(today() - timedelta(days=30), today(), seats={"department": 1}))
    with app.app_context(), platform.shards.platform_session() as session:
        assert seat_limit("department", session) == 5
    make_contract(
        platform, contract_data(today(), today() + timedelta(days=365), seats={"department": taken + 2})
    )
    with app.app_context(), platform.shards.platform_session() as session:
        assert seat_limit("department", session) == taken + 2
        assert seats_left(session, "department") == 2
        assert seat_limit("commune", session) == 0  # not on the lease: no seats
        assert seats_left(session, "commune") == 0
    with app.app_context():
        assert seat_limit("department") == taken + 2  # without a session of the caller's


def test_approval_is_refused_when_the_contract_has_no_seat_left(app, platform, city, console):
    request = submitted_request(app, platform, city.slug, kind="department")
    with app.app_context(), platform.shards.platform_session() as session:
        taken = seats_taken(session, "department")
    data = contract_data(today(), today() + timedelta(days=365), seats={"department": taken})
    contract_id = make_contract(platform, data)
    queue = console.get("/onboarding/")
    assert queue.status_code == 200
    refused = console.post(f"/onboarding/{request.id}/approve", data={"csrf_token": TEST_CSRF})
    assert refused.status_code == 409 and "không còn chỗ cho đơn vị loại này" in refused.text
    data["seats"]["department"] = taken + 1
    update_it(platform, contract_id, data)
    approved = console.post(f"/onboarding/{request.id}/approve", data={"csrf_token": TEST_CSRF})
    assert approved.status_code == 303
    with app.app_context(), platform.shards.platform_session() as session:
        assert seats_left(session, "department") == 0  # the approved request holds the last seat
    page = console.get(f"/billing/contracts/{contract_id}")
    row = re.search(r"Sở, ban, ngành</th>\s*<td>(\d+)[^<]*</td>\s*<td>(\d+)</td>\s*<td>(\d+)", page.text)
    assert row and row.groups() == (str(taken + 1), str(taken + 1), "0")


# --- service periods ------------------------------------------------------------------------------


def period_of(platform, tenant_id) -> ServicePeriod | None:
    with platform.shards.platform_session() as session:
        return service_periods.get_period(session, tenant_id)


def test_service_periods_are_idempotent_and_give_proration_their_days(platform, make_tenant):
    unit = make_tenant("commune")
    with platform.shards.platform_session() as session, session.begin():
        service_periods.activate(session, unit.id, date(2026, 3, 10))
        service_periods.activate(session, unit.id, date(2026, 3, 12))  # a rerun keeps the first day
    with platform.shards.platform_session() as session, session.begin():
        service_periods.decommission(session, unit.id, date(2026, 3, 20))
        service_periods.decommission(session, unit.id, date(2026, 3, 25))
    period = period_of(platform, unit.id)
    assert (period.active_from, period.active_until) == (date(2026, 3, 10), date(2026, 3, 20))
    # March: the 10th (activation, billed) to the 19th; the 20th (decommission) is not billed.
    assert active_days(date(2026, 3, 1), date(2026, 4, 1), period.active_from, period.active_until) == 10
    assert active_days(date(2026, 4, 1), date(2026, 5, 1), period.active_from, period.active_until) == 0
    assert active_days(date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 31), None) == 1  # the last day
    with platform.shards.platform_session() as session, session.begin():
        service_periods.reopen(session, unit.id)
    assert period_of(platform, unit.id).active_until is None


def test_units_made_without_the_pipeline_are_backfilled(app, platform, make_tenant, monkeypatch):
    live, gone = make_tenant("district"), make_tenant("district")
    # Decommissioned before billing was there: no hook recorded its end.
    monkeypatch.setattr(decommission, "FINAL_INVOICE_HOOKS", [])
    assert run_pipeline(app, "decommission", gone.slug, settle_seconds=0).status == RunStatus.DONE
    assert period_of(platform, gone.id) is None
    later = datetime.now(UTC) + timedelta(days=3)  # the record's day, not the tenant's last update
    with platform.shards.platform_session() as session, session.begin():
        record = session.scalar(
            select(PlatformAuditEvent).where(
                PlatformAuditEvent.entity == "tenant",
                PlatformAuditEvent.entity_id == str(gone.id),
                PlatformAuditEvent.action == "decommission",
            )
        )
        record.data = {**record.data, "decommissioned_at": later.isoformat()}
        created = service_periods.ensure_service_periods(session)
    assert created >= 2
    with platform.shards.platform_session() as session, session.begin():
        assert service_periods.ensure_service_periods(session) == 0  # once
    assert period_of(platform, live.id).active_from == contracts.vn_date(live.created_at)
    assert period_of(platform, live.id).active_until is None
    gone_period = period_of(platform, gone.id)
    assert gone_period.active_from == contracts.vn_date(gone.created_at)
    assert gone_period.active_until == contracts.vn_date(later)  # the day of its decommission record


def _ctx(platform, tenant) -> StepContext:
    spec = ProvisionSpec(
        name=tenant.name,
        kind=tenant.kind,
        unit_code=tenant.unit_code,
        slug=tenant.slug,
        admin_email="x@example.vn",
        admin_name="X",
    )
    return StepContext(
        run_id=0, kind="provision", spec=spec, tenant_slug=tenant.slug, params={}, data={}, platform=platform
    )


def test_the_activate_step_starts_the_service_period_and_its_undo_forgets_it(app, platform, make_tenant):
    unit = make_tenant("district")
    with platform.shards.platform_session() as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == unit.id).values(status="provisioning"))
    with app.test_request_context(base_url="http://localhost"):
        provision_steps.activate(_ctx(platform, unit))
        provision_steps.activate(_ctx(platform, unit))  # a step run again after a crash
        assert period_of(platform, unit.id).active_from == today()
        provision_steps.deactivate(_ctx(platform, unit))
    assert period_of(platform, unit.id) is None
    with platform.shards.platform_session() as session:
        assert session.get(Tenant, unit.id).status == "provisioning"
    with platform.shards.platform_session() as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == unit.id).values(status="active"))


def test_decommission_ends_the_service_period_and_a_rollback_reopens_it(
    app, platform, make_tenant, monkeypatch
):
    assert service_periods.end_service in decommission.FINAL_INVOICE_HOOKS
    unit = make_tenant("district")
    with platform.shards.platform_session() as session, session.begin():
        service_periods.activate(session, unit.id, today() - timedelta(days=40))

    def billing_down(tenant, when):
        raise RuntimeError("billing is down")

    monkeypatch.setattr(decommission, "FINAL_INVOICE_HOOKS", [service_periods.end_service, billing_down])
    # The failing hook is retried as often as in production, without the 2 + 8 + 30 s waits.
    retries = len(platform.settings.provisioning_retry_delays)
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,) * retries)
    run = run_pipeline(app, "decommission", unit.slug, settle_seconds=0)
    assert run.status == RunStatus.FAILED
    assert period_of(platform, unit.id).active_until == today()  # the decommission day: not billed
    from provisioning import pipeline

    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run.id, actor_label="test")
        assert pipeline.execute_run(run.id).status == RunStatus.ROLLED_BACK
    assert period_of(platform, unit.id).active_until is None  # live again, billed again

    monkeypatch.setattr(decommission, "FINAL_INVOICE_HOOKS", [service_periods.end_service])
    assert run_pipeline(app, "decommission", unit.slug, settle_seconds=0).status == RunStatus.DONE
    period = period_of(platform, unit.id)
    assert (period.active_from, period.active_until) == (today() - timedelta(days=40), today())


# --- the console pages ----------------------------------------------------------------------------


def form_of(data: dict) -> dict:
    """The console form's fields for ``data`` (the last day shown inclusive)."""
    plan = data["plan"]
    form = {
        "csrf_token": TEST_CSRF,
        "number": data["number"],
        "provider_party": data["provider_party"],
        "city_party": data["city_party"],
        "starts_on": data["starts_on"].isoformat(),
        "ends_on": (data["ends_on"] - timedelta(days=1)).isoformat(),
        "currency": "VND",
        "billing_period": data["billing_period"],
        "sla_target": "99,5",
        "grace_days": "5",
        "plan.name": plan["name"],
        "plan.setup_fee": "5.000.000",
        "plan.discount": "10",
    }
    for kind, seats in data["seats"].items():
        form[f"seats.{kind}"] = str(seats)
    for kind, fee in plan["unit_fees"].items():
        form[f"plan.unit_fees.{kind}"] = str(fee)
    form["metric.dossiers_received.included"] = "500"
    form["metric.dossiers_received.tiers"] = "1.000:500; *:300"
    return form


def test_ops_create_and_edit_a_contract_in_the_console(platform, console, ops):
    assert console.get("/billing/contracts/").status_code == 200
    new = console.get("/billing/contracts/new")
    assert new.status_code == 200 and 'name="metric.active_officials.tiers"' in new.text
    data = contract_data(today() - timedelta(days=3), today() + timedelta(days=362))
    created = console.post("/billing/contracts/new", data=form_of(data))
    assert created.status_code == 303, created.text
    contract_id = int(created.headers["Location"].rsplit("/", 1)[1])
    with platform.shards.platform_session() as session:
        stored = contracts.snapshot(contracts.get_contract(session, contract_id))
    assert stored["ends_on"] == data["ends_on"].isoformat()  # the inclusive last day + 1
    assert stored["plan"]["setup_fee"] == 5_000_000 and stored["plan"]["discount_bp"] == 1_000
    assert stored["sla_target_bp"] == 9950 and stored["plan"]["metrics"] == data["plan"]["metrics"]
    [event] = audit_of(platform, contract_id)
    assert event.actor_account_id == ops.id

    page = console.get(f"/billing/contracts/{contract_id}")
    assert page.status_code == 200
    assert "Đang hiệu lực hôm nay" in page.text and "3.000.000 ₫" in page.text and "Còn lại" in page.text
    assert "<dd>10 %</dd>" in page.text and "<dd>99,5 %</dd>" in page.text
    assert (
        "Thành phố</th>" not in page.text
    )  # the city is the lessee: no seat row unless the contract lists it
    listing = console.get("/billing/contracts/")
    assert data["number"] in listing.text and "Hợp đồng thuê" in listing.text  # the console menu links it

    edit = console.get(f"/billing/contracts/{contract_id}/edit")
    assert edit.status_code == 200 and 'value="1000:500; *:300"' in edit.text
    assert 'name="plan.discount" type="text" value="10"' in edit.text  # saved again unchanged
    form = form_of(data)
    form["plan.unit_fees.district"] = "3.300.000"
    assert console.post(f"/billing/contracts/{contract_id}/edit", data=form).status_code == 303
    with platform.shards.platform_session() as session:
        assert contracts.snapshot(contracts.get_contract(session, contract_id))["plan"]["unit_fees"][
            "district"
        ] == (3_300_000)


def test_a_refused_form_keeps_what_was_typed_and_names_each_problem(platform, console):
    data = contract_data()
    form = form_of(data)
    form["plan.unit_fees.district"] = "-3.000.000"
    form["metric.dossiers_received.tiers"] = "1000:500"
    form["currency"] = "USD"
    refused = console.post("/billing/contracts/new", data=form)
    assert refused.status_code == 422
    assert 'value="-3.000.000"' in refused.text and f'value="{data["number"]}"' in refused.text
    assert 'id="plan.unit_fees.district_error"' in refused.text and "không được âm" in refused.text
    assert 'id="metric.dossiers_received.tiers_error"' in refused.text and "Bậc cuối" in refused.text
    assert 'id="currency_error"' in refused.text and "đồng Việt Nam (VND)" in refused.text
    unreadable = dict(form_of(data), **{"seats.district": "mười", "plan.discount": "12,345"})
    refused = console.post("/billing/contracts/new", data=unreadable)
    assert refused.status_code == 422 and 'id="seats.district_error"' in refused.text
    assert 'id="plan.discount_error"' in refused.text
    assert contract_count(platform) == 0
    # An overlap is shown on the form too, naming the other contract.
    other = create(platform, contract_data())
    overlapping = console.post("/billing/contracts/new", data=form_of(contract_data()))
    assert overlapping.status_code == 409 and other["number"] in overlapping.text


def test_posts_without_the_csrf_token_are_refused(platform, console):
    form = form_of(contract_data())
    del form["csrf_token"]
    assert console.post("/billing/contracts/new", data=form).status_code == 400
    assert console.post("/billing/contracts/new", data=dict(form, csrf_token="wrong")).status_code == 400
    stored = create(platform, contract_data())
    assert console.post(f"/billing/contracts/{stored['id']}/edit", data=form).status_code == 400
    assert contract_count(platform) == 1


def test_contract_pages_are_for_provider_ops_only(platform, client_for, make_tenant):
    stored = create(platform, contract_data())
    paths = ["/billing/contracts/", "/billing/contracts/new", f"/billing/contracts/{stored['id']}",
             f"/billing/contracts/{stored['id']}/edit"]  # fmt: skip
    anonymous = client_for(host=CONSOLE)
    for path in paths:
        answer = anonymous.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), path
    assert anonymous.post("/billing/contracts/new", data=form_of(contract_data())).status_code == 302

    tenant = make_tenant("district")
    unit_admin = make_account(platform, memberships=[(tenant, ["unit_admin"])])
    auditor = make_account(platform, platform_roles=["city_auditor"])
    for account in (unit_admin, auditor):
        other = client_for(host=CONSOLE)
        sign_in_directly(other, account, site="console")
        for path in paths:
            assert other.get(path).status_code == 403, path
        assert other.post("/billing/contracts/new", data=form_of(contract_data())).status_code == 403
    # On a unit's host, even signed in as its admin, the pages do not exist.
    on_tenant = client_for(tenant)
    sign_in_directly(on_tenant, unit_admin, tenant)
    for path in paths:
        assert on_tenant.get(path).status_code == 404, path
    assert contract_count(platform) == 1


def test_an_unknown_contract_is_404(console):
    assert console.get("/billing/contracts/999999").status_code == 404


# --- the JSON API ---------------------------------------------------------------------------------


def as_json(data: dict) -> dict:
    out = copy.deepcopy(data)
    out["starts_on"], out["ends_on"] = data["starts_on"].isoformat(), data["ends_on"].isoformat()
    return out


def test_the_api_lists_reads_and_creates_contracts(platform, console):
    headers = {"X-CSRF-Token": TEST_CSRF}
    created = console.post("/api/v1/billing/contracts", json=as_json(contract_data()), headers=headers)
    assert created.status_code == 201, created.text
    body = created.get_json()
    assert body["currency"] == "VND" and body["seats"]["district"] == 15 and body["in_force"] is False
    assert body["periods"][0] == ["2025-01-01", "2025-02-01"] and len(body["periods"]) == 12
    listed = console.get("/api/v1/billing/contracts")
    assert listed.status_code == 200 and [c["id"] for c in listed.get_json()] == [body["id"]]
    one = console.get(f"/api/v1/billing/contracts/{body['id']}")
    assert one.status_code == 200 and one.get_json()["plan"]["discount_bp"] == 1_000
    assert console.get("/api/v1/billing/contracts/999999").status_code == 404

    overlapping = console.post("/api/v1/billing/contracts", json=as_json(contract_data()), headers=headers)
    assert overlapping.status_code == 409 and body["number"] in overlapping.get_json()["message_vi"]
    bad = as_json(with_plan(setup_fee=-1, discount_bp=20_000))
    bad["starts_on"], bad["ends_on"] = "2030-01-01", "2031-01-01"
    refused = console.post("/api/v1/billing/contracts", json=bad, headers=headers)
    assert refused.status_code == 422
    assert {"plan.setup_fee", "plan.discount_bp"} <= set(refused.get_json()["errors"])
    usd = dict(as_json(contract_data(date(2030, 1, 1), date(2031, 1, 1))), currency="USD")
    refused = console.post("/api/v1/billing/contracts", json=usd, headers=headers)
    assert refused.status_code == 422 and "VND" in refused.get_json()["message_vi"]
    assert contract_count(platform) == 1


def test_the_api_needs_a_provider_ops_session_and_the_csrf_header(platform, client_for, console, make_tenant):
    payload = as_json(contract_data())
    assert console.post("/api/v1/billing/contracts", json=payload).status_code == 400  # no X-CSRF-Token
    anonymous = client_for(host=CONSOLE)
    answer = anonymous.get("/api/v1/billing/contracts")
    assert answer.status_code == 401 and answer.get_json()["message_vi"]
    assert anonymous.post("/api/v1/billing/contracts", json=payload).status_code == 401
    tenant = make_tenant("district")
    unit_admin = make_account(platform, memberships=[(tenant, ["unit_admin"])])
    other = client_for(host=CONSOLE)
    sign_in_directly(other, unit_admin, site="console")
    assert other.get("/api/v1/billing/contracts").status_code == 403
    assert (
        other.post("/api/v1/billing/contracts", json=payload, headers={"X-CSRF-Token": TEST_CSRF}).status_code
        == 403
    )
    on_tenant = client_for(tenant)
    sign_in_directly(on_tenant, unit_admin, tenant)
    assert on_tenant.get("/api/v1/billing/contracts").status_code == 404
    assert contract_count(platform) == 0


# --- the demo -------------------------------------------------------------------------------------


def test_the_demo_gets_a_contract_in_force_once(app, platform, city):
    assert seed_billing_demo in app.extensions["motcua.demo_seeders"]
    with app.app_context():  # as the demo seed calls it
        assert seed_billing_demo(platform) is True
        assert seed_billing_demo(platform) is False  # idempotent
    with platform.shards.platform_session() as session:
        contract = contracts.contract_in_force(session, today())
        assert contract.number == DEMO_NUMBER and contract.city_tenant_id == city.id
        assert set(contracts.snapshot(contract)["plan"]["metrics"][0]) == {"metric", "included", "tiers"}
        assert all(m.metric in METRICS for m in contract.plan.metrics)
        assert service_periods.get_period(session, city.id) is not None
    assert contract_count(platform) == 1


# --- the CLI --------------------------------------------------------------------------------------


def test_the_cli_lists_contracts_and_backfills_service_periods(app, platform, make_tenant):
    unit = make_tenant("district")
    stored = create(platform, contract_data(today(), today() + timedelta(days=30)))
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["billing", "contracts"])
    assert listed.exit_code == 0 and f"* #{stored['id']} {stored['number']}" in listed.output
    assert "district=15" in listed.output
    made = runner.invoke(args=["billing", "service-periods"])
    assert made.exit_code == 0 and "service periods created" in made.output
    assert period_of(platform, unit.id).active_from == contracts.vn_date(unit.created_at)
    again = runner.invoke(args=["billing", "service-periods"])
    assert again.output.startswith("0 ")


def test_two_overlapping_contracts_saved_at_once_cannot_both_pass(platform):
    """The second writer waits on the contract lock, then sees the first's contract and is refused."""
    import threading

    outcome = {}
    first = platform.shards.platform_session()
    first.begin()
    contracts.create_contract(first, contract_data(), actor_label="first")  # holds the lock, not committed

    def second_writer():
        try:
            create(platform, contract_data(date(2025, 6, 1), date(2026, 6, 1)))
            outcome["second"] = "stored"
        except ContractOverlap as exc:
            outcome["second"] = exc.vi

    thread = threading.Thread(target=second_writer)
    thread.start()
    with platform.shards.platform_session() as watcher:
        for _ in range(2000):  # until the second writer waits on the advisory lock
            waiting = watcher.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
            watcher.rollback()
            if waiting:
                break
            threading.Event().wait(0.01)
        assert waiting == 1
    first.commit()
    first.close()
    thread.join()
    assert outcome["second"].startswith("Thời hạn trùng với hợp đồng")
    assert contract_count(platform) == 1


def test_the_form_says_why_a_finalized_contract_cannot_change_its_prices(platform, console):
    data = contract_data()
    stored = create(platform, data)
    finalize_first_period(platform, stored["id"])
    edit = console.get(f"/billing/contracts/{stored['id']}/edit")
    assert "Đã có hóa đơn chốt" in edit.text
    form = form_of(data)
    form["plan.unit_fees.district"] = "1"
    refused = console.post(f"/billing/contracts/{stored['id']}/edit", data=form)
    assert refused.status_code == 409
    assert "không thể thay đổi hồi tố bảng giá" in refused.text and "31/01/2025" in refused.text
    assert 'value="1"' in refused.text  # what was typed stays
    with platform.shards.platform_session() as session:
        plan = contracts.snapshot(contracts.get_contract(session, stored["id"]))["plan"]
    assert plan["unit_fees"]["district"] == 3_000_000
    detail = console.get(f"/billing/contracts/{stored['id']}")
    assert "01/01/2025 – 31/01/2025 (đã chốt)" in detail.text


# --- review: input that used to reach the database or the calendar as a 500 -----------------------

FORM_500S = {
    "last day 9999-12-31 (the exclusive end overflowed)": {"ends_on": "9999-12-31"},
    "a term ending in year 9999 (its periods ran into year 10000)": {"ends_on": "9999-12-30"},
    "a term in year 1": {"starts_on": "0001-01-01", "ends_on": "0001-01-01"},
    "SLA target Infinity": {"sla_target": "Infinity"},
    "SLA target 1e999999": {"sla_target": "1e999999"},
    "discount -inf": {"plan.discount": "-inf"},
    "a superscript city id": {"city_tenant_id": "²"},
    "a city id past BIGINT": {"city_tenant_id": "9" * 25},
    "seats past INTEGER": {"seats.district": "99999999999"},
    "a tier price past any invoice": {"metric.dossiers_received.tiers": "1000:500; *:" + "9" * 20},
    "a tier bound past BIGINT": {"metric.dossiers_received.tiers": "9" * 25 + ":500; *:300"},
    "a decimal comma in a fee (2,5 read as 25)": {"plan.unit_fees.district": "2,5"},
    "a decimal point in seats (1.5 read as 15)": {"seats.district": "1.5"},
    "a decimal comma in a tier price": {"metric.dossiers_received.tiers": "1.000:2,5; *:300"},
    "grace days 1.0 (read as 10)": {"grace_days": "1.0"},
    "a NUL in the number": {"number": "HĐ-\x00-1"},
    "a NUL in the plan's name": {"plan.name": "Gói\x00"},
}


@pytest.mark.parametrize("name", list(FORM_500S))
def test_the_form_refuses_out_of_range_input_by_field_not_with_a_500(platform, console, name):
    form = dict(form_of(contract_data()), **FORM_500S[name])
    refused = console.post("/billing/contracts/new", data=form)
    assert refused.status_code == 422, (name, refused.status_code)
    # The form comes back with what was typed (not the database's generic 422 page).
    assert 'name="number"' in refused.text and 'id="error-summary"' in refused.text, name
    assert contract_count(platform) == 0
    assert console.get("/billing/contracts/").status_code == 200


API_500S = {
    "ends 9999-12-31": {"ends_on": "9999-12-31"},
    "a term in year 1": {"starts_on": "0001-01-01", "ends_on": "0001-01-01"},
    "seats past INTEGER": {"seats": {"district": 10**12}},
    "a city id past BIGINT": {"city_tenant_id": 10**30},
    "a tier price past BIGINT": {"plan": with_metric(tiers=[{"up_to": None, "unit_price": 10**19}])["plan"]},
}


@pytest.mark.parametrize("name", list(API_500S))
def test_the_api_refuses_out_of_range_input_with_a_422(platform, console, name):
    payload = dict(as_json(contract_data()), **API_500S[name])
    answer = console.post("/api/v1/billing/contracts", json=payload, headers={"X-CSRF-Token": TEST_CSRF})
    assert answer.status_code == 422, (name, answer.status_code, answer.text[:300])
    assert answer.get_json()["message_vi"]
    assert contract_count(platform) == 0
    assert console.get("/api/v1/billing/contracts").status_code == 200


def test_a_final_period_cut_by_the_old_end_cannot_grow_and_the_city_unit_cannot_change(platform, city):
    """A term ending mid-month: its last month is finalized as [1st, end). Extending the term would
    turn that month into a longer period whose invoice is already final (the invoice job skips a
    final period's start: its new days would never be billed)."""
    data = contract_data(date(2025, 1, 1), date(2025, 1, 20), city_tenant_id=city.id)
    stored = create(platform, data)
    finalize_first_period(platform, stored["id"])  # [2025-01-01, 2025-01-20)
    for new_end in (date(2025, 2, 1), date(2026, 1, 1)):
        longer = dict(copy.deepcopy(data), ends_on=new_end)
        with pytest.raises(PeriodFinalized) as refused:
            update_it(platform, stored["id"], longer)
        assert "ends_on" in refused.value.errors and "20/01/2025" in refused.value.vi
    other_city = dict(copy.deepcopy(data), city_tenant_id=None)
    with pytest.raises(PeriodFinalized) as refused:
        update_it(platform, stored["id"], other_city)
    assert "city_tenant_id" in refused.value.errors
    with platform.shards.platform_session() as session:
        contract = contracts.get_contract(session, stored["id"])
        assert contracts.periods(contract) == [(date(2025, 1, 1), date(2025, 1, 20))]
        assert contract.city_tenant_id == city.id

    # A final period that ends on its calendar boundary may be followed by more of the term.
    whole = create(platform, contract_data(date(2027, 1, 1), date(2027, 2, 1)))
    finalize_first_period(platform, whole["id"])
    longer = contract_data(date(2027, 1, 1), date(2027, 6, 1), number=whole["number"])
    assert update_it(platform, whole["id"], longer)["ends_on"] == "2027-06-01"


def test_the_demo_has_a_city_auditor_beside_its_provider_ops(app, platform, city, client_for):
    from types import SimpleNamespace

    from app.auth.demo import DEMO_PASSWORD, OPS_EMAIL, seed_demo_accounts
    from app.auth.models import Account
    from app.auth.passwords import verify_password
    from billing.demo import AUDITOR_EMAIL

    seed_demo_accounts(platform.shards, {})  # what the demo seed makes first: its provider ops account
    report = SimpleNamespace(accounts={"ops": [OPS_EMAIL]})
    with app.app_context():  # as the demo seed calls it
        seed_billing_demo(platform, report)
        seed_billing_demo(platform, report)  # idempotent
    assert report.accounts["auditors"] == [AUDITOR_EMAIL]
    with platform.shards.platform_session() as session:
        [auditor] = session.scalars(select(Account).where(Account.email == AUDITOR_EMAIL)).all()
        assert auditor.platform_roles == ["city_auditor"]  # read-only: not provider ops
        assert verify_password(auditor.password_hash, DEMO_PASSWORD)[0]
    client = client_for(host=CONSOLE)
    sign_in_directly(client, auditor, site="console")
    assert client.get("/audit/").status_code == 200
    assert client.get("/billing/contracts/").status_code == 403


def _draft(platform, contract_id, start, end, *, adjustment: str | None = None) -> int:
    """A draft as the refresh job leaves it: one computed line, and a manual adjustment if asked."""
    from billing.models import InvoiceLine

    with platform.shards.platform_session() as session, session.begin():
        lines = [
            InvoiceLine(position=1, kind="unit_fee", description_vi="Phí", description_en="Fee", amount=1)
        ]
        if adjustment:
            lines.append(
                InvoiceLine(
                    position=2,
                    kind="adjustment",
                    description_vi=adjustment,
                    description_en=adjustment,
                    amount=-500,
                    reason=adjustment,
                )
            )
        invoice = Invoice(contract_id=contract_id, period_start=start, period_end=end, lines=lines)
        session.add(invoice)
        session.flush()
        return invoice.id


def _drafts(platform, contract_id) -> dict:
    from billing.models import InvoiceLine

    with platform.shards.platform_session() as session:
        rows = session.scalars(
            select(Invoice).where(Invoice.contract_id == contract_id).order_by(Invoice.period_start)
        ).all()
        return {
            (i.period_start, i.period_end): sorted(
                session.scalars(
                    select(InvoiceLine.description_vi).where(
                        InvoiceLine.invoice_id == i.id, InvoiceLine.kind == "adjustment"
                    )
                )
            )
            for i in rows
        }


def test_drafts_follow_a_change_of_billing_period_or_term(platform):
    """Drafts are recomputed over their stored period, found by its start: before, monthly ->
    quarterly left January's draft over January only (February and March never billed, their
    drafts orphaned) and a shorter term kept billing past its end."""
    data = contract_data(date(2025, 1, 1), date(2026, 1, 1))
    stored = create(platform, data)
    _draft(platform, stored["id"], date(2025, 1, 1), date(2025, 2, 1))
    _draft(platform, stored["id"], date(2025, 2, 1), date(2025, 3, 1), adjustment="Giảm trừ sự cố tháng 2")
    _draft(platform, stored["id"], date(2025, 3, 1), date(2025, 4, 1))
    quarterly = dict(copy.deepcopy(data), billing_period="quarterly")
    update_it(platform, stored["id"], quarterly)
    assert _drafts(platform, stored["id"]) == {
        (date(2025, 1, 1), date(2025, 4, 1)): ["Giảm trừ sự cố tháng 2"]
    }
    assert audit_of(platform, stored["id"])[-1].data["drafts"]

    shorter = dict(copy.deepcopy(quarterly), ends_on=date(2025, 2, 15))
    update_it(platform, stored["id"], shorter)
    assert list(_drafts(platform, stored["id"])) == [(date(2025, 1, 1), date(2025, 2, 15))]

    # Back to monthly with April's draft re-dated when none exists for its new period.
    longer = dict(copy.deepcopy(data), billing_period="quarterly", ends_on=date(2025, 7, 1))
    update_it(platform, stored["id"], longer)
    _draft(platform, stored["id"], date(2025, 4, 1), date(2025, 7, 1))
    update_it(platform, stored["id"], dict(copy.deepcopy(longer), billing_period="monthly"))
    assert list(_drafts(platform, stored["id"])) == [
        (date(2025, 1, 1), date(2025, 2, 1)),
        (date(2025, 4, 1), date(2025, 5, 1)),
    ]

    # A draft with a manual adjustment that would fall outside the term: refused, nothing changed.
    _draft(platform, stored["id"], date(2025, 6, 1), date(2025, 7, 1), adjustment="Điều chỉnh tháng 6")
    cut = dict(copy.deepcopy(longer), billing_period="monthly", ends_on=date(2025, 5, 1))
    with pytest.raises(contracts.DraftHasAdjustments) as refused:
        update_it(platform, stored["id"], cut)
    assert refused.value.status == 409 and "01/06/2025" in refused.value.vi
    assert (date(2025, 6, 1), date(2025, 7, 1)) in _drafts(platform, stored["id"])


def test_the_backfill_and_a_decommission_meeting_on_a_unit_both_succeed(platform, make_tenant):
    """A unit made before billing: the backfill (uncommitted) and its decommission hook insert its
    row at once. The second used to fail on the unique key (the hook is retried, the CLI died);
    now it waits, finds the backfill's row and ends it."""
    import threading

    unit = make_tenant("district")
    backfill = platform.shards.platform_session()
    backfill.begin()
    assert service_periods.ensure_service_periods(backfill) >= 1  # holds the unit's new row, not committed
    outcome = {}

    def hook():
        try:
            with platform.shards.platform_session() as session, session.begin():
                service_periods.decommission(session, unit.id, date(2026, 5, 4))
            outcome["hook"] = "ended"
        except Exception as exc:  # the failure is what the test reports
            outcome["hook"] = repr(exc)

    thread = threading.Thread(target=hook)
    thread.start()
    with platform.shards.platform_session() as watcher:
        for _ in range(2000):  # until the hook waits on the backfill's uncommitted row
            waiting = watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%billing_service_periods%'"
                )
            )
            watcher.rollback()
            if waiting:
                break
            threading.Event().wait(0.01)
        assert waiting >= 1
    backfill.commit()
    backfill.close()
    thread.join()
    assert outcome["hook"] == "ended"
    period = period_of(platform, unit.id)
    assert period.active_from == contracts.vn_date(unit.created_at)
    assert period.active_until == max(date(2026, 5, 4), period.active_from)


def test_a_price_change_racing_a_finalization_waits_for_it_and_is_refused(platform):
    """finalize_invoice holds the contract FOR SHARE: a price change started meanwhile waits,
    then sees the final invoice and is refused (it used to commit, leaving a final invoice
    priced by a plan the contract no longer shows)."""
    import threading

    from billing import invoices

    data = contract_data(date(2025, 1, 1), date(2026, 1, 1))
    stored = create(platform, data)
    with platform.shards.platform_session() as session, session.begin():
        contract = contracts.get_contract(session, stored["id"])
        draft_id = invoices.refresh_draft(session, contract, date(2025, 1, 1), date(2025, 2, 1)).id

    changed = copy.deepcopy(data)
    changed["plan"]["unit_fees"]["district"] = 9_999_999
    outcome: dict = {}

    def change_prices():
        try:
            update_it(platform, stored["id"], changed)
            outcome["result"] = "changed"
        except PeriodFinalized as refused:
            outcome["result"] = refused

    with platform.shards.platform_session() as session:
        session.begin()
        invoices.finalize_invoice(session, draft_id, actor_label="test")
        writer = threading.Thread(target=change_prices)
        writer.start()
        writer.join(timeout=1.5)
        assert writer.is_alive(), "the price change did not wait for the finalization"
        session.commit()
    writer.join(timeout=30)
    assert isinstance(outcome.get("result"), PeriodFinalized), outcome
    with platform.shards.platform_session() as session:
        fee = contracts.get_contract(session, stored["id"]).plan.unit_fees
        assert {f.unit_kind: f.monthly_fee for f in fee}["district"] == 3_000_000
