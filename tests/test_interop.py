"""Liên thông (DOMAIN.md §2.4): a commune hands a step to a district and gets the dossier back.

Real PostgreSQL, the real outbox relay and real RQ worker processes: the owner's
commit kicks a relay, the worker delivers the event (platform record) and runs
the job in the other unit's scope.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
from flask import render_template
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth import roles as r
from app.calendar.models import CalendarDay
from app.calendar.workcal import VN_TZ
from app.core import outbox
from app.core.db import bind_tenant, close_scope, commit_scope, tenant_db
from app.core.errors import Conflict
from app.core.outbox import OutboxEvent, relay_outbox
from app.dossiers import (
    actions,
    intake,
    interop,
    interop_jobs,  # noqa: F401  (registers the handlers in this process too)
)
from app.dossiers.desk import Actor, Desk
from app.dossiers.interop_models import InteropHandover
from app.dossiers.models import Dossier, DossierAction, InteropTask
from app.dossiers.queries import available_actions, task_queue
from app.dossiers.status import PROCESSING
from app.processes import services as processes
from app.processes.models import ProcessStep
from tenants.resolution import TenantRef
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.jobs_fixtures import run_worker
from tests.test_auth_support import carry_session, csrf_from, login, make_account, session_cookie

TUE = datetime(2019, 3, 12, 9, 0, tzinfo=VN_TZ)  # an ordinary working Tuesday
RESULT = "Đã xác minh: chưa đăng ký kết hôn tại quận."


@pytest.fixture(autouse=True)
def _kicks_enabled(monkeypatch):
    monkeypatch.setattr(outbox, "_kicks_paused_until", 0.0)


@pytest.fixture(scope="module")
def partner(platform, city):
    """A district office with two case officers, a head of division, and a day off on Wed 13/03/2019."""
    tenant = create_test_tenant(platform, city, "district", name="Quận Thử Phối Hợp")
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        session.add(CalendarDay(day=date(2019, 3, 13), kind="day_off", source="tenant", note="nghỉ"))
    people = {
        "clerk": make_account(platform, memberships=[(tenant, [r.CASE_OFFICER])]),
        "clerk2": make_account(platform, memberships=[(tenant, [r.CASE_OFFICER])]),
        "head": make_account(platform, memberships=[(tenant, [r.HEAD_OF_DIVISION])]),
    }
    return tenant, people


@pytest.fixture(scope="module")
def owner(platform, city, partner):
    """A commune whose process hands an 8-hour verification step to the partner district."""
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind, name="Xã Thử Chủ Trì"))
    specs = [
        processes.StepSpec("receive", "Tiếp nhận", "start", r.COUNTER_OFFICER, Decimal(2),
                           division_id=unit.divisions["one_stop"]),
        processes.StepSpec("appraise", "Thẩm định", "task", r.CASE_OFFICER, Decimal(6),
                           division_id=unit.divisions["specialised"]),
        processes.StepSpec("verify", "Xác minh tại quận", "interop", r.CASE_OFFICER, Decimal(8),
                           partner_tenant_id=partner[0].id),
        processes.StepSpec("review", "Xem xét", "approval", r.HEAD_OF_DIVISION, Decimal(3),
                           division_id=unit.divisions["specialised"]),
        processes.StepSpec("sign", "Ký duyệt", "signing", r.HEAD_OF_UNIT, Decimal(5)),
        processes.StepSpec("return", "Trả kết quả", "return", r.COUNTER_OFFICER, Decimal(0),
                           division_id=unit.divisions["one_stop"]),
        processes.StepSpec("end", "Kết thúc", "end", r.COUNTER_OFFICER, Decimal(0)),
    ]  # fmt: skip
    for order, spec in enumerate(specs):
        spec.sort_order = order
    with unit.session() as session, session.begin():
        template = processes.find_template(session, unit.procedure_id, None)
        draft = processes.new_draft(session, template.id)
        processes.set_steps(session, draft.id, specs, [])
        unit.version_id = processes.publish(session, draft.id).id
    return unit


def in_scope(app, tenant, work):
    """Run ``work(session)`` as a request of ``tenant`` would: committed at the edge, kicking the relay."""
    with app.app_context():
        bind_tenant(TenantRef.of(tenant))
        try:
            result = work(tenant_db())
            commit_scope()
        except BaseException as exc:
            close_scope(exc)
            raise
        close_scope()
    return result


def owner_act(app, owner, name: str, dossier_id: int, who: str, now: datetime, **kwargs):
    def work(session):
        desk = owner.desk(session, now)
        return getattr(actions, name)(desk, owner.actor(who), actions.load(desk, dossier_id), **kwargs)

    return in_scope(app, owner.tenant, work)


def send_to_partner(app, owner) -> int:
    """Received Tue 09:00, transferred 09:30, forwarded into the interop step at 10:00 by the officer."""
    with owner.session() as session, session.begin():
        dossier = intake.receive_at_counter(owner.desk(session, TUE), owner.actor("counter"), owner.intake())
        dossier_id = dossier.id
    owner_act(app, owner, "transfer", dossier_id, "counter", TUE.replace(minute=30))
    owner_act(
        app, owner, "forward", dossier_id, "officer", TUE.replace(hour=10), note="Xin xác minh tình trạng"
    )
    return dossier_id


def tenant_rows(platform, tenant, query):
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return list(session.scalars(query))


def handovers_of(platform, owner_tenant) -> list[InteropHandover]:
    with platform.shards.platform_session() as session:
        query = select(InteropHandover).where(InteropHandover.owner_tenant_id == owner_tenant.id)
        return list(session.scalars(query.order_by(InteropHandover.id)))


def dossier_of(owner, dossier_id) -> Dossier:
    with owner.session() as session:
        return session.get(Dossier, dossier_id)


def history(owner, dossier_id) -> list[DossierAction]:
    with owner.session() as session:
        query = select(DossierAction).where(DossierAction.dossier_id == dossier_id)
        return list(session.scalars(query.order_by(DossierAction.id)))


def step_named(owner, key: str) -> ProcessStep:
    with owner.session() as session:
        return session.scalar(
            select(ProcessStep).where(ProcessStep.version_id == owner.version_id, ProcessStep.key == key)
        )


def incoming_task(platform, partner_tenant, code: str) -> InteropTask:
    (task,) = tenant_rows(
        platform, partner_tenant, select(InteropTask).where(InteropTask.dossier_code == code)
    )
    return task


def partner_client(client_for, partner, who: str = "clerk"):
    tenant, people = partner
    client = client_for(tenant)
    assert login(client, people[who].email).status_code == 302
    return client


def post(client, path: str, **data):
    token = csrf_from(client, "/backoffice/interop/")
    return client.post(path, data={"csrf_token": token, **data})


# --- the whole round trip ----------------------------------------------------------------


def test_hand_over_to_the_district_and_back(app, platform, services, owner, partner, client_for):
    partner_tenant, _ = partner
    dossier_id = send_to_partner(app, owner)
    code = dossier_of(owner, dossier_id).code
    verify = step_named(owner, "verify")

    # Owner side at once: form 05 row, the dossier away from every queue, an outgoing task.
    dossier = dossier_of(owner, dossier_id)
    assert (dossier.status, dossier.current_step_id) == (PROCESSING, verify.id)
    assert dossier.current_role is None and dossier.current_account_id is None
    # 8 office hours from Tue 10:00 on the commune's calendar: Wed 13/03 10:00.
    assert dossier.current_step_due_at == datetime(2019, 3, 13, 10, 0, tzinfo=VN_TZ)
    sent = history(owner, dossier_id)[-1]
    assert sent.action == "forward" and sent.role == r.CASE_OFFICER
    assert sent.note == f"Giao: {owner.tenant.name} → Nhận: {partner_tenant.name}. Xin xác minh tình trạng"
    (outgoing,) = tenant_rows(
        platform, owner.tenant, select(InteropTask).where(InteropTask.dossier_id == dossier_id)
    )
    assert (outgoing.direction, outgoing.status, outgoing.partner_tenant_id) == (
        "outgoing",
        "pending",
        partner_tenant.id,
    )
    assert outgoing.due_at == dossier.current_step_due_at
    with owner.session() as session:
        for who in ("officer", "officer2", "head_div", "counter"):
            assert dossier_id not in [
                row.dossier.id for row in task_queue(owner.desk(session), owner.actor(who))
            ]

    run_worker(services)

    (handover,) = handovers_of(platform, owner.tenant)
    assert (handover.partner_tenant_id, handover.dossier_code, handover.status) == (
        partner_tenant.id,
        code,
        "received",
    )
    assert (handover.step_name, handover.role, handover.budget_hours) == (
        "Xác minh tại quận",
        r.CASE_OFFICER,
        8,
    )
    assert handover.applicant_name == "Nguyễn Thị Hương"
    task = incoming_task(platform, partner_tenant, code)
    assert (task.direction, task.status, task.dossier_id, task.step_id) == ("incoming", "pending", None, None)
    # The partner's own deadline, on its own calendar: Wed 13/03 is its day off, so Thu 14/03 10:00.
    assert task.due_at == datetime(2019, 3, 14, 10, 0, tzinfo=VN_TZ)
    assert handover.partner_task_id == task.id and handover.partner_due_at == task.due_at
    # Counted once: the partner has no dossier row.
    with platform.shards.tenant_session(partner_tenant.shard, partner_tenant.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(Dossier)) == 0

    # The partner's pages: the inbox, the task, take it, complete it.
    client = partner_client(client_for, partner)
    inbox = client.get("/backoffice/interop/")
    assert inbox.status_code == 200
    assert code in inbox.text and "10:00 14/03/2019" in inbox.text and "Quá hạn" in inbox.text
    page = client.get(f"/backoffice/interop/{task.id}")
    assert page.status_code == 200
    assert (
        "Xác minh tại quận" in page.text
        and "Nguyễn Thị Hương" in page.text
        and owner.tenant.name in page.text
    )
    # Nothing else of the owner's dossier: no phone, no ID number.
    assert "0912345678" not in page.text and "031190001234" not in page.text
    assert post(client, f"/backoffice/interop/{task.id}/take").status_code == 302
    done = post(client, f"/backoffice/interop/{task.id}/complete", note=RESULT)
    assert done.status_code == 302
    task = incoming_task(platform, partner_tenant, code)
    assert task.status == "done" and task.result["on_time_class"] == "late"

    run_worker(services)

    # The owner's dossier is at the next step, back in its queues, with the partner's row on form 05.
    dossier = dossier_of(owner, dossier_id)
    review = step_named(owner, "review")
    assert (dossier.status, dossier.current_step_id, dossier.current_role) == (
        PROCESSING,
        review.id,
        r.HEAD_OF_DIVISION,
    )
    back = history(owner, dossier_id)[-1]
    assert back.action == "interop_return" and back.step_id == verify.id and back.actor_account_id is None
    assert back.note == f"Giao: {partner_tenant.name} → Nhận: {owner.tenant.name}. Kết quả: {RESULT}"
    assert (back.step_due_at, back.on_time_class) == (task.due_at, "late")
    with owner.session() as session, platform.shards.platform_session() as platform_session:
        queue = task_queue(owner.desk(session), owner.actor("head_div"))
        assert dossier_id in [row.dossier.id for row in queue]
        (row,) = interop.interop_panel(session, dossier_id, platform_session=platform_session)
        assert (row.partner_name, row.step_name, row.task.status) == (
            partner_tenant.name,
            "Xác minh tại quận",
            "done",
        )
        assert row.task.result["note"] == RESULT
        with app.test_request_context(f"http://{owner.tenant.slug}.localhost/backoffice/"):
            panel = render_template("interop/_dossier_panel.html", interop_rows=[row])
        assert partner_tenant.name in panel and "Đã xử lý, đã nhận lại" in panel and RESULT in panel
    (handover,) = handovers_of(platform, owner.tenant)
    assert (handover.status, handover.outcome, handover.on_time_class) == ("closed", "done", "late")

    # The owner carries on as usual.
    owner_act(app, owner, "forward", dossier_id, "head_div", datetime.now(VN_TZ))
    assert dossier_of(owner, dossier_id).current_role == r.HEAD_OF_UNIT

    # Redelivery of every event of the round trip creates nothing twice and moves nothing again.
    actions_before = len(history(owner, dossier_id))
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            update(InteropHandover).where(InteropHandover.id == handover.id).values(status="received")
        )
    with Session(platform.shards.engine("main")) as session, session.begin():
        redone = session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.topic.in_((interop.SENT_TOPIC, interop.RETURNED_TOPIC)))
            .values(delivered_at=None, next_attempt_at=OutboxEvent.created_at)
        )
        assert redone.rowcount >= 2
    with app.app_context():
        assert relay_outbox("main").failed == 0
    run_worker(services)
    assert len(handovers_of(platform, owner.tenant)) == 1
    assert (
        len(
            tenant_rows(platform, partner_tenant, select(InteropTask).where(InteropTask.dossier_code == code))
        )
        == 1
    )
    assert len(history(owner, dossier_id)) == actions_before
    assert dossier_of(owner, dossier_id).current_role == r.HEAD_OF_UNIT
    assert handovers_of(platform, owner.tenant)[0].status == "closed"
    with platform.shards.tenant_session(partner_tenant.shard, partner_tenant.schema_name) as session:
        assert interop.open_incoming(Desk(session, TenantRef.of(partner_tenant)), handover).id == task.id


def test_rejected_task_comes_back_to_the_step_it_left(app, platform, services, owner, partner, client_for):
    partner_tenant, _ = partner
    dossier_id = send_to_partner(app, owner)
    code = dossier_of(owner, dossier_id).code
    run_worker(services)
    task = incoming_task(platform, partner_tenant, code)
    client = partner_client(client_for, partner, "clerk2")

    refused = post(client, f"/backoffice/interop/{task.id}/reject", reason="  ")
    assert refused.status_code == 422 and "Cần nhập lý do trả lại" in refused.text
    assert incoming_task(platform, partner_tenant, code).status == "pending"
    assert post(client, f"/backoffice/interop/{task.id}/reject", reason="Sai địa bàn").status_code == 302
    run_worker(services)

    dossier = dossier_of(owner, dossier_id)
    appraise = step_named(owner, "appraise")
    assert (dossier.current_step_id, dossier.current_role, dossier.current_account_id) == (
        appraise.id,
        r.CASE_OFFICER,
        None,
    )
    back = history(owner, dossier_id)[-1]
    assert back.note.endswith("Trả lại, không xử lý: Sai địa bàn")
    (outgoing,) = tenant_rows(
        platform, owner.tenant, select(InteropTask).where(InteropTask.dossier_id == dossier_id)
    )
    assert outgoing.status == "returned"


# --- refusals -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def waiting(app, services, owner, partner, platform):
    """A dossier at the partner, its incoming task created."""
    dossier_id = send_to_partner(app, owner)
    run_worker(services)
    code = dossier_of(owner, dossier_id).code
    return dossier_id, incoming_task(platform, partner[0], code)


def test_owner_cannot_act_while_the_dossier_is_at_the_partner(app, owner, waiting):
    dossier_id, _ = waiting
    for name, who in (("forward", "officer"), ("claim", "officer"), ("request_supplement", "officer")):
        kwargs = {"items": ["x"]} if name == "request_supplement" else {}
        with pytest.raises(Conflict) as refused:
            owner_act(app, owner, name, dossier_id, who, datetime.now(VN_TZ), **kwargs)
        assert "đơn vị phối hợp" in refused.value.vi
    assert dossier_of(owner, dossier_id).current_role is None


def test_the_owners_dossier_page_shows_where_the_dossier_is(owner, partner, waiting, client_for):
    dossier_id, _ = waiting
    client = client_for(owner.tenant)
    assert login(client, owner.accounts["head"].email).status_code == 302
    page = client.get(f"/backoffice/dossiers/{dossier_id}")
    assert page.status_code == 200
    panel = page.text.split('id="h-interop"')[1].split("</section>")[0]
    assert partner[0].name in panel and "Xác minh tại quận" in panel
    assert "Đang ở đơn vị phối hợp" in panel and "Quá hạn" in panel  # due Wed 13/03/2019, long past


# --- cross-tenant ---------------------------------------------------------------------


def test_cross_tenant_isolation(app, platform, city, owner, partner, waiting, client_for):
    partner_tenant, _ = partner
    _, task = waiting

    # The owner's official: sees the dossier as "at another unit" at home, cannot open the partner's inbox.
    officer = client_for(owner.tenant)
    assert login(officer, owner.accounts["officer"].email).status_code == 302
    home = officer.get("/backoffice/interop/")
    assert home.status_code == 200 and task.dossier_code in home.text and partner_tenant.name in home.text
    assert officer.get(f"/backoffice/interop/{task.id}").status_code == 404
    stolen = client_for(partner_tenant)
    carry_session(session_cookie(officer), stolen)
    assert stolen.get("/backoffice/interop/").status_code == 403
    assert stolen.get(f"/backoffice/interop/{task.id}").status_code == 403
    # Signing in at the partner works (one account), its back office still refuses: no membership.
    at_partner = client_for(partner_tenant)
    assert login(at_partner, owner.accounts["officer"].email).status_code == 302
    assert at_partner.get("/backoffice/interop/").status_code == 403

    # An unrelated district with a case officer: sees nothing, and the partner's task id is a 404 there.
    stranger_unit = create_test_tenant(platform, city, "district")
    stranger = make_account(platform, memberships=[(stranger_unit, [r.CASE_OFFICER])])
    client = client_for(stranger_unit)
    assert login(client, stranger.email).status_code == 302
    inbox = client.get("/backoffice/interop/")
    assert inbox.status_code == 200 and task.dossier_code not in inbox.text
    assert client.get(f"/backoffice/interop/{task.id}").status_code == 404
    assert post(client, f"/backoffice/interop/{task.id}/complete", note=RESULT).status_code == 404
    # The partner still has its task, untouched.
    assert incoming_task(platform, partner_tenant, task.dossier_code).status == "pending"


def test_wrong_role_twice_and_someone_elses_task_are_refused(platform, partner, waiting, client_for):
    partner_tenant, _ = partner
    _, task = waiting
    head = partner_client(client_for, partner, "head")
    assert head.get(f"/backoffice/interop/{task.id}").status_code == 403
    refused = post(head, f"/backoffice/interop/{task.id}/complete", note=RESULT)
    assert refused.status_code == 403 and "Chuyên viên" in refused.text
    assert task.dossier_code not in head.get("/backoffice/interop/").text

    clerk = partner_client(client_for, partner, "clerk")
    assert post(clerk, f"/backoffice/interop/{task.id}/take").status_code == 302
    assert post(clerk, f"/backoffice/interop/{task.id}/take").status_code == 409
    other = partner_client(client_for, partner, "clerk2")
    taken = post(other, f"/backoffice/interop/{task.id}/complete", note=RESULT)
    assert taken.status_code == 403 and "cán bộ" in taken.text
    empty = post(clerk, f"/backoffice/interop/{task.id}/complete", note="")
    assert empty.status_code == 422 and "Cần nhập kết quả xử lý" in empty.text
    assert incoming_task(platform, partner_tenant, task.dossier_code).status == "in_progress"

    assert post(clerk, f"/backoffice/interop/{task.id}/complete", note=RESULT).status_code == 302
    twice = post(clerk, f"/backoffice/interop/{task.id}/complete", note=RESULT)
    assert twice.status_code == 409 and "đã được trả lại" in twice.text
    assert post(clerk, f"/backoffice/interop/{task.id}/reject", reason="x").status_code == 409
    assert post(clerk, f"/backoffice/interop/{task.id}/complete").status_code == 409  # still the status first
    without_csrf = clerk.post(f"/backoffice/interop/{task.id}/complete", data={"note": RESULT})
    assert without_csrf.status_code == 400


def test_interop_step_needs_another_active_unit(app, owner, partner):
    """The unit itself, or no unit, as partner: 409 before anything is written."""
    with app.app_context(), owner.session() as session:
        desk = Desk(session, owner.ref, now=TUE)
        for partner_id in (owner.tenant.id, None, 10**9):
            step = ProcessStep(
                name="Liên thông hỏng", kind="interop", role=r.CASE_OFFICER, partner_tenant_id=partner_id
            )
            with pytest.raises(Conflict) as refused:
                interop._partner(desk, step)
            assert "không chỉ ra đơn vị phối hợp hợp lệ" in refused.value.vi


# --- two officials at once ------------------------------------------------------------


def returned_events(partner_tenant, task_id: int, platform) -> int:
    with Session(platform.shards.engine("main")) as session:
        return session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.topic == interop.RETURNED_TOPIC,
                OutboxEvent.tenant_id == partner_tenant.id,
                OutboxEvent.payload["task_id"].as_integer() == task_id,
            )
        )


def test_two_hand_backs_at_once_one_wins_and_one_event(app, platform, services, owner, partner):
    partner_tenant, people = partner
    dossier_id = send_to_partner(app, owner)
    run_worker(services)
    task_id = incoming_task(platform, partner_tenant, dossier_of(owner, dossier_id).code).id
    clerk = Actor.official(people["clerk"].id, [r.CASE_OFFICER], "Cán bộ Quận")
    ref = TenantRef.of(partner_tenant)

    def hand_back(verb: str, session, **kwargs):
        with platform.shards.platform_session() as platform_session:
            desk = Desk(session, ref, platform=platform)
            task, handover = interop.get_incoming(desk, platform_session, task_id, lock=True)
            getattr(interop, verb)(desk, clerk, task, handover, **kwargs)

    def partner_session():
        return platform.shards.tenant_session(partner_tenant.shard, partner_tenant.schema_name)

    second: dict = {}

    def reject_meanwhile():
        with app.app_context(), partner_session() as session:
            try:
                with session.begin():
                    hand_back("reject", session, reason="Sai địa bàn")
            except Conflict as exc:
                second["refused"] = exc

    with app.app_context(), partner_session() as session, session.begin():
        hand_back("complete", session, note=RESULT)  # not committed yet: the task row stays locked
        racer = threading.Thread(target=reject_meanwhile)
        racer.start()
        racer.join(timeout=1.0)
        assert racer.is_alive(), "the second hand-back did not wait for the first"
    racer.join(timeout=10)
    assert not racer.is_alive()
    assert second["refused"].status == 409 and "đã được trả lại" in second["refused"].vi
    task = incoming_task(platform, partner_tenant, dossier_of(owner, dossier_id).code)
    assert task.status == "done" and task.result["outcome"] == "done"
    assert task.result["taken_by"] == clerk.account_id  # handing back untaken takes it
    assert returned_events(partner_tenant, task_id, platform) == 1


# --- back to the reception step ----------------------------------------------------------


@pytest.fixture(scope="module")
def near(platform, city, partner):
    """A commune whose reception step hands the dossier straight to the partner district."""
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind, name="Xã Thử Gửi Ngay"))
    specs = [
        processes.StepSpec("receive", "Tiếp nhận", "start", r.COUNTER_OFFICER, Decimal(2),
                           division_id=unit.divisions["one_stop"]),
        processes.StepSpec("verify", "Xác minh tại quận", "interop", r.CASE_OFFICER, Decimal(8),
                           partner_tenant_id=partner[0].id),
        processes.StepSpec("sign", "Ký duyệt", "signing", r.HEAD_OF_UNIT, Decimal(5)),
        processes.StepSpec("return", "Trả kết quả", "return", r.COUNTER_OFFICER, Decimal(0),
                           division_id=unit.divisions["one_stop"]),
        processes.StepSpec("end", "Kết thúc", "end", r.COUNTER_OFFICER, Decimal(0)),
    ]  # fmt: skip
    for order, spec in enumerate(specs):
        spec.sort_order = order
    with unit.session() as session, session.begin():
        template = processes.find_template(session, unit.procedure_id, None)
        draft = processes.new_draft(session, template.id)
        processes.set_steps(session, draft.id, specs, [])
        unit.version_id = processes.publish(session, draft.id).id
    return unit


def test_rejected_back_to_the_reception_step_stays_being_processed(app, platform, services, near, partner):
    partner_tenant, people = partner
    with near.session() as session, session.begin():
        dossier_id = intake.receive_at_counter(
            near.desk(session, TUE), near.actor("counter"), near.intake()
        ).id
    owner_act(app, near, "transfer", dossier_id, "counter", TUE.replace(minute=30))
    assert dossier_of(near, dossier_id).status == PROCESSING
    run_worker(services)
    task_id = incoming_task(platform, partner_tenant, dossier_of(near, dossier_id).code).id
    clerk = Actor.official(people["clerk2"].id, [r.CASE_OFFICER], "Cán bộ Quận")
    with (
        app.app_context(),
        platform.shards.tenant_session(partner_tenant.shard, partner_tenant.schema_name) as session,
        session.begin(),
        platform.shards.platform_session() as platform_session,
    ):
        desk = Desk(session, TenantRef.of(partner_tenant), platform=platform)
        task, handover = interop.get_incoming(desk, platform_session, task_id, lock=True)
        interop.reject(desk, clerk, task, handover, reason="Hồ sơ gửi nhầm quận")
    run_worker(services)

    dossier = dossier_of(near, dossier_id)
    start = step_named(near, "receive")
    # 4 → 2 is no transition of DOMAIN.md §2.3: back at the reception step, still being processed.
    assert (dossier.status, dossier.current_step_id, dossier.current_role) == (
        PROCESSING,
        start.id,
        r.COUNTER_OFFICER,
    )
    back = history(near, dossier_id)[-1]
    assert (back.action, back.from_status, back.to_status) == ("interop_return", PROCESSING, PROCESSING)
    with near.session() as session:
        allowed = {t.action for t in available_actions(near.desk(session), near.actor("counter"), dossier)}
    assert "forward" in allowed and "transfer" not in allowed  # the counter sends it on again
