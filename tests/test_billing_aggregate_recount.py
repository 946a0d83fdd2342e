"""The independent recount: a unit's own rows against what billing counts, per metric and dimension."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.calendar.workcal import VN_TZ
from app.dossiers import intake
from billing.recount import RecountRow, recount
from tests.test_billing_aggregate import aggregate, record
from tests.test_billing_concurrency import counter_unit

DAY = date(2026, 5, 6)


@pytest.fixture(scope="module")
def unit(platform, city):
    """Three dossiers received at the counter (two on DAY, one the day after), one API call."""
    built = counter_unit(platform, city)
    for n, day in enumerate((DAY, DAY, DAY + timedelta(days=1))):
        with built.session() as session, session.begin():
            now = datetime(day.year, day.month, day.day, 9, n, tzinfo=VN_TZ)
            intake.receive_at_counter(built.desk(session, now), built.actor("counter"), built.intake())
    record(
        platform,
        built.tenant,
        source="api.call",
        event_id="req-1",
        metric="api_calls",
        subject="3",
        occurred_at=datetime(DAY.year, DAY.month, DAY.day, 10, tzinfo=VN_TZ),
    )
    aggregate(platform, built.tenant, DAY, DAY + timedelta(days=1))
    return built


def test_the_recount_agrees_with_the_facts_and_lists_api_calls_as_not_recountable(app, unit):
    tenant = unit.tenant
    with app.app_context():
        rows = recount(DAY, DAY + timedelta(days=2), [tenant.id])
        first_day_only = recount(DAY, DAY + timedelta(days=1), [tenant.id])
    assert rows == [
        RecountRow(tenant.id, tenant.slug, "active_officials", "", 1, 1, 0),
        RecountRow(tenant.id, tenant.slug, "api_calls", "", 1, None, None),
        RecountRow(tenant.id, tenant.slug, "documents_generated", "01", 3, 3, 0),
        RecountRow(tenant.id, tenant.slug, "dossiers_received", "counter", 3, 3, 0),
    ]
    received = next(r for r in first_day_only if r.metric == "dossiers_received")
    assert (received.facts, received.source) == (2, 2)


def test_a_missing_event_shows_as_a_difference_and_the_cli_exits_1(app, platform, unit):
    tenant = unit.tenant
    runner = app.test_cli_runner()
    command = [
        "billing",
        "recount",
        "--from",
        DAY.isoformat(),
        "--to",
        DAY.isoformat(),
        "--tenant",
        tenant.slug,
    ]
    agreed = runner.invoke(args=command)
    assert agreed.exit_code == 0, agreed.output
    assert "0 with a difference" in agreed.output

    with platform.shards.engine(tenant.shard).begin() as shard:  # one received dossier was never metered
        shard.execute(
            text(
                "DELETE FROM shard.usage_events WHERE id = (SELECT min(id) FROM shard.usage_events"
                " WHERE tenant_id = :t AND source = 'dossier.received')"
            ),
            {"t": tenant.id},
        )
    aggregate(platform, tenant, DAY, DAY + timedelta(days=1))
    with app.app_context():
        rows = recount(DAY, DAY + timedelta(days=2), [tenant.id])
    assert [r for r in rows if r.difference] == [
        RecountRow(tenant.id, tenant.slug, "dossiers_received", "counter", 2, 3, -1)
    ]
    result = runner.invoke(args=command)
    assert result.exit_code == 1, result.output
    assert f"{tenant.slug}" in result.output and "dossiers_received" in result.output
    assert "billed=1 source=2 difference=-1" in result.output


# --- a realistic mix of actions, on both shards: the recount equals the facts --------------------

MIX_DAY = date(2026, 6, 9)  # a Tuesday


def _mix_at(days: int, hour: int = 9, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    d = MIX_DAY + timedelta(days=days)
    return datetime(d.year, d.month, d.day, hour, minute, second, micro, tzinfo=VN_TZ)


def _act(unit, name: str, dossier_id: int, who, now: datetime, **kwargs):
    from app.dossiers import actions

    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        actor = unit.actor(who) if isinstance(who, str) else who
        return getattr(actions, name)(desk, actor, actions.load(desk, dossier_id), **kwargs)


def _components(unit, dossier_id: int) -> list[int]:
    from sqlalchemy import select

    from app.dossiers.models import DossierComponent

    with unit.session() as session:
        return list(
            session.scalars(
                select(DossierComponent.id)
                .where(DossierComponent.dossier_id == dossier_id)
                .order_by(DossierComponent.id)
            )
        )


def _mixed_actions(app, unit) -> None:
    """Counter, online and postal intake, guidance and documents added, supplement asked and
    answered (by the counter and by the citizen), an apology, files, finishing, returning, a
    refusal and a withdrawal; one action a microsecond before local midnight, one at it."""
    from app.dossiers import actions, files, online
    from app.dossiers.desk import Actor
    from tests.test_auth_support import make_account
    from tests.test_uploads import pdf_bytes, png_bytes

    with app.app_context():
        # Counter: received 23:59:59.999999 on day 0, worked on from local midnight of day 1.
        with unit.session() as session, session.begin():
            desk = unit.desk(session, _mix_at(0, 23, 59, 59, 999999))
            counter = intake.receive_at_counter(desk, unit.actor("counter"), unit.intake()).id
        _act(unit, "transfer", counter, "counter", _mix_at(1, 0))
        _act(unit, "request_supplement", counter, "officer", _mix_at(1, 9), items=["Bản sao sổ đỏ"])
        with unit.session() as session, session.begin():
            desk = unit.desk(session, _mix_at(2, 10))
            dossier = actions.load(desk, counter)
            files.attach(desk, unit.actor("counter"), dossier, "bo-sung.pdf", pdf_bytes())
            actions.receive_supplement(desk, unit.actor("counter"), dossier)
        _act(
            unit,
            "apologise",
            counter,
            "head",
            _mix_at(2, 11),
            new_due_at=_mix_at(20, 16),
            reason="Cần thêm thời gian xác minh",
        )
        _act(unit, "forward", counter, "officer", _mix_at(2, 14))
        _act(unit, "forward", counter, "head_div", _mix_at(3, 9))
        _act(unit, "complete", counter, "head", _mix_at(3, 23, 59, 59, 999999))
        _act(unit, "return_result", counter, "counter", _mix_at(4, 0))

        # Online: a citizen's draft with two files, submitted on day 1, guided, documents added,
        # accepted on day 2, supplement asked and answered by the citizen, finished on day 4.
        citizen = make_account(unit.platform)
        applicant = Actor.applicant(citizen.id, citizen.full_name)
        with unit.session() as session, session.begin():
            desk = unit.desk(session, _mix_at(0, 20))
            draft = online.start_draft(desk, citizen.id, unit.procedure_id)
            online.save_draft(
                desk,
                draft,
                online.DraftInput(
                    applicant={"name": "Trần Thị Mai", "phone": "0912345678"}, result_delivery="online"
                ),
            )
            online.add_file(desk, draft, unit.components[0], "to-khai.pdf", pdf_bytes())
            online.add_file(desk, draft, unit.components[1], "cccd.png", png_bytes())
            draft_id = draft.id
        with unit.session() as session, session.begin():
            submitted = online.submit_draft(unit.desk(session, _mix_at(1, 8)), applicant, draft_id).id
        with unit.session() as session, session.begin():  # the same form posted twice
            online.submit_draft(unit.desk(session, _mix_at(1, 8, 1)), applicant, draft_id)
        _act(unit, "guide", submitted, "counter", _mix_at(1, 10), items=["Bản chụp rõ hơn"])
        parts = _components(unit, submitted)
        with unit.session() as session, session.begin():
            desk = unit.desk(session, _mix_at(1, 15))
            online.add_documents(
                desk,
                applicant,
                actions.load(desk, submitted),
                [online.Upload(parts[0], "ro-hon.pdf", pdf_bytes())],
            )
        with unit.session() as session, session.begin():
            desk = unit.desk(session, _mix_at(2, 8))
            intake.accept(desk, unit.actor("counter"), actions.load(desk, submitted))
        _act(unit, "transfer", submitted, "counter", _mix_at(2, 9))
        _act(unit, "request_supplement", submitted, "officer", _mix_at(2, 10), items=["Giấy ủy quyền"])
        with unit.session() as session, session.begin():
            desk = unit.desk(session, _mix_at(3, 7))
            online.answer_supplement(
                desk,
                applicant,
                actions.load(desk, submitted),
                [online.Upload(parts[1], "uq.png", png_bytes())],
            )
        _act(unit, "forward", submitted, "officer", _mix_at(3, 9))
        _act(unit, "forward", submitted, "head_div", _mix_at(3, 10))
        _act(unit, "complete", submitted, "head", _mix_at(4, 9))

        # Postal: logged and submitted by the counter, refused (form 03).
        with unit.session() as session, session.begin():
            desk = unit.desk(session, _mix_at(1, 14))
            postal = intake.create_draft(desk, unit.actor("counter"), unit.intake(channel=3))
            intake.submit(desk, unit.actor("counter"), postal)
            postal_id = postal.id
        _act(unit, "refuse", postal_id, "counter", _mix_at(2, 15), reasons=["Không thuộc thẩm quyền"])

        # A counter dossier withdrawn after it was received, and one rolled back and retried.
        with unit.session() as session, session.begin():
            withdrawn = intake.receive_at_counter(
                unit.desk(session, _mix_at(2, 16)), unit.actor("counter"), unit.intake()
            ).id
        _act(unit, "withdraw", withdrawn, "counter", _mix_at(3, 8), reason="Công dân xin rút")
        with unit.session() as session:
            session.begin()
            intake.receive_at_counter(
                unit.desk(session, _mix_at(4, 10)), unit.actor("counter"), unit.intake()
            )
            session.rollback()
        with unit.session() as session, session.begin():
            intake.receive_at_counter(
                unit.desk(session, _mix_at(4, 10)), unit.actor("counter"), unit.intake()
            )


def test_a_realistic_mix_of_actions_recounts_exactly_to_the_facts_on_both_shards(
    app, platform, city, client_for
):
    from app.auth import api_tokens
    from billing.aggregate import aggregate_all
    from billing.verify import verify
    from tests.conftest import create_test_tenant
    from tests.dossier_fixtures import build_unit
    from tests.test_billing_aggregate import facts_of

    units = [
        build_unit(platform, lambda kind, shard=shard: create_test_tenant(platform, city, kind, shard=shard))
        for shard in ("main", "s2")
    ]
    today = datetime.now(VN_TZ).date()
    for unit in units:
        _mixed_actions(app, unit)
        with unit.session() as session, session.begin():
            _, plaintext = api_tokens.create_token(
                session, name="mix", scopes=("dossiers:read",), account_id=unit.accounts["counter"].id
            )
        api = client_for(unit.tenant)
        for _ in range(2):
            assert (
                api.get("/api/v1/dossiers", headers={"Authorization": f"Bearer {plaintext}"}).status_code
                == 200
            )
    ids = [unit.tenant.id for unit in units]
    with app.app_context():
        aggregate_all(first_day=MIX_DAY - timedelta(days=1), last_day=today, tenant_ids=ids)
        rows = recount(MIX_DAY - timedelta(days=1), today + timedelta(days=1), ids)
        by_day = recount(MIX_DAY, MIX_DAY + timedelta(days=1), ids)  # day 0 only: the boundary
        result = verify(ids, invoices=False)
    assert result.ok, result.problems
    assert [r for r in rows if r.difference] == []
    for unit in units:
        mine = {(r.metric, r.dimension): (r.facts, r.source) for r in rows if r.tenant_id == unit.tenant.id}
        assert mine[("dossiers_received", "counter")] == (3, 3)
        assert mine[("dossiers_received", "online")] == (1, 1)
        assert ("dossiers_received", "postal") not in mine  # refused: never received
        assert mine[("online_submissions", "")] == (1, 1)
        assert mine[("active_citizens", "")] == (1, 1)
        assert mine[("dossiers_finished", "")] == (2, 2)
        assert mine[("documents_generated", "01")] == (4, 4)
        assert mine[("documents_generated", "02")] == (3, 3)
        assert mine[("documents_generated", "03")] == (1, 1)
        assert mine[("documents_generated", "04")] == (1, 1)
        assert mine[("attachment_bytes", "component")][0] == mine[("attachment_bytes", "component")][1] > 0
        assert mine[("active_officials", "")] == (4, 4)  # counter, officer, head of division, head
        assert mine[("api_calls", "")] == (2, None)
        day0 = {(r.metric, r.dimension): r.facts for r in by_day if r.tenant_id == unit.tenant.id}
        assert day0 == {
            ("dossiers_received", "counter"): 1,
            ("documents_generated", "01"): 1,
            ("active_officials", ""): 1,
        }
        finished = [f for f in facts_of(platform, unit.tenant) if f.metric == "dossiers_finished"]
        assert [(f.day, f.event_count) for f in finished] == [
            (MIX_DAY + timedelta(days=3), 1),
            (MIX_DAY + timedelta(days=4), 1),
        ]
