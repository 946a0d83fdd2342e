"""Who may act on a step: membership roles, active division places, named officials (DOMAIN.md §2.1)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from app.auth import actions as auth_actions
from app.auth.access import Forbidden
from app.auth.models import Account
from app.auth.queries import find_membership
from app.core.errors import Conflict, NotFound
from app.officials import actions, services
from app.officials.models import Division, OfficialAssignment
from tests.test_auth_support import make_account


@contextmanager
def committed(session):
    yield session
    session.commit()


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district")


@pytest.fixture
def tsession(platform, unit):
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        yield session


@pytest.fixture
def psession(platform):
    with platform.shards.platform_session() as session:
        yield session


@pytest.fixture
def people(platform, unit):
    """Three case officers (two in division A), a head of division in A, a counter officer."""
    return {
        "case_a1": make_account(platform, memberships=[(unit, ["case_officer"])]),
        "case_a2": make_account(platform, memberships=[(unit, ["case_officer", "fee_collector"])]),
        "case_b": make_account(platform, memberships=[(unit, ["case_officer"])]),
        "head_a": make_account(platform, memberships=[(unit, ["head_of_division"])]),
        "counter": make_account(platform, memberships=[(unit, ["counter_officer"])]),
    }


@pytest.fixture
def divs(tsession, people):
    with committed(tsession):
        a = services.create_division(tsession, "PTP", "Phòng Tư pháp", "specialised")
        b = services.create_division(tsession, "PTNMT", "Phòng Tài nguyên và Môi trường", "specialised")
        for key in ("case_a1", "case_a2", "head_a"):
            services.assign(tsession, people[key].id, a.id, ["case_officer"], title="Chuyên viên")
        services.assign(tsession, people["case_b"].id, b.id, [])
    return a, b


def ids(rows) -> set[int]:
    return {r.account_id for r in rows}


def test_officials_lists_members_with_their_roles(psession, unit, people, make_tenant, platform):
    other = make_tenant("district")
    make_account(platform, memberships=[(other, ["case_officer"])])
    rows = {r.account_id: r for r in services.officials(psession, unit.id)}
    assert set(rows) == {p.id for p in people.values()}
    assert rows[people["case_a2"].id].roles == ("case_officer", "fee_collector")
    assert rows[people["counter"].id].email == people["counter"].email


def test_step_by_role_only(psession, tsession, unit, people, divs):
    found = services.officials_for_step(psession, tsession, unit.id, "case_officer")
    assert ids(found) == {people["case_a1"].id, people["case_a2"].id, people["case_b"].id}
    heads = services.officials_for_step(psession, tsession, unit.id, "head_of_division")
    assert ids(heads) == {people["head_a"].id}


def test_step_by_role_and_division(psession, tsession, unit, people, divs):
    a, b = divs
    in_a = services.officials_for_step(psession, tsession, unit.id, "case_officer", a.id)
    assert ids(in_a) == {
        people["case_a1"].id,
        people["case_a2"].id,
    }  # head_a sits in A but is no case officer
    in_b = services.officials_for_step(psession, tsession, unit.id, "case_officer", b.id)
    assert ids(in_b) == {people["case_b"].id}


def test_step_with_named_officials(psession, tsession, unit, people, divs):
    a, _ = divs
    named = [people["case_a2"].id, people["case_b"].id, people["counter"].id]
    found = services.officials_for_step(psession, tsession, unit.id, "case_officer", a.id, named)
    assert ids(found) == {people["case_a2"].id}
    found = services.officials_for_step(psession, tsession, unit.id, "case_officer", None, named)
    assert ids(found) == {people["case_a2"].id, people["case_b"].id}


def test_may_act_follows_role_division_and_names(psession, tsession, unit, people, divs):
    a, b = divs
    may = services.may_act
    assert may(psession, tsession, unit.id, people["case_a1"].id, "case_officer")
    assert may(psession, tsession, unit.id, people["case_a1"].id, "case_officer", a.id)
    assert not may(psession, tsession, unit.id, people["case_a1"].id, "case_officer", b.id)
    assert not may(psession, tsession, unit.id, people["counter"].id, "case_officer")
    assert not may(
        psession, tsession, unit.id, people["case_a1"].id, "case_officer", a.id, [people["case_a2"].id]
    )
    assert may(
        psession, tsession, unit.id, people["case_a2"].id, "case_officer", a.id, [people["case_a2"].id]
    )


def test_unassigned_or_inactive_division_or_account_may_not_act(
    psession, tsession, unit, people, divs, platform
):
    a, _ = divs
    who = people["case_a1"].id
    with committed(tsession):
        assert services.unassign(tsession, who, a.id) == 1
    assert not services.may_act(psession, tsession, unit.id, who, "case_officer", a.id)
    assert services.may_act(psession, tsession, unit.id, who, "case_officer")  # the role itself remains
    with committed(tsession):
        services.assign(tsession, who, a.id, [])  # back again: the same row reactivated
        rows = tsession.query(OfficialAssignment).filter_by(account_id=who, division_id=a.id).all()
        assert len(rows) == 1 and rows[0].is_active
    assert services.may_act(psession, tsession, unit.id, who, "case_officer", a.id)

    with committed(tsession):
        tsession.get(Division, a.id).is_active = False
    assert not services.may_act(psession, tsession, unit.id, people["case_a2"].id, "case_officer", a.id)

    with platform.shards.platform_session() as s, s.begin():
        s.get(Account, people["case_b"].id).is_active = False
    assert not services.may_act(psession, tsession, unit.id, people["case_b"].id, "case_officer")


def test_membership_in_another_unit_does_not_count(psession, tsession, unit, make_tenant, platform, divs):
    a, _ = divs
    other = make_tenant("district")
    outsider = make_account(platform, memberships=[(other, ["case_officer"])])
    with committed(tsession):
        services.assign(tsession, outsider.id, a.id, [])  # even with a (stray) place in division A
    assert not services.may_act(psession, tsession, unit.id, outsider.id, "case_officer", a.id)
    assert outsider.id not in ids(
        services.officials_for_step(psession, tsession, unit.id, "case_officer", a.id)
    )


def test_revoked_role_takes_effect_at_once(psession, tsession, unit, people, divs, platform):
    who = people["case_a2"]
    with platform.shards.platform_session() as s, s.begin():
        auth_actions.revoke_membership(s, s.get(Account, who.id), unit, ["case_officer"])
    assert not services.may_act(psession, tsession, unit.id, who.id, "case_officer")
    assert services.may_act(psession, tsession, unit.id, who.id, "fee_collector")


def test_check_may_act_names_role_and_division(psession, tsession, unit, people, divs):
    a, _ = divs
    services.check_may_act(psession, tsession, unit.id, people["head_a"].id, "head_of_division", a.id)
    with pytest.raises(Forbidden) as refused:
        services.check_may_act(psession, tsession, unit.id, people["counter"].id, "head_of_division", a.id)
    assert refused.value.status == 403
    assert "Lãnh đạo phòng" in refused.value.vi and "Phòng Tư pháp" in refused.value.vi
    assert "Head of division" in refused.value.en and "Phòng Tư pháp" in refused.value.en
    with pytest.raises(Forbidden) as named:
        services.check_may_act(
            psession, tsession, unit.id, people["case_a1"].id, "case_officer", None, [people["case_b"].id]
        )
    assert "đích danh" in named.value.vi and "named" in named.value.en


def test_division_rules(tsession):
    with committed(tsession):
        top = services.create_division(tsession, "LD", "Lãnh đạo UBND", "leadership")
        child = services.create_division(tsession, "VP", "Văn phòng", "records", parent_id=top.id)
        with pytest.raises(Conflict):
            services.create_division(tsession, "LD", "Trùng mã", "specialised")
        for code, name, kind in (("", "Tên", "specialised"), ("X Y", "Tên", "specialised")):
            with pytest.raises(services.InvalidDivision):
                services.create_division(tsession, code, name, kind)
        with pytest.raises(services.InvalidDivision):
            services.create_division(tsession, "OK", "", "specialised")
        with pytest.raises(services.InvalidDivision):
            services.create_division(tsession, "OK", "Tên", "bogus")
        with pytest.raises(NotFound):
            services.create_division(tsession, "OK", "Tên", "specialised", parent_id=999_999)
        with pytest.raises(services.InvalidDivision):  # a loop: top under its own child
            services.update_division(
                tsession, top.id, code="LD", name="Lãnh đạo", kind="leadership", parent_id=child.id
            )
        updated = services.update_division(
            tsession, child.id, code="VP2", name="Văn phòng HĐND-UBND", kind="records", parent_id=top.id
        )
        assert (updated.code, updated.name) == ("VP2", "Văn phòng HĐND-UBND")
        assert [d.code for d in services.divisions(tsession)] == ["LD", "VP2"]


def test_assign_refuses_unknown_roles_and_inactive_division(tsession, people):
    with committed(tsession):
        d = services.create_division(tsession, "MC", "Bộ phận một cửa", "one_stop")
        with pytest.raises(Exception) as bad_role:
            services.assign(tsession, people["counter"].id, d.id, ["wizard"])
        assert getattr(bad_role.value, "status", None) == 422
        d.is_active = False
        with pytest.raises(services.InvalidAssignment):
            services.assign(tsession, people["counter"].id, d.id, [])
        with pytest.raises(NotFound):
            services.assign(tsession, people["counter"].id, 999_999, [])


# --- the last unit admin -------------------------------------------------------------------


def admin_roles(platform, unit, account_id):
    with platform.shards.platform_session() as session:
        membership = find_membership(session, account_id, unit.id)
        return None if membership is None else list(membership.roles)


def deactivate(platform, account_id):
    with platform.shards.platform_session() as session, session.begin():
        session.get(Account, account_id).is_active = False


def test_an_inactive_admin_does_not_count_and_may_be_demoted(platform, unit):
    active = make_account(platform, memberships=[(unit, ["unit_admin"])])
    dormant = make_account(platform, memberships=[(unit, ["unit_admin", "case_officer"])])
    deactivate(platform, dormant.id)
    with platform.shards.platform_session() as session, session.begin():
        actor = session.get(Account, active.id)
        # Demoting the inactive admin leaves the active one: not "the last one".
        actions.set_official_roles(session, unit, dormant.id, ["case_officer"], actor=actor)
    assert admin_roles(platform, unit, dormant.id) == ["case_officer"]

    other = make_account(platform, memberships=[(unit, ["unit_admin"])])
    deactivate(platform, other.id)
    with platform.shards.platform_session() as session, session.begin():
        actor = session.get(Account, active.id)
        # The only other admin cannot sign in: the active one is the last.
        with pytest.raises(Conflict):
            actions.set_official_roles(session, unit, active.id, ["case_officer"], actor=actor)
        with platform.shards.tenant_session(unit.shard, unit.schema_name) as tenant_session:
            with pytest.raises(Conflict):
                actions.remove_official(session, tenant_session, unit, active.id, actor=actor)
            # Removing the inactive admin altogether is allowed.
            actions.remove_official(session, tenant_session, unit, other.id, actor=actor)
            tenant_session.commit()
    assert admin_roles(platform, unit, active.id) == ["unit_admin"]
    assert admin_roles(platform, unit, other.id) is None


@pytest.mark.parametrize("second", ["set_roles", "remove"])
def test_two_admins_removing_each_other_at_once_leave_one(platform, unit, second):
    a = make_account(platform, memberships=[(unit, ["unit_admin"])])
    b = make_account(platform, memberships=[(unit, ["unit_admin"])])
    first_flushed, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def a_demotes_b():
        with platform.shards.platform_session() as session:
            actions.set_official_roles(
                session, unit, b.id, ["case_officer"], actor=session.get(Account, a.id)
            )
            first_flushed.set()
            first_may_commit.wait(10)
            session.commit()

    def b_takes_a_out():
        first_flushed.wait(10)
        session = platform.shards.platform_session()
        tenant_session = platform.shards.tenant_session(unit.shard, unit.schema_name)
        with session, tenant_session:
            try:
                actor = session.get(Account, b.id)
                if second == "set_roles":
                    actions.set_official_roles(session, unit, a.id, ["case_officer"], actor=actor)
                else:
                    actions.remove_official(session, tenant_session, unit, a.id, actor=actor)
                session.commit()
                tenant_session.commit()
                outcome["b"] = "done"
            except Conflict as exc:
                outcome["b"] = exc

    threads = [threading.Thread(target=a_demotes_b), threading.Thread(target=b_takes_a_out)]
    for thread in threads:
        thread.start()
    first_flushed.wait(10)
    time.sleep(0.5)  # B's change is now waiting for A's lock (or, unguarded, already written)
    first_may_commit.set()
    for thread in threads:
        thread.join(20)
    assert isinstance(outcome.get("b"), Conflict)
    assert admin_roles(platform, unit, a.id) == ["unit_admin"]
    assert admin_roles(platform, unit, b.id) == ["case_officer"]
