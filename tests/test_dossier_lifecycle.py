"""The dossier state machine of DOMAIN.md §2.3: every transition allowed, wrong ones refused, clocks right."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.auth.access import Forbidden
from app.calendar.workcal import VN_TZ
from app.core.errors import Conflict, NotFound
from app.core.outbox_models import OutboxEvent
from app.dossiers import actions, intake
from app.dossiers.desk import InvalidAssignee
from app.dossiers.intake import Applicant, InvalidDossier
from app.dossiers.models import Dossier, DossierAction, DossierCodeCounter, DossierPause, FormDocument
from app.dossiers.queries import QueueFilter, available_actions, task_queue
from app.dossiers.status import (
    FINANCIAL,
    PROCESSING,
    RECEIVED,
    REFUSED,
    RESULT_READY,
    RETURNED,
    STOPPED,
    SUBMITTED,
    SUPPLEMENT,
    WITHDRAWN,
)
from app.dossiers.texts import TextTooLong
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit

TUE = datetime(2019, 3, 12, 9, 0, tzinfo=VN_TZ)  # an ordinary working Tuesday


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


def at(hours: float = 0, *, days: int = 0, base: datetime = TUE) -> datetime:
    return base + timedelta(days=days, hours=hours)


def receive(unit, now=TUE, **overrides) -> int:
    with unit.session() as session, session.begin():
        dossier = intake.receive_at_counter(
            unit.desk(session, now), unit.actor("counter"), unit.intake(**overrides)
        )
        return dossier.id


def act(unit, name: str, dossier_id: int, who: str, now: datetime, **kwargs):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        dossier = actions.load(desk, dossier_id)
        return getattr(actions, name)(desk, unit.actor(who), dossier, **kwargs)


def get(unit, dossier_id: int) -> Dossier:
    with unit.session() as session:
        return session.get(Dossier, dossier_id)


def actions_of(unit, dossier_id: int) -> list[DossierAction]:
    with unit.session() as session:
        return list(
            session.scalars(
                select(DossierAction).where(DossierAction.dossier_id == dossier_id).order_by(DossierAction.id)
            )
        )


def forms_of(unit, dossier_id: int) -> list[str]:
    with unit.session() as session:
        rows = session.scalars(
            select(FormDocument.form_no)
            .where(FormDocument.dossier_id == dossier_id)
            .order_by(FormDocument.id)
        )
        return list(rows)


# --- counter intake ----------------------------------------------------------


def test_counter_intake_codes_dates_and_records(unit):
    dossier_id = receive(unit, note="  Bản gốc đã đối chiếu ")
    dossier = get(unit, dossier_id)
    assert dossier.status == RECEIVED
    assert re.fullmatch(rf"{re.escape(unit.tenant.unit_code)}-190312-\d{{4}}", dossier.code)
    # 3 working days from Tue 09:00 = 24 working hours -> Fri 15/03 09:00.
    assert dossier.due_at == datetime(2019, 3, 15, 9, 0, tzinfo=VN_TZ)
    assert dossier.due_at_original == dossier.due_at
    assert dossier.due_explanation["due_at"]
    assert dossier.current_role == "counter_officer"
    assert dossier.current_account_id == unit.accounts["counter"].id
    assert [(a.action, a.note) for a in actions_of(unit, dossier_id)] == [("receive", "Bản gốc đã đối chiếu")]
    assert forms_of(unit, dossier_id) == ["01"]
    with unit.session() as session:
        event = session.scalar(
            select(OutboxEvent).where(
                OutboxEvent.tenant_id == unit.tenant.id,  # dossier ids repeat across units on a shard
                OutboxEvent.payload["dossier_id"].as_integer() == dossier_id,
            )
        )
        assert event.topic == "dossier.transition" and event.payload["to_status"] == RECEIVED


def test_missing_mandatory_component_is_422_and_writes_nothing(unit):
    day = datetime(2019, 3, 20, 9, 0, tzinfo=VN_TZ)
    with unit.session() as session:
        before = session.scalar(select(func.count()).select_from(Dossier))
    with pytest.raises(InvalidDossier) as refused:
        receive(unit, day, components={unit.components[0]: 1})
    assert refused.value.status == 422
    assert "Giấy tờ tùy thân" in refused.value.vi and "mandatory" in refused.value.en
    with unit.session() as session:
        assert session.scalar(select(func.count()).select_from(Dossier)) == before
        assert session.get(DossierCodeCounter, day.date()) is None
    # The next good intake that day is number 0001: the refusal used no number.
    assert get(unit, receive(unit, day)).code.endswith("-190320-0001")


def test_bad_applicant_data_lists_every_problem(unit):
    with pytest.raises(InvalidDossier) as refused:
        receive(unit, applicant=Applicant(name=" ", phone="12ab", id_type="cccd", id_number="123"))
    errors = refused.value.errors
    assert {"applicant.name", "applicant.phone", "applicant.id_number"} <= set(errors)
    assert "12 chữ số" in errors["applicant.id_number"]["vi"]


def test_applicant_fields_longer_than_their_columns_are_422_one_message_each(unit):
    too_long = Applicant(
        name="Nguyễn " * 40,
        phone="0" * 33,
        email="a" * 250 + "@example.vn",
        address="Số 1 " * 201,
        province_code="123456789",
        district_code="123456789",
        ward_code="123456789",
        delegate_name="Trần " * 52,
        delegate_phone="0" * 33,
        id_type="cccd",
        id_number="1" * 33,
    )
    with unit.session() as session:
        before = session.scalar(select(func.count()).select_from(Dossier))
    with pytest.raises(InvalidDossier) as refused:
        receive(unit, applicant=too_long)
    errors = refused.value.errors
    fields = ("name", "phone", "email", "address", "province_code", "district_code", "ward_code")
    fields += ("delegate_name", "delegate_phone", "id_number")
    for field in fields:
        assert "dài quá" in errors[f"applicant.{field}"]["vi"], field  # the length, not also the format
        assert "longer than" in errors[f"applicant.{field}"]["en"], field
    assert "dài quá 8 ký tự" in errors["applicant.ward_code"]["vi"]
    with unit.session() as session:
        assert session.scalar(select(func.count()).select_from(Dossier)) == before


def test_control_characters_are_taken_out_of_applicant_text(unit):
    messy = Applicant(
        name="Nguyễn\x00 Thị\x01 Hương\n",
        phone="0912345678",
        address="Số 12\tLê Lợi\r\nNgô Quyền\x7f",
        delegate_name="\x1bTrần Văn An",
    )
    dossier = get(unit, receive(unit, applicant=messy))
    assert dossier.applicant_name == "Nguyễn Thị Hương"
    assert dossier.applicant_address == "Số 12 Lê Lợi Ngô Quyền"
    assert dossier.delegate_name == "Trần Văn An"


def test_notes_reasons_and_items_hold_at_most_2000_characters(unit):
    with pytest.raises(InvalidDossier) as long_note:
        receive(unit, note="x" * 2001)
    assert "note" in long_note.value.errors
    dossier_id = receive(unit)
    with pytest.raises(TextTooLong) as refused:
        act(unit, "transfer", dossier_id, "counter", at(1), note="x" * 2001)
    assert refused.value.status == 422 and "2000" in refused.value.vi and "note" in refused.value.errors
    act(unit, "transfer", dossier_id, "counter", at(1), note="x" * 2000)
    for name, kwargs in (
        ("request_supplement", {"items": ["Tờ khai", "y" * 2001]}),
        ("request_supplement", {"items": ["Tờ khai"], "reason": "y" * 2001}),
        ("request_payment", {"reason": "y" * 2001}),
    ):
        with pytest.raises(TextTooLong):
            act(unit, name, dossier_id, "officer", at(2), **kwargs)
    assert get(unit, dossier_id).status == PROCESSING
    # Three items of 1,500 characters are each fine; form 05's row keeps a cut summary, form 02 all of them.
    act(unit, "request_supplement", dossier_id, "officer", at(2), items=["z" * 1500] * 3)
    row = actions_of(unit, dossier_id)[-1]
    assert len(row.note) == 2000 and row.note.endswith("…")
    with unit.session() as session:
        form = session.scalar(
            select(FormDocument).where(FormDocument.dossier_id == dossier_id, FormDocument.form_no == "02")
        )
        assert form.payload["items"] == ["z" * 1500] * 3


def test_unknown_procedure_is_404(unit):
    with pytest.raises(NotFound):
        receive(unit, procedure_id=987654)


def test_only_a_counter_officer_receives(unit):
    with unit.session() as session, pytest.raises(Forbidden) as refused:
        intake.receive_at_counter(unit.desk(session, TUE), unit.actor("officer"), unit.intake())
    assert "Cán bộ một cửa" in refused.value.vi


# --- the whole way through ---------------------------------------------------


def test_happy_path_to_returned_with_form05_rows(unit):
    dossier_id = receive(unit)
    act(unit, "transfer", dossier_id, "counter", at(0.5))
    assert get(unit, dossier_id).status == PROCESSING
    assert get(unit, dossier_id).current_role == "case_officer"
    act(unit, "forward", dossier_id, "officer", at(2))
    act(unit, "forward", dossier_id, "head_div", at(3))
    assert act(unit, "complete", dossier_id, "head", at(4)) == "early"
    dossier = get(unit, dossier_id)
    assert dossier.status == RESULT_READY and dossier.completed_at == at(4)
    assert dossier.current_role == "counter_officer"
    act(unit, "return_result", dossier_id, "counter", at(5))
    dossier = get(unit, dossier_id)
    assert dossier.status == RETURNED and dossier.returned_at == at(5)
    rows = actions_of(unit, dossier_id)
    assert [a.action for a in rows] == [
        "receive",
        "transfer",
        "forward",
        "forward",
        "complete",
        "return_result",
    ]
    assert [(a.from_status, a.to_status) for a in rows[1:]] == [
        (RECEIVED, PROCESSING),
        (PROCESSING, PROCESSING),
        (PROCESSING, PROCESSING),
        (PROCESSING, RESULT_READY),
        (RESULT_READY, RETURNED),
    ]
    assert all(a.step_due_at is not None and a.on_time_class for a in rows[1:])


def test_step_lateness_is_recorded(unit):
    dossier_id = receive(unit)
    # The reception step has 10 % of 24 h = 2.25 h; transferring two days later is late.
    act(unit, "transfer", dossier_id, "counter", at(days=2))
    assert actions_of(unit, dossier_id)[-1].on_time_class == "late"


def test_online_draft_submit_guide_accept(unit):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, TUE)
        draft = intake.create_draft(
            desk, unit.actor("counter"), unit.intake(channel=2, components={}, result_delivery="online")
        )
        assert draft.code is None and draft.status == 0
        dossier_id = draft.id
    # Nothing ticked and no files: mandatory documents are missing.
    with pytest.raises(InvalidDossier), unit.session() as session, session.begin():
        desk = unit.desk(session, TUE)
        intake.submit(desk, unit.actor("counter"), actions.load(desk, dossier_id))
    with unit.session() as session, session.begin():
        desk = unit.desk(session, TUE)
        dossier = actions.load(desk, dossier_id)
        for component in dossier_components(session, dossier_id):
            component.is_received = True
        intake.submit(desk, unit.actor("counter"), dossier)
        assert dossier.status == SUBMITTED and dossier.code
    act(unit, "guide", dossier_id, "counter", at(1), items=["Bản sao giấy khai sinh"])
    assert get(unit, dossier_id).status == SUBMITTED
    assert get(unit, dossier_id).due_at is None  # no clock before acceptance
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at(2))
        intake.accept(desk, unit.actor("counter"), actions.load(desk, dossier_id))
    dossier = get(unit, dossier_id)
    assert dossier.status == RECEIVED and dossier.received_at == at(2)
    assert forms_of(unit, dossier_id) == ["02", "01"]


def dossier_components(session, dossier_id):
    from app.dossiers.models import DossierComponent

    return session.scalars(select(DossierComponent).where(DossierComponent.dossier_id == dossier_id))


def submitted(unit) -> int:
    with unit.session() as session, session.begin():
        desk = unit.desk(session, TUE)
        draft = intake.create_draft(desk, unit.actor("counter"), unit.intake(channel=2))
        intake.submit(desk, unit.actor("counter"), draft)
        return draft.id


def test_refuse_at_reception_issues_form_03(unit):
    dossier_id = submitted(unit)
    act(unit, "refuse", dossier_id, "counter", at(1), reasons=["Không thuộc thẩm quyền của xã"])
    assert get(unit, dossier_id).status == REFUSED
    assert forms_of(unit, dossier_id) == ["03"]


def processing(unit, now=TUE) -> int:
    dossier_id = receive(unit, now)
    act(unit, "transfer", dossier_id, "counter", now + timedelta(minutes=30))
    return dossier_id


def test_supplement_pause_across_a_weekend_shifts_due_by_working_time_only(unit):
    dossier_id = processing(unit)
    due_before = get(unit, dossier_id).due_at  # Fri 15/03 09:00
    thu = datetime(2019, 3, 14, 16, 0, tzinfo=VN_TZ)
    act(unit, "request_supplement", dossier_id, "officer", thu, items=["Bản sao sổ hộ khẩu"])
    assert get(unit, dossier_id).status == SUPPLEMENT
    mon = datetime(2019, 3, 18, 9, 0, tzinfo=VN_TZ)
    minutes = act(unit, "receive_supplement", dossier_id, "counter", mon)
    # Paused Thu 16:00-17:00, Fri all day, Mon 07:00-09:00: 60 + 480 + 120 working minutes.
    assert minutes == 660
    dossier = get(unit, dossier_id)
    assert dossier.status == PROCESSING
    # Fri 09:00 + 11 working hours: 6 on Friday, 5 on Monday -> Mon 14:00.
    assert dossier.due_at == datetime(2019, 3, 18, 14, 0, tzinfo=VN_TZ)
    assert dossier.due_at_original == due_before
    assert dossier.due_explanation["pauses"][0]["minutes"] == 660
    with unit.session() as session:
        pause = session.scalar(select(DossierPause).where(DossierPause.dossier_id == dossier_id))
        assert pause.paused_working_minutes == 660 and pause.form_document_id is not None


def test_financial_obligation_pause(unit):
    dossier_id = processing(unit)
    act(unit, "request_payment", dossier_id, "officer", at(1), reason="Lệ phí 10.000 đồng")
    assert get(unit, dossier_id).status == FINANCIAL
    act(unit, "confirm_payment", dossier_id, "fees", at(2))
    assert get(unit, dossier_id).status == PROCESSING


def test_stop_from_processing_and_from_supplement(unit):
    first = processing(unit)
    act(unit, "stop", first, "head", at(1), reason="Không đủ điều kiện")
    assert (get(unit, first).status, get(unit, first).stop_reason) == (STOPPED, "refused")
    second = processing(unit)
    act(unit, "request_supplement", second, "officer", at(1), items=["Tờ khai"])
    act(unit, "stop", second, "head_div", at(days=40), reason="Quá hạn bổ sung", kind="supplement_expired")
    assert get(unit, second).status == STOPPED
    assert get(unit, second).current_role is None


def test_stop_for_a_missed_supplement_needs_the_deadline_to_have_passed(unit):
    dossier_id = processing(unit)
    with pytest.raises(Conflict) as not_waiting:  # status 4: no supplement was asked for
        act(unit, "stop", dossier_id, "head", at(1), reason="Quá hạn bổ sung", kind="supplement_expired")
    assert "đang chờ bổ sung" in not_waiting.value.vi and not_waiting.value.status == 409
    act(unit, "request_supplement", dossier_id, "officer", at(1), items=["Tờ khai"])  # due 30 days later
    with pytest.raises(Conflict) as too_soon:
        act(unit, "stop", dossier_id, "head", at(1, days=29), reason="Quá hạn", kind="supplement_expired")
    assert "chưa hết (đến 10:00 11/04/2019)" in too_soon.value.vi
    assert get(unit, dossier_id).status == SUPPLEMENT
    act(unit, "stop", dossier_id, "head", at(1, days=30), reason="Quá hạn", kind="supplement_expired")
    assert (get(unit, dossier_id).status, get(unit, dossier_id).stop_reason) == (
        STOPPED,
        "supplement_expired",
    )


@pytest.mark.parametrize("stage", ["submitted", "received", "processing", "supplement"])
def test_withdraw_from_each_allowed_status(unit, stage):
    if stage == "submitted":
        dossier_id = submitted(unit)
    elif stage == "received":
        dossier_id = receive(unit)
    else:
        dossier_id = processing(unit)
        if stage == "supplement":
            act(unit, "request_supplement", dossier_id, "officer", at(1), items=["Tờ khai"])
    act(unit, "withdraw", dossier_id, "counter", at(2), reason="Công dân xin rút")
    assert get(unit, dossier_id).status == WITHDRAWN


def test_apology_once_before_due_and_lateness_still_counts(unit):
    dossier_id = processing(unit)
    due = get(unit, dossier_id).due_at
    new_date = datetime(2019, 3, 20, 17, 0, tzinfo=VN_TZ)
    act(unit, "apologise", dossier_id, "head", at(3), new_due_at=new_date, reason="Chờ xác minh")
    dossier = get(unit, dossier_id)
    assert dossier.rescheduled_due_at == new_date and dossier.due_at == due
    assert dossier.due_explanation["extension"]
    assert forms_of(unit, dossier_id)[-1] == "04"
    with pytest.raises(Conflict) as twice:
        act(unit, "apologise", dossier_id, "head", at(4), new_due_at=new_date + timedelta(days=1), reason="x")
    assert "một lần" in twice.value.vi
    # Finishing after the original due date is late even though the applicant was given a later date.
    act(unit, "forward", dossier_id, "officer", datetime(2019, 3, 18, 8, 0, tzinfo=VN_TZ))
    act(unit, "forward", dossier_id, "head_div", datetime(2019, 3, 18, 9, 0, tzinfo=VN_TZ))
    assert act(unit, "complete", dossier_id, "head", datetime(2019, 3, 18, 10, 0, tzinfo=VN_TZ)) == "late"


def test_apology_after_the_due_date_is_refused(unit):
    dossier_id = processing(unit)
    with pytest.raises(Conflict) as late:
        act(unit, "apologise", dossier_id, "head", at(days=7), new_due_at=at(days=9), reason="x")
    assert "trước ngày hẹn ít nhất 1 ngày làm việc" in late.value.vi


def test_apology_needs_a_whole_working_day_before_the_due_date(unit):
    dossier_id = processing(unit)  # due Fri 15/03 09:00
    new_date = datetime(2019, 3, 20, 17, 0, tzinfo=VN_TZ)
    # Thu 12:00: 3.5 working hours on Thursday and 2 on Friday are left, less than a working day (8 h).
    with pytest.raises(Conflict) as short:
        act(
            unit,
            "apologise",
            dossier_id,
            "head",
            datetime(2019, 3, 14, 12, 0, tzinfo=VN_TZ),
            new_due_at=new_date,
            reason="x",
        )
    assert short.value.status == 409 and "09:00 15/03/2019" in short.value.vi
    assert get(unit, dossier_id).rescheduled_due_at is None
    # Thu 08:00: 9 working hours are left.
    act(
        unit,
        "apologise",
        dossier_id,
        "head",
        datetime(2019, 3, 14, 8, 0, tzinfo=VN_TZ),
        new_due_at=new_date,
        reason="x",
    )
    assert get(unit, dossier_id).rescheduled_due_at == new_date


def test_apology_while_paused_counts_the_pause_so_far(unit):
    dossier_id = processing(unit)  # due Fri 15/03 09:00
    tue = datetime(2019, 3, 12, 10, 0, tzinfo=VN_TZ)
    act(unit, "request_supplement", dossier_id, "officer", tue, items=["Tờ khai"])
    # Paused since Tue 10:00 with 23 working hours left: on Mon 18/03 09:00 the Friday date has passed
    # on the wall clock, but the dossier is due Thu 21/03 08:00.
    mon = datetime(2019, 3, 18, 9, 0, tzinfo=VN_TZ)
    with pytest.raises(actions.InvalidAction):  # a new date before that is no new date
        act(
            unit,
            "apologise",
            dossier_id,
            "head",
            mon,
            new_due_at=datetime(2019, 3, 20, 17, 0, tzinfo=VN_TZ),
            reason="x",
        )
    new_date = datetime(2019, 3, 22, 17, 0, tzinfo=VN_TZ)
    act(unit, "apologise", dossier_id, "head", mon, new_due_at=new_date, reason="Chờ bổ sung")
    dossier = get(unit, dossier_id)
    assert dossier.status == SUPPLEMENT and dossier.rescheduled_due_at == new_date


# --- wrong moves -------------------------------------------------------------


def test_wrong_transitions_are_409_with_what_is_allowed(unit):
    dossier_id = processing(unit)
    with pytest.raises(Conflict) as wrong:
        act(unit, "return_result", dossier_id, "counter", at(1))
    assert "Đang xử lý" in wrong.value.vi and "Yêu cầu bổ sung" in wrong.value.vi
    assert "forward" in wrong.value.errors["allowed"]
    with pytest.raises(Conflict):
        act(unit, "transfer", dossier_id, "counter", at(1))
    # Forward stops before the return step: complete is the way.
    act(unit, "forward", dossier_id, "officer", at(1))
    act(unit, "forward", dossier_id, "head_div", at(2))
    with pytest.raises(Conflict) as last:
        act(unit, "forward", dossier_id, "head", at(3))
    assert "Hoàn thành" in last.value.vi
    act(unit, "complete", dossier_id, "head", at(3))
    act(unit, "return_result", dossier_id, "counter", at(4))
    with pytest.raises(Conflict) as closed:
        act(unit, "withdraw", dossier_id, "counter", at(5))
    assert "kết thúc" in closed.value.vi


def test_submit_twice_and_accept_a_draft_are_refused(unit):
    dossier_id = submitted(unit)
    with unit.session() as session, session.begin(), pytest.raises(Conflict):
        desk = unit.desk(session, TUE)
        intake.submit(desk, unit.actor("counter"), actions.load(desk, dossier_id))


def test_step_needs_its_role_division_and_holder(unit):
    dossier_id = processing(unit)
    with pytest.raises(Forbidden):  # the signer cannot do the case officer's step
        act(unit, "forward", dossier_id, "head", at(1))
    act(unit, "claim", dossier_id, "officer", at(1))
    with pytest.raises(Forbidden) as taken:  # a colleague with the same role, but officer holds it
        act(unit, "forward", dossier_id, "officer2", at(1))
    assert "cán bộ khác" in taken.value.vi
    act(unit, "forward", dossier_id, "officer", at(2))


def test_stale_version_is_a_conflict(unit):
    dossier_id = receive(unit)
    version = get(unit, dossier_id).row_version
    act(unit, "transfer", dossier_id, "counter", at(1))
    with unit.session() as session, pytest.raises(actions.StaleDossier):
        actions.load(unit.desk(session, at(2)), dossier_id, expected_version=version)


def test_available_actions_follow_status_and_role(unit):
    dossier_id = processing(unit)
    with unit.session() as session:
        desk = unit.desk(session, at(1))
        dossier = session.get(Dossier, dossier_id)
        officer = {t.action for t in available_actions(desk, unit.actor("officer"), dossier)}
        counter = {t.action for t in available_actions(desk, unit.actor("counter"), dossier)}
    assert {"forward", "request_supplement", "request_payment"} <= officer
    assert "withdraw" not in officer and "withdraw" in counter and "forward" not in counter
    assert "complete" not in officer  # not at the last step yet
    act(unit, "forward", dossier_id, "officer", at(2))
    act(unit, "forward", dossier_id, "head_div", at(3))
    with unit.session() as session:
        dossier = session.get(Dossier, dossier_id)
        signer = {t.action for t in available_actions(unit.desk(session, at(4)), unit.actor("head"), dossier)}
    assert "complete" in signer and "forward" not in signer


def test_task_queue_pools_by_role_and_sorts_by_step_deadline(unit):
    later = processing(unit, datetime(2019, 3, 26, 9, 0, tzinfo=VN_TZ))
    sooner = processing(unit, datetime(2019, 3, 25, 9, 0, tzinfo=VN_TZ))
    with unit.session() as session:
        desk = unit.desk(session, datetime(2019, 3, 26, 10, 0, tzinfo=VN_TZ))
        rows = task_queue(desk, unit.actor("officer2"), QueueFilter(), limit=500)
        ids = [row.dossier.id for row in rows]
        assert sooner in ids and later in ids and ids.index(sooner) < ids.index(later)
        dues = [row.dossier.current_step_due_at for row in rows]
        assert dues == sorted(dues)
        assert not task_queue(desk, unit.actor("fees"), QueueFilter(), limit=500)
        # The case officer's step has 13 of the 24 hours: due Tue 16:30 and Wed 16:30.
        desk = unit.desk(session, datetime(2019, 3, 27, 10, 0, tzinfo=VN_TZ))
        overdue = task_queue(desk, unit.actor("officer2"), QueueFilter(due="overdue"), limit=500)
        overdue_ids = [row.dossier.id for row in overdue]
        assert sooner in overdue_ids and later not in overdue_ids
        assert all(r.marker == "overdue" for r in overdue)
        soon = task_queue(desk, unit.actor("officer2"), QueueFilter(due="soon"), limit=500)
        assert later in [row.dossier.id for row in soon] and all(r.marker == "soon" for r in soon)


def test_a_dossier_cannot_be_handed_to_someone_who_may_not_take_the_step(unit):
    dossier_id = receive(unit)
    with pytest.raises(InvalidAssignee) as refused:
        act(unit, "transfer", dossier_id, "counter", at(1), to_account_id=unit.accounts["head"].id)
    assert refused.value.status == 422 and "không phải cán bộ" in refused.value.vi
    assert get(unit, dossier_id).status == RECEIVED
    act(unit, "transfer", dossier_id, "counter", at(1), to_account_id=unit.accounts["officer"].id)
    assert get(unit, dossier_id).current_account_id == unit.accounts["officer"].id


def test_heads_reassign_and_the_holder_hands_back_to_the_pool(unit):
    dossier_id = processing(unit)
    act(unit, "claim", dossier_id, "officer", at(1))
    with pytest.raises(Forbidden):  # a colleague may not take it over
        act(unit, "reassign", dossier_id, "officer2", at(1), to_account_id=unit.accounts["officer2"].id)
    act(unit, "reassign", dossier_id, "head_div", at(2), to_account_id=unit.accounts["officer2"].id)
    assert get(unit, dossier_id).current_account_id == unit.accounts["officer2"].id
    with pytest.raises(Forbidden):
        act(unit, "forward", dossier_id, "officer", at(2))
    act(unit, "reassign", dossier_id, "officer2", at(3))  # the holder puts it back
    assert get(unit, dossier_id).current_account_id is None
    with pytest.raises(InvalidAssignee):  # the signer may not do the appraisal
        act(unit, "reassign", dossier_id, "head_div", at(3), to_account_id=unit.accounts["head"].id)
    assert [a.action for a in actions_of(unit, dossier_id)][-3:] == ["claim", "reassign", "reassign"]
