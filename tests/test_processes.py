"""Internal processes as versioned data: drafts, checks, the legal-time budget, publishing, immutability."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import astuple
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update

from app.catalog.models import Procedure, ProcedureCase, Sector
from app.core.errors import Conflict
from app.officials.models import Division
from app.processes import services as ps
from app.processes.legal import min_working_days
from app.processes.models import ProcessStep, ProcessStepLink, ProcessVersion
from app.processes.services import LinkSpec, ProcessRefused, StepSpec

D = Decimal


def add_procedure(session, *, time_value="3", time_unit="working_days", online=None, name=None) -> Procedure:
    sector = Sector(code=f"S{uuid.uuid4().hex[:6]}", name="Tư pháp")
    session.add(sector)
    session.flush()
    procedure = Procedure(
        code=f"1.{uuid.uuid4().hex[:8]}",
        name=name or "Đăng ký khai sinh",
        sector_id=sector.id,
        service_level=3,
        time_value=D(time_value),
        time_unit=time_unit,
        online_time_value=None if online is None else D(online),
    )
    session.add(procedure)
    session.flush()
    return procedure


def add_case(session, procedure, *, time_value=None, time_unit=None, online=None) -> ProcedureCase:
    case = ProcedureCase(
        procedure_id=procedure.id,
        code=f"C{uuid.uuid4().hex[:6]}",
        name="Trường hợp đặc biệt",
        time_value=None if time_value is None else D(time_value),
        time_unit=time_unit,
        online_time_value=None if online is None else D(online),
    )
    session.add(case)
    session.flush()
    return case


def chain(*hours, kinds=None) -> list[StepSpec]:
    """start, tasks..., return, end with the given hours (the last two are 0)."""
    names = ["Tiếp nhận", "Thẩm định", "Ký duyệt", "Bước 4", "Bước 5"]
    roles = ["counter_officer", "case_officer", "head_of_unit", "head_of_division", "case_officer"]
    steps = [
        StepSpec(f"s{i}", names[i], "start" if i == 0 else "task", roles[i], D(h), sort_order=i)
        for i, h in enumerate(hours)
    ]
    n = len(steps)
    steps.append(StepSpec("ret", "Trả kết quả", "return", "counter_officer", D(0), sort_order=n))
    steps.append(StepSpec("end", "Kết thúc", "end", "counter_officer", D(0), sort_order=n + 1))
    return steps


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district")


@pytest.fixture
def db(platform, unit):
    session = platform.shards.tenant_session(unit.shard, unit.schema_name)
    yield session
    session.rollback()
    session.close()


def draft_for(db, procedure, case=None):
    template = ps.create_template(db, procedure.id, case_id=case.id if case else None, name="QT-01")
    return template, ps.new_draft(db, template.id, account_id=7)


def published(db, procedure, *hours, case=None):
    template, draft = draft_for(db, procedure, case)
    ps.set_steps(db, draft.id, chain(*hours), [])
    return template, ps.publish(db, draft.id, account_id=7)


def codes(problems):
    return {p.code for p in problems}


# --- legal time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "time_unit", "hours"),
    [
        ("3", "working_days", "24"),
        ("0.5", "working_days", "4"),
        ("6", "hours", "6"),
        ("0", "same_day", "8"),
        ("15", "calendar_days", "80"),  # 15 − 2·2 − min(1, 2) = 10 working days
        ("8", "calendar_days", "40"),  # any 8 days hold 5 working days (a week and one day)
        ("7", "calendar_days", "40"),  # any 7 days hold 5 working days
        ("1", "calendar_days", "0"),  # one calendar day may be a Sunday
    ],
)
def test_legal_hours(value, time_unit, hours):
    assert ps.legal_hours(D(value), time_unit) == D(hours)


@pytest.mark.parametrize("days", range(1, 16))
def test_calendar_days_are_the_fewest_working_days_of_any_window(days):
    """Against every start weekday: the fewest Monday-to-Friday days in ``days`` consecutive days."""
    fewest = min(sum(1 for d in range(days) if (start + d) % 7 < 5) for start in range(7))
    assert ps.legal_hours(D(days), "calendar_days") == D(fewest) * 8
    assert min_working_days(D(days)) == fewest


def test_legal_hours_with_another_working_day():
    assert ps.legal_hours(D(2), "working_days", D("7.5")) == D(15)
    assert ps.legal_hours(D(0), "same_day", D("7.5")) == D("7.5")


# --- publishing ------------------------------------------------------------------------------


def test_publish_accepts_a_chain_that_fits(db):
    procedure = add_procedure(db, time_value="3")
    _template, version = published(db, procedure, 4, 16, 4)  # 24 h = 3 working days
    assert version.status == "published" and version.version == 1
    assert version.published_at is not None and version.published_by_account_id == 7
    assert version.total_budget_hours == D(24)
    assert version.total_budget_hours_online is None
    assert version.time_unit == "working_days"
    assert version.effective_from is not None
    first = ps.first_step(db, version.id)
    assert first.key == "s0"
    assert [s.key for s in ps.next_steps(db, first.id)] == ["s1"]
    assert [s.key for s in ps.steps_of(db, version.id)] == ["s0", "s1", "s2", "ret", "end"]
    assert ps.published_version(db, procedure.id) == version


def test_publish_refuses_a_path_longer_than_the_legal_time_naming_the_numbers(db):
    procedure = add_procedure(db, time_value="3")
    _, draft = draft_for(db, procedure)
    ps.set_steps(db, draft.id, chain(8, 24, 8), [])
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert refused.value.status == 422
    assert codes(refused.value.problems) == {"over_budget"}
    assert refused.value.vi == (
        "Nhánh dài nhất (Tiếp nhận → Thẩm định → Ký duyệt) cần 40 giờ làm việc, "
        "vượt thời hạn luật định 3 ngày làm việc (24 giờ)."
    )
    assert "40 working hours" in refused.value.en and "3 working days (24 hours)" in refused.value.en
    db.refresh(draft)
    assert draft.status == "draft" and draft.published_at is None


def test_budget_takes_the_longest_branch_and_stops_before_the_return_step(db):
    procedure = add_procedure(db, time_value="2")  # 16 h
    _, draft = draft_for(db, procedure)
    steps = [
        StepSpec("a", "Tiếp nhận", "start", "counter_officer", D(1)),
        StepSpec("short", "Nhánh ngắn", "task", "case_officer", D(2)),
        StepSpec("long", "Nhánh dài", "task", "case_officer", D(15)),
        StepSpec("r", "Trả kết quả", "return", "counter_officer", D(50)),  # not counted
    ]
    links = [
        LinkSpec("a", "short"),
        LinkSpec("a", "long", "parallel"),
        LinkSpec("short", "r"),
        LinkSpec("long", "r"),
    ]
    ps.set_steps(db, draft.id, steps, links)
    assert ps.publish(db, draft.id).total_budget_hours == D(16)

    procedure2 = add_procedure(db, time_value="2")
    _, draft2 = draft_for(db, procedure2)
    steps[2] = StepSpec("long", "Nhánh dài", "task", "case_officer", D("15.25"))
    ps.set_steps(db, draft2.id, steps, links)
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft2.id)
    assert "(Tiếp nhận → Nhánh dài) cần 16,25 giờ làm việc" in refused.value.vi


def test_online_legal_time_shorter_is_checked_too(db):
    procedure = add_procedure(db, time_value="3", online="2")
    _, draft = draft_for(db, procedure)
    ps.set_steps(db, draft.id, chain(4, 16, 4), [])
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"over_budget_online"}
    assert "khi nộp trực tuyến 2 ngày làm việc (16 giờ)" in refused.value.vi

    ps.set_steps(db, draft.id, chain(2, 12, 2), [])
    version = ps.publish(db, draft.id)
    assert version.total_budget_hours == version.total_budget_hours_online == D(16)


def test_refuses_a_cycle(db):
    procedure = add_procedure(db)
    _, draft = draft_for(db, procedure)
    links = [
        LinkSpec("s0", "s1"),
        LinkSpec("s1", "s2"),
        LinkSpec("s2", "s1", "return"),
        LinkSpec("s2", "ret"),
    ]
    ps.set_steps(db, draft.id, chain(1, 1, 1)[:-1], links)
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"cycle"}
    assert "Thẩm định → Ký duyệt → Thẩm định" in refused.value.vi


def test_refuses_no_start_and_two_starts(db):
    procedure = add_procedure(db)
    _, draft = draft_for(db, procedure)
    steps = chain(1, 1)
    steps[0].kind = "task"
    ps.set_steps(db, draft.id, steps, [])
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"start_count"}
    assert "hiện có 0" in refused.value.vi

    steps[0].kind = steps[1].kind = "start"
    ps.set_steps(db, draft.id, steps, [])
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert "hiện có 2" in refused.value.vi


def test_refuses_unreachable_steps_and_no_reachable_return(db):
    procedure = add_procedure(db)
    _, draft = draft_for(db, procedure)
    steps = chain(1, 1)
    steps.append(StepSpec("orphan", "Bước lạc", "task", "case_officer", D(1), sort_order=99))
    links = [LinkSpec("s0", "s1"), LinkSpec("s1", "ret"), LinkSpec("ret", "end")]
    ps.set_steps(db, draft.id, steps, links)
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"unreachable"}
    assert "«Bước lạc»" in refused.value.vi

    ps.set_steps(db, draft.id, chain(1, 1), [LinkSpec("s0", "s1")])
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"unreachable", "no_return"}


def test_refuses_an_unknown_role_written_around_the_service(db):
    procedure = add_procedure(db)
    _, draft = draft_for(db, procedure)
    bad = chain(1, 1)
    bad[1].role = "specialist"
    with pytest.raises(ProcessRefused) as refused:
        ps.set_steps(db, draft.id, bad, [])
    assert codes(refused.value.problems) == {"unknown_role"}
    assert ps.steps_of(db, draft.id) == []

    ps.set_steps(db, draft.id, chain(1, 1), [])
    step = next(s for s in ps.steps_of(db, draft.id) if s.key == "s1")
    step.role = "specialist"  # a draft may be edited directly; publishing checks again
    db.flush()
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"unknown_role"}
    assert "'specialist'" in refused.value.vi


def test_refuses_an_interop_step_without_partner_and_accepts_it_with_one(db):
    procedure = add_procedure(db)
    _, draft = draft_for(db, procedure)
    steps = chain(1, 1)
    steps[1] = StepSpec("s1", "Chuyển Chi cục Thuế", "interop", "case_officer", D(1), sort_order=1)
    ps.set_steps(db, draft.id, steps, [])
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"interop_without_partner"}
    steps[1].partner_tenant_id = 42
    ps.set_steps(db, draft.id, steps, [])
    assert ps.publish(db, draft.id).status == "published"


def test_set_steps_refuses_broken_input_and_writes_nothing(db):
    procedure = add_procedure(db)
    _, draft = draft_for(db, procedure)
    ps.set_steps(db, draft.id, chain(1, 1), [])
    before = [(s.key, s.duration_hours) for s in ps.steps_of(db, draft.id)]
    cases = [
        ([*chain(1, 1), StepSpec("s1", "Trùng", "task", "case_officer", D(1))], [], "duplicate_key"),
        ([*chain(1), StepSpec("x", "X", "wait", "case_officer", D(1))], [], "unknown_kind"),
        (chain(-1, 1), [], "bad_duration"),
        (chain(1, 1), [LinkSpec("s0", "nowhere")], "unknown_link_key"),
        (chain(1, 1), [LinkSpec("s0", "s0")], "self_link"),
        (chain(1, 1), [LinkSpec("s0", "s1", "maybe")], "unknown_condition"),
        ([StepSpec("s0", "A", "start", "counter_officer", D(1), division_id=999999)], [], "unknown_division"),
    ]
    for steps, links, code in cases:
        with pytest.raises(ProcessRefused) as refused:
            ps.set_steps(db, draft.id, steps, links)
        assert code in codes(refused.value.problems), code
    assert [(s.key, s.duration_hours) for s in ps.steps_of(db, draft.id)] == before


def test_division_of_the_unit_is_accepted(db):
    procedure = add_procedure(db)
    division = Division(code=f"D{uuid.uuid4().hex[:6]}", name="Bộ phận một cửa", kind="one_stop")
    db.add(division)
    db.flush()
    _, draft = draft_for(db, procedure)
    steps, links = ps.standard_steps(D(24), one_stop_division_id=division.id)
    ps.set_steps(db, draft.id, steps, links)
    assert ps.first_step(db, draft.id).division_id == division.id
    assert ps.publish(db, draft.id).status == "published"


def test_publish_refuses_a_step_in_an_inactive_division_naming_it(db):
    procedure = add_procedure(db)
    division = Division(code=f"D{uuid.uuid4().hex[:6]}", name="Phòng Tư pháp (cũ)", kind="specialised")
    db.add(division)
    db.flush()
    _, draft = draft_for(db, procedure)
    steps, links = ps.standard_steps(D(24), specialised_division_id=division.id)
    ps.set_steps(db, draft.id, steps, links)
    division.is_active = False
    db.flush()
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert codes(refused.value.problems) == {"inactive_division"}
    assert "«Phòng Tư pháp (cũ)» đã ngừng hoạt động" in refused.value.vi
    assert "is inactive" in refused.value.en
    assert db.get(ProcessVersion, draft.id).status == "draft"
    division.is_active = True
    db.flush()
    assert ps.publish(db, draft.id).status == "published"


def test_steps_wait_for_a_publish_under_way_then_are_refused(platform, unit):
    """A publish holds the template's lock: a concurrent edit of the steps waits, then sees it published."""
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as setup, setup.begin():
        procedure = add_procedure(setup)
        _, draft = draft_for(setup, procedure)
        ps.set_steps(setup, draft.id, chain(4, 4), [])
        version_id = draft.id
    outcome: dict = {}

    def edit() -> None:
        try:
            with platform.shards.tenant_session(unit.shard, unit.schema_name) as session, session.begin():
                ps.set_steps(session, version_id, chain(1, 1, 1), [])
                outcome["saved"] = True
        except Exception as exc:  # reported below
            outcome["error"] = exc

    publisher = platform.shards.tenant_session(unit.shard, unit.schema_name)
    thread = threading.Thread(target=edit)
    try:
        with publisher.begin():
            ps.publish(publisher, version_id)
            thread.start()
            assert _waits_on_a_lock(platform, unit), "the edit did not wait for the publish"
    finally:
        publisher.close()
    thread.join(30)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), Conflict), outcome
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        assert [(s.key, s.duration_hours) for s in ps.steps_of(session, version_id)] == [
            ("s0", D(4)), ("s1", D(4)), ("ret", D(0)), ("end", D(0)),
        ]  # fmt: skip
        assert session.get(ProcessVersion, version_id).total_budget_hours == D(8)


def _waits_on_a_lock(platform, unit, timeout: float = 10) -> bool:
    """Whether a backend of the unit's database waits on a lock (asked afresh each time)."""
    deadline = time.monotonic() + timeout
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        while time.monotonic() < deadline:
            waiting = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            session.rollback()  # statistics are a snapshot per transaction
            if waiting:
                return True
            time.sleep(0.05)
    return False


# --- immutability ----------------------------------------------------------------------------


def test_published_version_is_immutable_through_the_service(db):
    procedure = add_procedure(db)
    _, version = published(db, procedure, 4, 4)
    with pytest.raises(Conflict) as refused:
        ps.set_steps(db, version.id, chain(1, 1), [])
    assert refused.value.status == 409
    assert "bản nháp mới" in refused.value.vi and "new draft" in refused.value.en
    with pytest.raises(Conflict):
        ps.publish(db, version.id)


@pytest.mark.parametrize(
    "edit", ["step", "add_step", "delete_link", "version", "unpublish", "delete_version"]
)
def test_published_version_is_immutable_through_the_orm(db, edit):
    procedure = add_procedure(db)
    _, version = published(db, procedure, 4, 4)
    db.commit()
    step = ps.first_step(db, version.id)
    if edit == "step":
        step.duration_hours = D(1)
    elif edit == "add_step":
        db.add(
            ProcessStep(version_id=version.id, key="x", name="X", role="case_officer", duration_hours=D(1))
        )
    elif edit == "delete_link":
        db.delete(db.scalars(select(ProcessStepLink).where(ProcessStepLink.version_id == version.id)).first())
    elif edit == "version":
        version.total_budget_hours = D(1)
    elif edit == "unpublish":
        version.status = "draft"
    else:
        db.delete(version)
    with pytest.raises(Conflict) as refused:
        db.flush()
    assert "bản nháp mới" in refused.value.vi
    db.rollback()
    db.expire_all()
    assert ps.first_step(db, version.id).duration_hours == D(4)
    assert len(ps.links_as_specs(db, version.id)) == 3 and len(ps.steps_of(db, version.id)) == 4
    assert db.get(ProcessVersion, version.id).status == "published"


def test_bulk_writes_to_processes_are_refused(db):
    procedure = add_procedure(db)
    _, version = published(db, procedure, 4, 4)
    with pytest.raises(Conflict):
        db.execute(update(ProcessStep).where(ProcessStep.version_id == version.id).values(duration_hours=1))
    with pytest.raises(Conflict):
        db.execute(delete(ProcessStepLink).where(ProcessStepLink.version_id == version.id))


def test_retiring_is_the_one_change_allowed(db):
    procedure = add_procedure(db)
    _, version = published(db, procedure, 4, 4)
    version.status = "retired"
    db.flush()
    version.status = "published"
    with pytest.raises(Conflict):
        db.flush()


# --- versions ----------------------------------------------------------------------------------


def test_new_draft_copies_steps_and_links_and_publishing_v2_retires_v1(db):
    procedure = add_procedure(db)
    template, v1 = draft_for(db, procedure)
    steps = chain(2, 4)
    links = [
        LinkSpec("s0", "s1"),
        LinkSpec("s1", "ret"),
        LinkSpec("s1", "end", "refuse", "Từ chối"),
        LinkSpec("ret", "end"),
    ]
    ps.set_steps(db, v1.id, steps, links)
    ps.publish(db, v1.id)

    v2 = ps.new_draft(db, template.id, account_id=9)
    assert (v2.version, v2.status, v2.created_by_account_id) == (2, "draft", 9)
    assert [(s.key, s.name, s.role, s.duration_hours) for s in ps.steps_of(db, v2.id)] == [
        (s.key, s.name, s.role, s.duration_hours) for s in ps.steps_of(db, v1.id)
    ]
    assert set(map(astuple, ps.links_as_specs(db, v2.id))) == set(map(astuple, links))
    assert {s.id for s in ps.steps_of(db, v2.id)}.isdisjoint({s.id for s in ps.steps_of(db, v1.id)})
    refuse = ps.next_steps(db, next(s for s in ps.steps_of(db, v2.id) if s.key == "s1").id, "refuse")
    assert [s.key for s in refuse] == ["end"]

    with pytest.raises(Conflict):  # one draft at a time
        ps.new_draft(db, template.id)

    ps.set_steps(db, v2.id, chain(1, 1), [])
    ps.publish(db, v2.id)
    db.refresh(v1)
    assert v1.status == "retired" and v2.status == "published"
    assert ps.published_version(db, procedure.id) == v2
    v3 = ps.new_draft(db, template.id, copy_from_version_id=v1.id)
    assert v3.version == 3 and len(ps.steps_of(db, v3.id)) == 4


def test_one_template_per_procedure_and_case(db):
    procedure = add_procedure(db)
    case = add_case(db, procedure)
    ps.create_template(db, procedure.id, name="QT chung")
    ps.create_template(db, procedure.id, case_id=case.id, name="QT trường hợp")
    with pytest.raises(Conflict):
        ps.create_template(db, procedure.id, name="QT chung lần hai")
    with pytest.raises(Conflict):
        ps.create_template(db, procedure.id, case_id=case.id, name="QT trường hợp lần hai")


def test_published_version_picks_the_case_specific_one_first(db):
    procedure = add_procedure(db, time_value="5")
    case = add_case(db, procedure, time_value="2")
    other_case = add_case(db, procedure)
    _, general = published(db, procedure, 8, 8)
    assert ps.published_version(db, procedure.id, case.id) == general
    _, specific = published(db, procedure, 4, 4, case=case)
    assert ps.published_version(db, procedure.id, case.id) == specific
    assert ps.published_version(db, procedure.id, other_case.id) == general
    assert ps.published_version(db, procedure.id) == general
    assert ps.published_version(db, add_procedure(db).id) is None


def test_case_legal_time_is_the_budget(db):
    procedure = add_procedure(db, time_value="5")
    case = add_case(db, procedure, time_value="1")
    _, draft = draft_for(db, procedure, case)
    ps.set_steps(db, draft.id, chain(4, 8), [])
    with pytest.raises(ProcessRefused) as refused:
        ps.publish(db, draft.id)
    assert "1 ngày làm việc (8 giờ)" in refused.value.vi


# --- the standard chain --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "time_unit", "hours"),
    [("1", "working_days", "8"), ("0", "same_day", "8"), ("15", "calendar_days", "80"), ("7", "hours", "7")],
)
def test_standard_steps_sum_exactly_and_publish(db, value, time_unit, hours):
    procedure = add_procedure(db, time_value=value, time_unit=time_unit)
    total = ps.legal_hours(D(value), time_unit)
    assert total == D(hours)
    steps, links = ps.standard_steps(total)
    assert sum(s.duration_hours for s in steps) == total
    assert all(s.duration_hours >= 0 and s.duration_hours % D("0.25") == 0 for s in steps[:3])
    assert [s.kind for s in steps] == ["start", "task", "approval", "signing", "return", "end"]
    _, draft = draft_for(db, procedure)
    ps.set_steps(db, draft.id, steps, links)
    version = ps.publish(db, draft.id)
    assert version.total_budget_hours == total


def test_standard_steps_for_awkward_totals():
    for total in ("0", "0.25", "1", "7.3", "123.5"):
        steps, links = ps.standard_steps(D(total))
        assert sum(s.duration_hours for s in steps) == D(total)
        assert all(s.duration_hours >= 0 for s in steps)
        assert len(links) == len(steps) - 1
