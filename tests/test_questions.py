"""Questions and petitions: public filing, deadlines, back office answering, publishing, search, isolation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from redis import Redis
from sqlalchemy import func, select

from app.calendar.workcal import VN_TZ, load_calendar
from app.feedback import questions
from app.feedback.models import Answer, Question
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import carry_session, csrf_from, login, session_cookie

ASK = "/hoi-dap/gui"
BACK = "/backoffice/questions"


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def other(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(autouse=True)
def _clear_limits(app):
    redis = Redis.from_url(app.extensions["motcua"].settings.redis_url)
    for key in redis.scan_iter("questions:*"):
        redis.delete(key)


def form(**overrides) -> dict:
    values = dict(
        kind="question",
        name="Trần Thị Mai",
        email="mai.tran@example.vn",
        phone="0987654321",
        title="Hỏi về đăng ký khai sinh",
        content="Con tôi sinh ở nước ngoài thì Đăng ký khai sinh ở đâu?",
    )
    values.update(overrides)
    return values


def ask(client, **overrides):
    token = csrf_from(client, ASK)
    return client.post(ASK, data={**form(**overrides), "csrf_token": token})


def count(unit) -> int:
    with unit.session() as session:
        return session.scalar(select(func.count()).select_from(Question))


def by_title(unit, title: str) -> Question:
    with unit.session() as session:
        return session.scalars(select(Question).where(Question.title == title)).one()


def signed_in(client_for, unit, who: str):
    client = client_for(unit.tenant)
    assert login(client, unit.accounts[who].email).status_code == 302
    return client


def answer(client, question_id: int, text: str, publish: bool):
    token = csrf_from(client, f"{BACK}/{question_id}")
    data = {"answer": text, "csrf_token": token}
    if publish:
        data["publish"] = "1"
    return client.post(f"{BACK}/{question_id}", data=data)


def test_filed_question_gets_a_working_day_deadline_and_shows_in_the_back_office(client_for, unit):
    response = ask(client_for(unit.tenant), title="Hạn trả lời câu hỏi", kind="petition")
    assert response.status_code == 200, response.text
    question = by_title(unit, "Hạn trả lời câu hỏi")
    with unit.session() as session:
        expected = questions.answer_due(load_calendar(session), question.asked_at, "petition")
    assert question.kind == "petition" and question.status == "new"
    assert question.due_at == expected
    # 15 working days span at least three weekends.
    assert question.due_at - question.asked_at >= timedelta(days=19)
    assert questions.local(question.due_at) in response.text

    page = signed_in(client_for, unit, "head_div").get(BACK)
    assert page.status_code == 200
    assert "Hạn trả lời câu hỏi" in page.text
    assert questions.local(question.due_at) in page.text


def test_back_office_sorts_by_deadline_with_markers(client_for, unit):
    now = datetime.now(VN_TZ)
    with unit.session() as session, session.begin():
        for title, due in (
            ("Còn lâu mới đến hạn", now + timedelta(days=9)),
            ("Câu hỏi đã quá hạn", now - timedelta(days=1)),
            ("Câu hỏi sắp đến hạn", now + timedelta(hours=20)),
        ):
            session.add(Question(asker_name="A", asker_phone="0911111111", title=title, body="x", due_at=due))
    text = signed_in(client_for, unit, "head").get(BACK).text
    late, soon, later = (text.index(t) for t in ("Câu hỏi đã quá hạn", "Câu hỏi sắp đến hạn", "Còn lâu mới"))
    assert late < soon < later
    assert text.count("Quá hạn") >= 1 and text.count("Sắp đến hạn") >= 1
    row_late = text[text.rindex("<tr>", 0, late) : late]
    row_soon = text[text.rindex("<tr>", 0, soon) : soon]
    row_later = text[text.rindex("<tr>", 0, later) : later]
    assert "Quá hạn" in row_late and "Sắp đến hạn" in row_soon
    assert "Quá hạn" not in row_later and "Sắp đến hạn" not in row_later


def test_published_answers_are_searchable_without_diacritics_and_without_contacts(client_for, unit):
    public = client_for(unit.tenant)
    ask(public, title="Đăng ký kết hôn cần gì", email="rieng.tu@example.vn", phone="0909123456")
    ask(public, title="Câu hỏi chưa công khai Đăng ký", email="an@example.vn")
    published = by_title(unit, "Đăng ký kết hôn cần gì")
    hidden = by_title(unit, "Câu hỏi chưa công khai Đăng ký")

    officer = signed_in(client_for, unit, "head_div")
    assert answer(officer, published.id, "Mang theo căn cước.", publish=True).status_code == 302
    assert answer(officer, hidden.id, "Trả lời nội bộ.", publish=False).status_code == 302

    found = public.get("/hoi-dap", query_string={"q": "dang ky"}).text
    assert "Đăng ký kết hôn cần gì" in found
    assert "Câu hỏi chưa công khai" not in found
    assert "Câu hỏi chưa công khai" not in public.get("/hoi-dap").text
    assert "Đăng ký kết hôn" not in public.get("/hoi-dap", query_string={"q": "khai tu"}).text
    # The answer's own words are searchable too.
    assert "Đăng ký kết hôn cần gì" in public.get("/hoi-dap", query_string={"q": "CAN CUOC"}).text

    one = public.get(f"/hoi-dap/{published.id}")
    assert one.status_code == 200 and "Mang theo căn cước." in one.text
    for page in (found, one.text):
        assert "rieng.tu@example.vn" not in page and "0909123456" not in page
        assert "Trần Thị Mai" not in page
    assert public.get(f"/hoi-dap/{hidden.id}").status_code == 404
    assert public.get("/hoi-dap/999999").status_code == 404


def test_answering_records_who_and_when_and_unpublishing_hides_it(client_for, unit):
    public = client_for(unit.tenant)
    ask(public, title="Ai trả lời câu này")
    question = by_title(unit, "Ai trả lời câu này")
    officer = signed_in(client_for, unit, "admin")
    before = datetime.now(VN_TZ)
    answer(officer, question.id, "Bản trả lời.", publish=True)
    with unit.session() as session:
        row = session.scalars(select(Answer).where(Answer.question_id == question.id)).one()
        stored = session.get(Question, question.id)
        assert row.answered_by_account_id == unit.accounts["admin"].id
        assert row.answered_at >= before - timedelta(seconds=1)
        assert row.is_published and row.published_at is not None
        assert stored.status == "answered" and stored.is_public
    assert public.get(f"/hoi-dap/{question.id}").status_code == 200
    answer(officer, question.id, "Bản trả lời sửa lại.", publish=False)
    assert public.get(f"/hoi-dap/{question.id}").status_code == 404
    with unit.session() as session:
        assert session.scalar(select(func.count()).where(Answer.question_id == question.id)) == 1


@pytest.mark.parametrize(
    ("overrides", "field_text"),
    [
        ({"email": "", "phone": ""}, "Hãy nhập email hoặc số điện thoại"),
        ({"content": "x" * 4001}, "tối đa 4000 ký tự"),
        ({"kind": "complaint"}, "Hãy chọn hỏi đáp hoặc phản ánh"),
        ({"name": ""}, "Hãy nhập họ tên"),
        ({"email": "not-an-email", "phone": ""}, "Email không hợp lệ"),
        ({"procedure_id": "987654"}, "Thủ tục không có trong danh sách"),
    ],
)
def test_bad_input_is_422_with_a_message_and_writes_nothing(client_for, unit, overrides, field_text):
    before = count(unit)
    response = ask(client_for(unit.tenant), **overrides)
    assert response.status_code == 422
    assert field_text in response.text
    assert count(unit) == before


def test_optional_procedure_is_recorded(client_for, unit):
    ask(client_for(unit.tenant), title="Hỏi kèm thủ tục", procedure_id=str(unit.procedure_id), email="")
    question = by_title(unit, "Hỏi kèm thủ tục")
    assert question.procedure_id == unit.procedure_id and question.asker_email is None


def test_submission_needs_csrf_and_is_rate_limited_per_ip(client_for, unit):
    client = client_for(unit.tenant)
    before = count(unit)
    assert client.post(ASK, data=form()).status_code == 400
    assert count(unit) == before
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    for _ in range(questions.SUBMIT_LIMIT):
        assert ask(client, title="Giới hạn gửi").status_code == 200
    limited = ask(client, title="Giới hạn gửi")
    assert limited.status_code == 429 and "quá nhiều" in limited.text
    assert count(unit) == before + questions.SUBMIT_LIMIT
    other_ip = client_for(unit.tenant)
    other_ip.environ_base["REMOTE_ADDR"] = "203.0.113.8"
    assert ask(other_ip, title="Giới hạn gửi").status_code == 200


def test_only_answering_roles_may_use_the_back_office(client_for, unit):
    ask(client_for(unit.tenant), title="Câu hỏi về quyền")
    question = by_title(unit, "Câu hỏi về quyền")
    assert client_for(unit.tenant).get(BACK).status_code == 302  # to the login page
    for who in ("counter", "officer"):
        client = signed_in(client_for, unit, who)
        assert client.get(BACK).status_code == 403
        assert client.get(f"{BACK}/{question.id}").status_code == 403
        token = csrf_from(client, "/backoffice/")
        post = client.post(f"{BACK}/{question.id}", data={"answer": "x", "publish": "1", "csrf_token": token})
        assert post.status_code == 403
        assert "Hỏi đáp, phản ánh kiến nghị" not in client.get("/backoffice/").text
    assert by_title(unit, "Câu hỏi về quyền").status == "new"
    head = signed_in(client_for, unit, "head_div")
    assert "Hỏi đáp, phản ánh kiến nghị" in head.get("/backoffice/").text
    empty = answer(head, question.id, "   ", publish=True)
    assert empty.status_code == 422 and "Hãy nhập nội dung trả lời" in empty.text
    assert by_title(unit, "Câu hỏi về quyền").status == "new"


def test_a_units_questions_never_show_on_another_units_host(client_for, unit, other):
    ask(client_for(unit.tenant), title="Chỉ của đơn vị A")
    question = by_title(unit, "Chỉ của đơn vị A")
    officer = signed_in(client_for, unit, "head")
    answer(officer, question.id, "Trả lời của A.", publish=True)
    assert "Chỉ của đơn vị A" in client_for(unit.tenant).get("/hoi-dap").text
    assert count(other) == 0

    public_b = client_for(other.tenant)
    assert "Chỉ của đơn vị A" not in public_b.get("/hoi-dap").text
    assert "Chỉ của đơn vị A" not in public_b.get("/hoi-dap", query_string={"q": "chi cua don vi"}).text
    assert public_b.get(f"/hoi-dap/{question.id}").status_code == 404

    head_b = signed_in(client_for, other, "head")
    assert "Chỉ của đơn vị A" not in head_b.get(BACK).text
    assert head_b.get(f"{BACK}/{question.id}").status_code == 404
    token = csrf_from(head_b, BACK)
    changed = head_b.post(
        f"{BACK}/{question.id}", data={"answer": "B sửa", "publish": "1", "csrf_token": token}
    )
    assert changed.status_code == 404

    # A's session carried to B's host is worth nothing.
    stolen = client_for(other.tenant)
    carry_session(session_cookie(officer), stolen)
    assert stolen.get(BACK).status_code in (302, 403)
    with unit.session() as session:
        assert session.scalars(select(Answer.body).where(Answer.question_id == question.id)).one() == (
            "Trả lời của A."
        )
