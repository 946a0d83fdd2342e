"""Usage events (issue #6) written in the transaction of the action that causes them, on real PostgreSQL.

Each business action writes exactly its events; a retried one is one row, a rolled-back one
none; every event carries its own unit; API calls by token are metered once per successful
request; and the source rows named in docs/metering.md recount to exactly the events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.exc import IntegrityError

from app.auth import api_tokens
from app.auth import roles as r
from app.calendar.workcal import VN_TZ
from app.core.usage import record_usage, usage_hash
from app.core.usage_models import UsageEvent
from app.dossiers import actions, files, intake, interop, metering, online
from app.dossiers.desk import Actor
from app.dossiers.interop_models import DONE
from app.dossiers.models import Dossier, DossierAction, DossierFile, FormDocument, InteropTask
from app.dossiers.status import RESULT_READY
from app.processes import services as processes
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import make_account, sign_in_directly
from tests.test_uploads import pdf_bytes, png_bytes

TUE = datetime(2026, 3, 10, 9, 0, tzinfo=VN_TZ)  # a working Tuesday


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def other(platform, city):
    """A second unit, on the second shard: its events live in that shard's table."""
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind, shard="s2"))


def at(hours: float = 0, *, days: int = 0) -> datetime:
    return TUE + timedelta(days=days, hours=hours)


def events(unit, **where) -> list[UsageEvent]:
    """The unit's events on its own shard, oldest first (filters: column=value)."""
    with unit.session() as session:
        query = select(UsageEvent).where(UsageEvent.tenant_id == unit.tenant.id)
        for name, value in where.items():
            query = query.where(getattr(UsageEvent, name) == value)
        return list(session.scalars(query.order_by(UsageEvent.id)))


def keys(rows) -> list[tuple]:
    return sorted((e.source, e.event_id, e.metric, e.dimension, e.quantity, e.subject) for e in rows)


def new_ids(unit, before: int) -> list[UsageEvent]:
    return [e for e in events(unit) if e.id > before]


def last_id(unit) -> int:
    rows = events(unit)
    return rows[-1].id if rows else 0


def receive(unit, now=TUE, who="counter") -> Dossier:
    with unit.session() as session, session.begin():
        return intake.receive_at_counter(unit.desk(session, now), unit.actor(who), unit.intake())


def act(unit, name: str, dossier_id: int, who: str, now: datetime, **kwargs):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        dossier = actions.load(desk, dossier_id)
        return getattr(actions, name)(desk, unit.actor(who), dossier, **kwargs)


def official(unit, who: str, now: datetime) -> tuple:
    account = str(unit.accounts[who].id)
    day = now.astimezone(VN_TZ).date().isoformat()
    return ("official.active", f"{account}:{day}", "active_officials", "", 1, account)


# --- each action writes exactly its events ----------------------------------------------------------


def test_counter_intake_meters_the_dossier_its_form_01_and_the_officer(unit):
    before = last_id(unit)
    dossier = receive(unit, at(0))
    rows = new_ids(unit, before)
    assert keys(rows) == sorted(
        [
            ("dossier.received", dossier.code, "dossiers_received", "counter", 1, None),
            ("document.generated", f"2018:01:{dossier.code}", "documents_generated", "01", 1, None),
            official(unit, "counter", at(0)),
        ]
    )
    assert all(e.occurred_at == dossier.received_at == at(0) for e in rows)
    assert {e.tenant_id for e in rows} == {unit.tenant.id}


def test_the_lifecycle_meters_finishing_once_and_each_official_once_a_day(unit):
    dossier_id = receive(unit, at(0, days=1)).id
    before = last_id(unit)
    act(unit, "transfer", dossier_id, "counter", at(0.5, days=1))  # the counter already counted today
    act(unit, "forward", dossier_id, "officer", at(2, days=1))
    act(unit, "forward", dossier_id, "head_div", at(3, days=1))
    assert act(unit, "complete", dossier_id, "head", at(4, days=1)) == "early"
    act(unit, "return_result", dossier_id, "counter", at(1, days=2))  # next day: counted again
    with unit.session() as session:
        dossier = session.get(Dossier, dossier_id)
    rows = new_ids(unit, before)
    assert keys(rows) == sorted(
        [
            official(unit, "officer", at(2, days=1)),
            official(unit, "head_div", at(3, days=1)),
            official(unit, "head", at(4, days=1)),
            ("dossier.finished", dossier.code, "dossiers_finished", "", 1, None),
            official(unit, "counter", at(1, days=2)),
        ]
    )
    finished = next(e for e in rows if e.source == "dossier.finished")
    assert finished.occurred_at == dossier.completed_at == at(4, days=1)


def test_guidance_refusal_and_apology_forms_are_documents(unit):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at(0, days=7))
        draft = intake.create_draft(desk, unit.actor("counter"), unit.intake(channel=3))
        intake.submit(desk, unit.actor("counter"), draft)
        dossier_id, code = draft.id, draft.code
    before = last_id(unit)
    act(unit, "guide", dossier_id, "counter", at(1, days=7), items=["Bản sao giấy khai sinh"])
    act(unit, "refuse", dossier_id, "counter", at(2, days=7), reasons=["Không thuộc thẩm quyền"])
    documents = [e for e in new_ids(unit, before) if e.source == "document.generated"]
    assert [(e.event_id, e.dimension) for e in documents] == [
        (f"2018:02:{code}/02-1", "02"),
        (f"2018:03:{code}/03-1", "03"),
    ]
    assert not events(unit, source="dossier.received", event_id=code)  # refused: never received
    assert not events(unit, source="dossier.online", event_id=code)  # postal, not online


def test_a_postal_dossier_is_received_by_its_channel(unit):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at(0, days=8))
        draft = intake.create_draft(desk, unit.actor("counter"), unit.intake(channel=3))
        intake.submit(desk, unit.actor("counter"), draft)
        intake.accept(desk, unit.actor("counter"), draft)
        code = draft.code
    (received,) = events(unit, source="dossier.received", event_id=code)
    assert received.dimension == "postal"


def test_online_submission_meters_the_citizen_the_files_and_later_the_acceptance(app, unit):
    citizen = make_account(unit.platform)
    before = last_id(unit)
    with app.app_context(), unit.session() as session, session.begin():
        desk = unit.desk(session, at(0, days=2))
        draft = online.start_draft(desk, citizen.id, unit.procedure_id)
        online.save_draft(
            desk,
            draft,
            online.DraftInput(
                applicant={"name": "Trần Thị Mai", "phone": "0912345678"}, result_delivery="online"
            ),
        )
        pdf, png = pdf_bytes(), png_bytes()
        online.add_file(desk, draft, unit.components[0], "to-khai.pdf", pdf)
        online.add_file(desk, draft, unit.components[1], "cccd.png", png)
        draft_id = draft.id
    # Submitted the next day: the bytes count when they become the dossier's, on that day.
    with app.app_context(), unit.session() as session, session.begin():
        desk = unit.desk(session, at(1, days=3))
        dossier = online.submit_draft(desk, online_actor(citizen), draft_id)
        code, dossier_id = dossier.code, dossier.id
    with unit.session() as session:
        filed = {
            f.id: f for f in session.scalars(select(DossierFile).where(DossierFile.dossier_id == dossier_id))
        }
    rows = new_ids(unit, before)
    who = str(citizen.id)
    assert keys(rows) == sorted(
        [
            ("dossier.online", code, "online_submissions", "", 1, who),
            ("citizen.active", f"{who}:2026-03-13", "active_citizens", "", 1, who),
        ]
        + [
            ("attachment.stored", str(i), "attachment_bytes", "component", f.size_bytes, None)
            for i, f in filed.items()
        ]
    )
    assert sorted(f.size_bytes for f in filed.values()) == sorted((len(pdf), len(png)))
    assert all(e.occurred_at == at(1, days=3) for e in rows)  # not the drafts' upload time
    # Submitting the same draft again (a double click) records nothing more.
    with app.app_context(), unit.session() as session, session.begin():
        online.submit_draft(unit.desk(session, at(2, days=3)), online_actor(citizen), draft_id)
    assert len(new_ids(unit, before)) == len(rows)
    # The counter accepts it: received online, form 01, the counter officer.
    before = last_id(unit)
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at(3, days=3))
        intake.accept(desk, unit.actor("counter"), actions.load(desk, dossier_id))
    assert keys(new_ids(unit, before)) == sorted(
        [
            ("dossier.received", code, "dossiers_received", "online", 1, None),
            ("document.generated", f"2018:01:{code}", "documents_generated", "01", 1, None),
            official(unit, "counter", at(3, days=3)),
        ]
    )


def online_actor(citizen):
    return Actor.applicant(citizen.id, citizen.full_name)


def test_a_citizen_submitting_twice_a_day_is_one_active_citizen(app, unit):
    citizen = make_account(unit.platform)
    codes = []
    for hour in (0, 6):  # 09:00 and 15:00 the same day
        with app.app_context(), unit.session() as session, session.begin():
            desk = unit.desk(session, at(hour, days=4))
            draft = online.start_draft(desk, citizen.id, unit.procedure_id)
            online.save_draft(
                desk, draft, online.DraftInput(applicant={"name": "Lê Văn An"}, result_delivery="counter")
            )
            online.add_file(desk, draft, unit.components[0], "a.pdf", pdf_bytes())
            online.add_file(desk, draft, unit.components[1], "b.png", png_bytes())
            codes.append(online.submit_draft(desk, online_actor(citizen), draft.id).code)
    assert len(events(unit, source="dossier.online", subject=str(citizen.id))) == 2
    (active,) = events(unit, source="citizen.active", subject=str(citizen.id))
    assert active.event_id == f"{citizen.id}:2026-03-14" and active.occurred_at == at(0, days=4)


def test_an_attached_file_is_metered_with_its_bytes_and_kind(app, unit):
    dossier = receive(unit, at(0, days=5))
    data = pdf_bytes()
    before = last_id(unit)
    with app.app_context(), unit.session() as session, session.begin():
        desk = unit.desk(session, at(1, days=5))
        row = files.attach(desk, unit.actor("counter"), actions.load(desk, dossier.id), "scan.pdf", data)
        file_id = row.id
    (event,) = new_ids(unit, before)
    assert (event.source, event.event_id, event.metric, event.dimension, event.quantity) == (
        "attachment.stored",
        str(file_id),
        "attachment_bytes",
        "component",
        len(data),
    )
    assert event.occurred_at == at(1, days=5)


def test_a_liaison_hand_back_to_the_return_step_finishes_the_dossier_once(app, platform, city):
    """Liên thông: the partner hands back, the system (no official) moves the dossier to 9."""
    partner = create_test_tenant(platform, city, "district")
    owner = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    specs = [
        processes.StepSpec("receive", "Tiếp nhận", "start", r.COUNTER_OFFICER, Decimal(2),
                           division_id=owner.divisions["one_stop"]),
        processes.StepSpec("appraise", "Thẩm định", "task", r.CASE_OFFICER, Decimal(6),
                           division_id=owner.divisions["specialised"]),
        processes.StepSpec("verify", "Xác minh", "interop", r.CASE_OFFICER, Decimal(8),
                           partner_tenant_id=partner.id),
        processes.StepSpec("return", "Trả kết quả", "return", r.COUNTER_OFFICER, Decimal(0),
                           division_id=owner.divisions["one_stop"]),
        processes.StepSpec("end", "Kết thúc", "end", r.COUNTER_OFFICER, Decimal(0)),
    ]  # fmt: skip
    for order, spec in enumerate(specs):
        spec.sort_order = order
    with owner.session() as session, session.begin():
        template = processes.find_template(session, owner.procedure_id, None)
        draft = processes.new_draft(session, template.id)
        processes.set_steps(session, draft.id, specs, [])
        processes.publish(session, draft.id)
    dossier_id = receive(owner, at(0)).id
    with app.app_context():
        act(owner, "transfer", dossier_id, "counter", at(0.5))
        act(owner, "forward", dossier_id, "officer", at(1))  # into the partner's step
    with owner.session() as session:
        task = session.scalar(select(InteropTask).where(InteropTask.dossier_id == dossier_id))
    before = last_id(owner)
    handover = SimpleNamespace(
        owner_task_id=task.id,
        outcome=DONE,
        returned_at=at(3),
        result_note="Đã xác minh",
        on_time_class="on_time",
        returned_by_name="Cán bộ quận",
        partner_due_at=task.due_at,
    )
    for _ in range(2):  # the hand-back delivered twice
        with app.app_context(), owner.session() as session, session.begin():
            interop.receive_back(owner.desk(session, at(4)), handover, partner.name)
    with owner.session() as session:
        dossier = session.get(Dossier, dossier_id)
    assert dossier.status == RESULT_READY
    assert keys(new_ids(owner, before)) == [
        ("dossier.finished", dossier.code, "dossiers_finished", "", 1, None)
    ]
    assert new_ids(owner, before)[0].occurred_at == dossier.completed_at == at(4)


# --- exactly once: duplicates, retries, rollbacks -----------------------------------------------------


def test_the_same_event_recorded_twice_is_one_row(unit):
    for _ in range(2):
        with unit.session() as session, session.begin():
            for _ in range(2):
                record_usage(
                    session,
                    tenant_id=unit.tenant.id,
                    source="dossier.received",
                    event_id="DUP-1",
                    metric="dossiers_received",
                    dimension="counter",
                    occurred_at=TUE,
                )
    assert len(events(unit, event_id="DUP-1")) == 1


def test_a_rolled_back_action_leaves_no_event_and_its_retry_counts_once(unit):
    before = last_id(unit)
    with unit.session() as session:
        session.begin()
        dossier = intake.receive_at_counter(
            unit.desk(session, at(0, days=6)), unit.actor("counter"), unit.intake()
        )
        session.flush()
        code = dossier.code
        assert {e["source"] for e in metering.pending_events(session)} == {
            "dossier.received",
            "document.generated",
            "official.active",
        }  # kept with the transaction, written by its commit
        session.rollback()  # e.g. the request failed after the intake
    assert new_ids(unit, before) == []
    with unit.session() as session:
        assert session.scalar(select(func.count()).select_from(Dossier).where(Dossier.code == code)) == 0
    retried = receive(unit, at(0, days=6))  # the retry (same day: the same code comes again)
    assert retried.code == code
    assert keys(new_ids(unit, before)) == sorted(
        [
            ("dossier.received", code, "dossiers_received", "counter", 1, None),
            ("document.generated", f"2018:01:{code}", "documents_generated", "01", 1, None),
            official(unit, "counter", at(0, days=6)),
        ]
    )


def test_a_rolled_back_savepoint_takes_its_events_and_a_released_one_keeps_them(unit):
    """The portal submits inside a savepoint; only what the savepoint kept is metered."""
    before = last_id(unit)
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at(0, days=11))
        with pytest.raises(RuntimeError), session.begin_nested():
            lost = intake.receive_at_counter(desk, unit.actor("counter"), unit.intake()).code
            raise RuntimeError("the rest of the request failed")
        with session.begin_nested():
            kept = intake.receive_at_counter(desk, unit.actor("counter"), unit.intake()).code
        later = intake.receive_at_counter(desk, unit.actor("counter"), unit.intake()).code
    rows = new_ids(unit, before)
    assert lost == kept  # the code of the rolled-back intake was given again
    assert sorted(e.event_id for e in rows if e.source == "dossier.received") == sorted([kept, later])
    assert len([e for e in rows if e.source == "official.active"]) == 1


def test_a_rolled_back_savepoint_never_takes_the_events_of_the_transaction_around_it(unit):
    """A savepoint's release writes every pending event inside it; when a savepoint around it is
    then rolled back, the events recorded OUTSIDE that one must still be written by the commit
    (they were lost: counted zero times). A release whose flush fails keeps them too."""
    before = last_id(unit)
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at(0, days=12))
        first = intake.receive_at_counter(desk, unit.actor("counter"), unit.intake()).code
        with pytest.raises(RuntimeError), session.begin_nested():
            with session.begin_nested():
                pass  # released: the pending events are written inside the outer savepoint
            raise RuntimeError("the outer savepoint is rolled back")
        second = intake.receive_at_counter(desk, unit.actor("counter"), unit.intake()).code
        with pytest.raises(IntegrityError), session.begin_nested():
            # "insert or ignore" in a savepoint: the release's flush fails on the unique key
            session.add(FormDocument(dossier_id=1, form_set="2018", form_no="01", number=second, payload={}))
    rows = new_ids(unit, before)
    assert sorted(e.event_id for e in rows if e.source == "dossier.received") == sorted([first, second])
    assert sorted(e.event_id for e in rows if e.source == "document.generated") == sorted(
        [f"2018:01:{first}", f"2018:01:{second}"]
    )
    assert len([e for e in rows if e.source == "official.active"]) == 1
    with unit.session() as session:
        assert session.scalar(select(func.count()).select_from(Dossier).where(Dossier.code == second)) == 1


def test_a_refused_action_writes_no_event(unit):
    dossier_id = receive(unit, at(0, days=9)).id
    before = last_id(unit)
    with pytest.raises(actions.Forbidden):
        act(unit, "transfer", dossier_id, "officer", at(1, days=9))  # the counter's step, not theirs
    assert new_ids(unit, before) == []


# --- the right unit -------------------------------------------------------------------------------------


def test_two_units_never_mix_their_events(unit, other):
    mine, theirs = receive(unit, at(0, days=10)), receive(other, at(0, days=10))
    assert {e.tenant_id for e in events(unit, event_id=mine.code)} == {unit.tenant.id}
    assert {e.tenant_id for e in events(other, event_id=theirs.code)} == {other.tenant.id}
    assert not events(unit, event_id=theirs.code) and not events(other, event_id=mine.code)
    # The other unit is on the second shard: its events are in that shard's table only.
    with unit.session() as session:
        assert not session.scalar(
            select(func.count()).select_from(UsageEvent).where(UsageEvent.tenant_id == other.tenant.id)
        )
    theirs_officials = {e.subject for e in events(other, source="official.active")}
    assert theirs_officials == {str(other.accounts["counter"].id)}


# --- API calls by token ---------------------------------------------------------------------------------


def token_header(unit, who="counter", scopes=("dossiers:read", "dossiers:write")) -> tuple[int, dict]:
    with unit.session() as session, session.begin():
        token, plaintext = api_tokens.create_token(
            session, name=f"metering {who}", scopes=scopes, account_id=unit.accounts[who].id
        )
        return token.id, {"Authorization": f"Bearer {plaintext}"}


def test_each_successful_token_call_is_one_api_call_event(client_for, unit):
    token_id, header = token_header(unit)
    api = client_for(unit.tenant)
    for _ in range(3):
        assert api.get("/api/v1/dossiers", headers=header).status_code == 200
    assert api.get("/api/v1/dossiers/999999999", headers=header).status_code == 404  # failed: not metered
    calls = events(unit, source="api.call", subject=str(token_id))
    assert len(calls) == 3 and len({e.event_id for e in calls}) == 3
    assert {(e.metric, e.dimension, e.quantity) for e in calls} == {("api_calls", "", 1)}
    # A client repeating its X-Request-Id does not hide a call.
    for _ in range(2):
        api.get("/api/v1/dossiers", headers={**header, "X-Request-Id": "same"})
    assert len(events(unit, source="api.call", subject=str(token_id))) == 5


def test_a_token_write_call_is_metered_with_its_business_events(client_for, unit):
    token_id, header = token_header(unit)
    body = {
        "procedure_id": unit.procedure_id,
        "channel": 1,
        "applicant": {"name": "Nguyễn Thị Hương", "phone": "0912345678"},
        "components": [{"component_id": unit.components[0]}, {"component_id": unit.components[1]}],
    }
    response = client_for(unit.tenant).post("/api/v1/dossiers", json=body, headers=header)
    assert response.status_code == 201, response.text
    assert len(events(unit, source="api.call", subject=str(token_id))) == 1
    assert len(events(unit, source="dossier.received", event_id=response.get_json()["code"])) == 1


def test_a_session_call_is_not_an_api_call(client_for, unit):
    before = len(events(unit, source="api.call"))
    office = client_for(unit.tenant)
    sign_in_directly(office, unit.accounts["counter"], unit.tenant)
    assert office.get("/api/v1/dossiers").status_code == 200
    assert len(events(unit, source="api.call")) == before


def test_a_token_of_one_unit_sent_to_another_is_refused_and_meters_nothing(client_for, unit, other):
    _, header = token_header(unit)
    mine, theirs = len(events(unit, source="api.call")), len(events(other, source="api.call"))
    assert client_for(other.tenant).get("/api/v1/dossiers", headers=header).status_code == 401
    assert len(events(unit, source="api.call")) == mine
    assert len(events(other, source="api.call")) == theirs


def test_a_failed_api_call_event_fails_neither_the_request_nor_its_own_events(client_for, unit, monkeypatch):
    """The database refuses the API call's row (too long an id): logged, and the intake commits whole."""
    from app.auth import api_access

    real = api_access.record_usage
    monkeypatch.setattr(
        api_access, "record_usage", lambda db, **kw: real(db, **{**kw, "event_id": "x" * 200})
    )
    token_id, header = token_header(unit)
    body = {
        "procedure_id": unit.procedure_id,
        "channel": 1,
        "applicant": {"name": "Phạm Văn Bình", "phone": "0912345678"},
        "components": [{"component_id": unit.components[0]}, {"component_id": unit.components[1]}],
    }
    response = client_for(unit.tenant).post("/api/v1/dossiers", json=body, headers=header)
    assert response.status_code == 201, response.text
    code = response.get_json()["code"]
    assert not events(unit, source="api.call", subject=str(token_id))
    assert [e.source for e in events(unit, event_id=code)] == ["dossier.received"]
    assert len(events(unit, source="document.generated", event_id=f"2018:01:{code}")) == 1


# --- sealed, and recountable from the unit's own rows ---------------------------------------------


def test_every_event_carries_the_hash_of_its_content(unit, other):
    for each in (unit, other):
        rows = events(each)
        assert rows
        for e in rows:
            assert e.row_hash == usage_hash(
                e.tenant_id, e.source, e.event_id, e.metric, e.dimension, e.quantity, e.subject, e.occurred_at
            ), (e.source, e.event_id)


def day(column):
    return cast(func.timezone("Asia/Ho_Chi_Minh", column), Date)


def grouped(session, *columns, where=(), total=None):
    """``(group..., count, sum)`` rows of ``columns`` grouped, filtered by ``where``."""
    summed = func.sum(total) if total is not None else func.count()
    query = select(*columns, func.count(), summed).where(*where).group_by(*columns)
    return session.execute(query).all()


def source_counts(session) -> dict:
    """The recount of docs/metering.md from the unit's own rows: (metric, dimension, day) -> (count, sum)."""
    out: dict = {}
    channel = {1: "counter", 2: "online", 3: "postal"}
    received = day(Dossier.received_at)
    for d, ch, n, q in grouped(session, received, Dossier.channel, where=[Dossier.received_at.is_not(None)]):
        out[("dossiers_received", channel[ch], d)] = (n, q)
    online_rows = [Dossier.channel == 2, Dossier.submitted_at.is_not(None)]
    for d, n, q in grouped(session, day(Dossier.submitted_at), where=online_rows):
        out[("online_submissions", "", d)] = (n, q)
    citizens = (
        select(day(Dossier.submitted_at).label("d"), Dossier.citizen_account_id)
        .where(*online_rows, Dossier.citizen_account_id.is_not(None))
        .subquery()
    )
    for d, n in session.execute(
        select(citizens.c.d, func.count(citizens.c.citizen_account_id.distinct())).group_by(citizens.c.d)
    ):
        out[("active_citizens", "", d)] = (n, n)
    for d, n, q in grouped(session, day(Dossier.completed_at), where=[Dossier.completed_at.is_not(None)]):
        out[("dossiers_finished", "", d)] = (n, q)
    for d, form_no, n, q in grouped(session, day(FormDocument.issued_at), FormDocument.form_no):
        out[("documents_generated", form_no, d)] = (n, q)
    moved = func.split_part(DossierFile.storage_key, "/", 2) == "online-drafts"
    submitted = select(Dossier.submitted_at).where(Dossier.id == DossierFile.dossier_id).scalar_subquery()
    stored = day(case((moved, submitted), else_=DossierFile.uploaded_at))
    for d, kind, n, q in grouped(session, stored, DossierFile.kind, total=DossierFile.size_bytes):
        out[("attachment_bytes", kind, d)] = (n, int(q))
    officials = (
        select(day(DossierAction.at).label("d"), DossierAction.actor_account_id)
        .where(DossierAction.actor_account_id.is_not(None), DossierAction.role.is_distinct_from("applicant"))
        .subquery()
    )
    for d, n in session.execute(
        select(officials.c.d, func.count(officials.c.actor_account_id.distinct())).group_by(officials.c.d)
    ):
        out[("active_officials", "", d)] = (n, n)
    return out


def metered_counts(session, tenant_id: int) -> dict:
    """The same keys from the unit's events (API calls have no source row; DUP-1 is a made-up event)."""
    rows = grouped(
        session,
        UsageEvent.metric,
        UsageEvent.dimension,
        day(UsageEvent.occurred_at),
        where=[
            UsageEvent.tenant_id == tenant_id,
            UsageEvent.metric != "api_calls",
            UsageEvent.event_id != "DUP-1",
        ],
        total=UsageEvent.quantity,
    )
    return {(metric, dimension, d): (n, int(q)) for metric, dimension, d, n, q in rows}


def test_the_source_rows_recount_exactly_the_events(unit, other):
    """Runs last in this module: every action above is recounted from the units' own rows."""
    for each in (unit, other):
        with each.session() as session:
            source, metered = source_counts(session), metered_counts(session, each.tenant.id)
        assert source == metered
        assert {metric for metric, _, _ in metered} >= {"dossiers_received", "documents_generated"}
