"""The dossier pages over real HTTP: intake, queue, search, the dossier page, documents, tenancy."""

from __future__ import annotations

import io
import re
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.calendar.workcal import VN_TZ
from app.dossiers import actions, intake
from app.dossiers.intake import Applicant
from app.dossiers.models import Dossier, FormDocument
from app.dossiers.status import PROCESSING, RECEIVED, SUPPLEMENT
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import csrf_from, login

BASE = "/backoffice/dossiers"
STALE = "Hồ sơ vừa được người khác cập nhật"
WRONG = "Email hoặc mật khẩu không đúng."


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def other(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


def now() -> datetime:
    return datetime.now(VN_TZ)


def token() -> str:
    """A word no other dossier's search text holds, so a filter shows exactly this test's rows."""
    return "Thu" + uuid.uuid4().hex[:10]


def signed_in(client_for, unit, who: str):
    client = client_for(unit.tenant)
    assert login(client, unit.accounts[who].email).status_code == 302
    return client


def receive(unit, at: datetime | None = None, name: str = "Nguyễn Thị Hương", **overrides) -> int:
    applicant = Applicant(name=name, phone="0912345678", id_type="cccd", id_number="031190001234")
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at or now())
        dossier = intake.receive_at_counter(
            desk, unit.actor("counter"), unit.intake(applicant=applicant, **overrides)
        )
        return dossier.id


def act(unit, name: str, dossier_id: int, who: str, at: datetime | None = None, **kwargs):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, at or now())
        return getattr(actions, name)(desk, unit.actor(who), actions.load(desk, dossier_id), **kwargs)


def get(unit, dossier_id: int) -> Dossier:
    with unit.session() as session:
        return session.get(Dossier, dossier_id)


def count_dossiers(unit) -> int:
    with unit.session() as session:
        return session.scalar(select(func.count()).select_from(Dossier))


def row_of(html: str, code: str) -> str:
    """The table row that shows ``code``."""
    match = re.search(r"<tr>(?:(?!</tr>).)*" + re.escape(code) + r"(?:(?!</tr>).)*</tr>", html, re.S)
    assert match, f"{code} not listed"
    return match.group(0)


def post_action(client, dossier_id: int, action: str, version: int, **fields):
    data = {"csrf_token": csrf_from(client, f"{BASE}/{dossier_id}"), "row_version": str(version), **fields}
    return client.post(f"{BASE}/{dossier_id}/actions/{action}", data=data)


# --- counter intake ------------------------------------------------------------------------------


def intake_form(unit, name: str, components: list[int], **extra) -> dict:
    data = {
        "procedure_id": str(unit.procedure_id),
        "applicant.type": "citizen",
        "applicant.name": name,
        "applicant.id_type": "cccd",
        "applicant.id_number": "031190009999",
        "applicant.phone": "0987 654 321",
        "applicant.email": "huong@example.vn",
        "applicant.address": "12 Lê Lợi, Ngô Quyền",
        "components": [str(c) for c in components],
        "number_of_sets": "1",
        "result_delivery": "counter",
    }
    data.update({f"quantity_{c}": "1" for c in components})
    data.update(extra)
    return data


def test_intake_finds_the_procedure_and_receives_a_dossier(client_for, unit):
    client = signed_in(client_for, unit, "counter")
    for q in ("hon nhan", "Hôn Nhân", "1.004873"):
        found = client.get(f"{BASE}/intake", query_string={"q": q})
        assert found.status_code == 200 and "Xác nhận tình trạng hôn nhân" in found.text, q
    assert "Không tìm thấy thủ tục" in client.get(f"{BASE}/intake?q=khai+sinh").text
    form = client.get(f"{BASE}/intake?procedure_id={unit.procedure_id}")
    assert form.status_code == 200
    assert "Tờ khai xác nhận tình trạng hôn nhân" in form.text and "Giấy ủy quyền" in form.text
    assert form.text.count("(bắt buộc)") == 2  # the two mandatory documents are marked
    assert 'value="postal"' in form.text  # only the procedure's delivery options are offered

    name = f"Phạm Văn {token()}"
    token_value = csrf_from(client, f"{BASE}/intake?procedure_id={unit.procedure_id}")
    sent = client.post(
        f"{BASE}/intake", data=intake_form(unit, name, unit.components[:2], csrf_token=token_value)
    )
    assert sent.status_code == 302
    dossier_id = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    dossier = get(unit, dossier_id)
    assert dossier.applicant_name == name and dossier.status == RECEIVED
    assert dossier.applicant_phone == "0987654321" and dossier.channel == 1
    page = client.get(sent.headers["Location"])
    assert f"Đã tiếp nhận hồ sơ {dossier.code}" in page.text
    with unit.session() as session:
        form01 = session.scalar(select(FormDocument).where(FormDocument.dossier_id == dossier_id))
    assert f"{BASE}/{dossier_id}/forms/{form01.id}" in page.text and "Mẫu 01" in page.text


def test_intake_missing_mandatory_document_is_422_with_every_message(client_for, unit):
    client = signed_in(client_for, unit, "counter")
    before = count_dossiers(unit)
    token_value = csrf_from(client, f"{BASE}/intake?procedure_id={unit.procedure_id}")
    data = intake_form(unit, "Lê Văn Tám", unit.components[:1], csrf_token=token_value)
    data["applicant.phone"] = "12ab"
    refused = client.post(f"{BASE}/intake", data=data)
    assert refused.status_code == 422
    assert "thiếu thành phần bắt buộc: Giấy tờ tùy thân" in refused.text
    assert 'id="err-components"' in refused.text and 'id="err-applicant.phone"' in refused.text
    assert 'value="Lê Văn Tám"' in refused.text  # what was typed is kept
    assert count_dossiers(unit) == before
    # The same form with the document ticked and a good phone goes through: the 422 was theirs.
    data.update({"applicant.phone": "0912000111", "components": [str(c) for c in unit.components[:2]]})
    data[f"quantity_{unit.components[1]}"] = "1"
    assert client.post(f"{BASE}/intake", data=data).status_code == 302
    assert count_dossiers(unit) == before + 1


def test_unreadable_quantity_is_422_and_writes_nothing(client_for, unit):
    client = signed_in(client_for, unit, "counter")
    before = count_dossiers(unit)
    token_value = csrf_from(client, f"{BASE}/intake?procedure_id={unit.procedure_id}")
    data = intake_form(unit, "Lê Văn Chín", unit.components[:2], csrf_token=token_value)
    data[f"quantity_{unit.components[0]}"] = "hai"
    refused = client.post(f"{BASE}/intake", data=data)
    assert refused.status_code == 422 and "số lượng phải là số nguyên" in refused.text
    assert count_dossiers(unit) == before


def test_a_case_officer_cannot_use_intake(client_for, unit):
    client = signed_in(client_for, unit, "officer")
    assert client.get(f"{BASE}/intake").status_code == 403
    before = count_dossiers(unit)
    token_value = csrf_from(client, f"{BASE}/queue")
    data = intake_form(unit, "Không Được", unit.components[:2], csrf_token=token_value)
    assert client.post(f"{BASE}/intake", data=data).status_code == 403
    assert count_dossiers(unit) == before
    assert f'href="{BASE}/intake"' not in client.get(f"{BASE}/queue").text  # not in the menu either


def test_intake_without_session_goes_to_login(client_for, unit):
    response = client_for(unit.tenant).get(f"{BASE}/intake")
    assert response.status_code == 302 and response.headers["Location"].startswith("/backoffice/login")


# --- queue and search ----------------------------------------------------------------------------------


def test_queue_shows_the_role_pool_sorted_with_markers(client_for, unit):
    word = token()
    overdue = receive(unit, now() - timedelta(days=30), name=f"Quá Hạn {word}")
    act(unit, "transfer", overdue, "counter", now() - timedelta(days=30) + timedelta(minutes=30))
    later = receive(unit, now() + timedelta(days=30), name=f"Còn Lâu {word}")
    act(unit, "transfer", later, "counter", now() + timedelta(days=30, minutes=30))
    held = receive(unit, name=f"Vừa Nhận {word}")  # the counter's own reception step: due within hours

    officer = signed_in(client_for, unit, "officer2")
    page = officer.get(f"{BASE}/queue", query_string={"q": word})
    assert page.status_code == 200
    codes = {d: get(unit, d).code for d in (overdue, later, held)}
    assert codes[held] not in page.text  # not in the case officers' pool
    assert page.text.index(codes[overdue]) < page.text.index(codes[later])
    overdue_row, later_row = row_of(page.text, codes[overdue]), row_of(page.text, codes[later])
    assert "Quá hạn" in overdue_row and "Đang xử lý" in overdue_row and "Thẩm định" in overdue_row
    assert "chờ nhận xử lý" in overdue_row
    assert "Quá hạn" not in later_row and "Sắp đến hạn" not in later_row
    assert "Số hồ sơ: 2" in page.text

    counter = signed_in(client_for, unit, "counter")
    mine = counter.get(f"{BASE}/queue", query_string={"q": word}).text
    assert "Sắp đến hạn" in row_of(mine, codes[held]) and codes[overdue] not in mine
    english = officer.get(f"{BASE}/queue", query_string={"q": word, "lang": "en"}).text
    assert "Overdue" in row_of(english, codes[overdue]) and "My task queue" in english


def test_queue_filters_and_search_box(client_for, unit):
    word = token()
    overdue = receive(unit, now() - timedelta(days=30), name=f"Lọc Một {word}")
    act(unit, "transfer", overdue, "counter", now() - timedelta(days=30) + timedelta(minutes=30))
    later = receive(unit, now() + timedelta(days=30), name=f"Lọc Hai {word}")
    act(unit, "transfer", later, "counter", now() + timedelta(days=30, minutes=30))
    act(unit, "request_supplement", later, "officer", now() + timedelta(days=30, hours=1), items=["Tờ khai"])
    code_overdue, code_later = get(unit, overdue).code, get(unit, later).code
    client = signed_in(client_for, unit, "officer")

    def listed(**args) -> tuple[bool, bool]:
        text = client.get(f"{BASE}/queue", query_string={"q": word, **args}).text
        return code_overdue in text, code_later in text

    assert listed() == (True, True)
    assert listed(due="overdue") == (True, False)
    assert listed(status=str(SUPPLEMENT)) == (False, True)
    assert listed(status=str(PROCESSING)) == (True, False)
    assert listed(channel="2") == (False, False) and listed(channel="1") == (True, True)
    assert listed(procedure_id=str(unit.procedure_id)) == (True, True)
    assert listed(procedure_id="999999") == (False, False)
    assert listed(status="nonsense", due="whenever") == (True, True)  # senseless filters are ignored
    by_code = client.get(f"{BASE}/queue", query_string={"q": code_overdue}).text
    assert code_overdue in by_code and code_later not in by_code
    by_name = client.get(f"{BASE}/queue", query_string={"q": f"loc mot {word}"}).text
    assert code_overdue in by_name and code_later not in by_name


def test_queue_pages_by_twenty_keeping_filters(client_for, unit):
    word = token()
    start = now() - timedelta(days=60)
    ids = [receive(unit, start + timedelta(minutes=i), name=f"Trang {word}") for i in range(21)]
    client = signed_in(client_for, unit, "counter")
    first = client.get(f"{BASE}/queue", query_string={"q": word}).text
    assert "Số hồ sơ: 21" in first and "trang 1/2" in first
    assert first.count(f"Trang {word}") == 20
    link = re.search(r'href="([^"]*page=2[^"]*)" rel="next"', first).group(1).replace("&amp;", "&")
    assert f"q={word}" in link
    second = client.get(link).text
    assert second.count(f"Trang {word}") == 1 and get(unit, ids[-1]).code in second


def test_search_by_code_name_phone_and_id(client_for, unit):
    word = token()
    dossier_id = receive(unit, name=f"Đặng Thị {word}")
    code = get(unit, dossier_id).code
    client = signed_in(client_for, unit, "officer")
    for q in (code, f"dang thi {word}", f"Đặng Thị {word}"):
        assert code in client.get(f"{BASE}/search", query_string={"q": q}).text, q
    with unit.session() as session, session.begin():
        row = session.get(Dossier, dossier_id)
        row.applicant_phone, row.applicant_id_number = "0900111222", "031199887766"
        row.search_text = intake.search_text(row)
    for q in ("0900111222", "031199887766"):
        assert code in client.get(f"{BASE}/search", query_string={"q": q}).text, q
    assert "Không tìm thấy hồ sơ" in client.get(f"{BASE}/search", query_string={"q": token()}).text


# --- the dossier page ---------------------------------------------------------------------------------


def test_dossier_page_explains_the_due_date_lists_history_and_only_allowed_actions(client_for, unit):
    dossier_id = receive(unit)
    act(unit, "transfer", dossier_id, "counter")
    officer = signed_in(client_for, unit, "officer")
    page = officer.get(f"{BASE}/{dossier_id}")
    assert page.status_code == 200
    assert "Cách tính hạn trả kết quả" in page.text
    assert "Thời hạn giải quyết: 3 ngày làm việc" in page.text and "Hạn trả kết quả:" in page.text
    history = page.text.split('id="h-history"')[1]
    assert "Tiếp nhận tại quầy (mẫu 01)" in history and "Chuyển xử lý" in history
    assert "Được tiếp nhận → Đang xử lý" in history
    assert "Nguyễn Thị Hương" in page.text and "031190001234" in page.text
    forms = set(re.findall(rf"{BASE}/{dossier_id}/actions/(\w+)", page.text))
    assert {"claim", "forward", "request_supplement", "request_payment"} <= forms
    assert not forms & {"withdraw", "complete", "return_result", "transfer", "stop", "apologise"}
    assert "chờ trong nhóm vai trò" in page.text
    assert 'id="h-interop"' not in page.text  # never at another unit: no liên thông panel

    counter = signed_in(client_for, unit, "counter")
    counter_forms = set(
        re.findall(rf"{BASE}/{dossier_id}/actions/(\w+)", counter.get(f"{BASE}/{dossier_id}").text)
    )
    assert "withdraw" in counter_forms and not counter_forms & {"forward", "claim", "request_supplement"}
    english = officer.get(f"{BASE}/{dossier_id}?lang=en").text
    assert "Processing time: 3 working days" in english and "How the due date was set" in english


def test_acting_through_the_page_moves_the_dossier(client_for, unit):
    dossier_id = receive(unit)
    counter = signed_in(client_for, unit, "counter")
    page = counter.get(f"{BASE}/{dossier_id}").text
    # The counter may hand it straight to a named case officer of the next step.
    choices = page.split('id="transfer-to"')[1].split("</select>")[0]
    assert f'value="{unit.accounts["officer"].id}"' in choices
    assert f'value="{unit.accounts["head"].id}"' not in choices
    moved = post_action(
        counter,
        dossier_id,
        "transfer",
        get(unit, dossier_id).row_version,
        to_account_id=str(unit.accounts["officer"].id),
    )
    assert moved.status_code == 302 and moved.headers["Location"].endswith(f"{BASE}/{dossier_id}")
    dossier = get(unit, dossier_id)
    assert dossier.status == PROCESSING and dossier.current_account_id == unit.accounts["officer"].id
    assert "Đã thực hiện “Chuyển xử lý”" in counter.get(moved.headers["Location"]).text

    officer = signed_in(client_for, unit, "officer")
    asked = post_action(
        officer,
        dossier_id,
        "request_supplement",
        dossier.row_version,
        items="Bản sao sổ hộ khẩu\n\nẢnh 4x6",
        reason="Thiếu giấy tờ",
    )
    assert asked.status_code == 302
    assert get(unit, dossier_id).status == SUPPLEMENT
    page = officer.get(f"{BASE}/{dossier_id}").text
    assert "Bản sao sổ hộ khẩu; Ảnh 4x6" in page and "Mẫu số 02" in page


def test_bad_action_input_is_422_and_changes_nothing(client_for, unit):
    dossier_id = receive(unit)
    act(unit, "transfer", dossier_id, "counter")
    officer = signed_in(client_for, unit, "officer")
    version = get(unit, dossier_id).row_version
    refused = post_action(officer, dossier_id, "request_supplement", version, items="  \n ", reason="x")
    assert refused.status_code == 422 and "Cần liệt kê các giấy tờ cần bổ sung" in refused.text
    assert get(unit, dossier_id).status == PROCESSING and get(unit, dossier_id).row_version == version
    # Not this official's action: 403 with the reason, nothing written.
    head = signed_in(client_for, unit, "head")
    refused = post_action(head, dossier_id, "forward", version)
    assert refused.status_code == 403 and "Bạn không thể" in refused.text
    assert get(unit, dossier_id).row_version == version
    # A note longer than form 05 can hold: a field message, nothing written.
    assert post_action(officer, dossier_id, "claim", version).status_code == 302
    version = get(unit, dossier_id).row_version
    refused = post_action(officer, dossier_id, "forward", version, note="Ý kiến " * 300)
    assert refused.status_code == 422 and "dài quá 2000 ký tự" in refused.text
    assert get(unit, dossier_id).row_version == version
    # A bad date for form 04 is a field message, not a crash.
    refused = post_action(head, dossier_id, "apologise", version, new_due_date="31/02/2030", reason="Chờ")
    assert refused.status_code == 422 and "Ngày giờ hẹn mới không đúng" in refused.text


def test_form_04_date_as_written_in_vietnam_or_as_the_browser_sends_it(client_for, unit):
    dossier_id = receive(unit)
    act(unit, "transfer", dossier_id, "counter")
    later = (get(unit, dossier_id).due_at + timedelta(days=7)).astimezone(VN_TZ)
    with unit.session() as session:
        calendar = unit.desk(session).calendar
        while not calendar.is_working_day(later.date()):
            later += timedelta(days=1)
    head = signed_in(client_for, unit, "head")
    version = get(unit, dossier_id).row_version
    wrong = post_action(head, dossier_id, "apologise", version, new_due_date="2030-02-31", reason="Chờ")
    assert wrong.status_code == 422 and "dd/mm/yyyy hoặc yyyy-mm-dd" in wrong.text
    typed = later.strftime("%d/%m/%Y")  # as the error message and people write it
    done = post_action(
        head, dossier_id, "apologise", version, new_due_date=typed, new_due_time="15:30", reason="Chờ"
    )
    assert done.status_code == 302, done.text
    assert get(unit, dossier_id).rescheduled_due_at == datetime.combine(
        later.date(), datetime.min.time().replace(hour=15, minute=30), VN_TZ
    )


def test_a_stale_page_gets_409_and_no_overwrite(client_for, unit):
    dossier_id = receive(unit)
    act(unit, "transfer", dossier_id, "counter")
    first, second = signed_in(client_for, unit, "officer"), signed_in(client_for, unit, "officer2")
    seen = get(unit, dossier_id).row_version  # both officers have the page open at this version
    assert post_action(first, dossier_id, "claim", seen).status_code == 302
    after = get(unit, dossier_id)
    assert after.current_account_id == unit.accounts["officer"].id
    late = post_action(second, dossier_id, "claim", seen)
    assert late.status_code == 409 and STALE in late.text
    again = get(unit, dossier_id)
    assert again.current_account_id == unit.accounts["officer"].id and again.row_version == after.row_version
    # A form without its version is treated the same way.
    data = {"csrf_token": csrf_from(first, f"{BASE}/{dossier_id}"), "items": "Tờ khai"}
    assert first.post(f"{BASE}/{dossier_id}/actions/request_supplement", data=data).status_code == 409
    assert get(unit, dossier_id).status == PROCESSING


def test_an_action_that_changes_no_column_still_makes_other_pages_stale(client_for, unit):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now())
        draft = intake.create_draft(desk, unit.actor("counter"), unit.intake(channel=2))
        intake.submit(desk, unit.actor("counter"), draft)
        dossier_id = draft.id
    counter = signed_in(client_for, unit, "counter")
    seen = get(unit, dossier_id).row_version
    assert post_action(counter, dossier_id, "guide", seen, items="Bản sao CCCD").status_code == 302
    assert get(unit, dossier_id).row_version == seen + 1  # status 1 stays 1, but the version moved
    again = post_action(counter, dossier_id, "guide", seen, items="Bản sao CCCD")
    assert again.status_code == 409 and STALE in again.text
    with unit.session() as session:
        issued = session.scalars(select(FormDocument.form_no).where(FormDocument.dossier_id == dossier_id))
        assert list(issued) == ["02"]  # the applicant got one form 02, not two


def test_action_needs_csrf_and_a_known_action(client_for, unit):
    dossier_id = receive(unit)
    counter = signed_in(client_for, unit, "counter")
    version = str(get(unit, dossier_id).row_version)
    assert (
        counter.post(f"{BASE}/{dossier_id}/actions/transfer", data={"row_version": version}).status_code
        == 400
    )
    assert post_action(counter, dossier_id, "delete", int(version)).status_code == 404
    assert get(unit, dossier_id).status == RECEIVED


def test_viewing_the_page_writes_an_audit_row(client_for, unit):
    dossier_id = receive(unit)
    officer = signed_in(client_for, unit, "officer")
    account_id = unit.accounts["officer"].id

    def views() -> int:
        with unit.session() as session:
            return session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.entity == "dossier",
                    AuditEvent.entity_id == str(dossier_id),
                    AuditEvent.action == "view_applicant",
                    AuditEvent.actor_account_id == account_id,
                )
            )

    assert views() == 0
    officer.get(f"{BASE}/{dossier_id}")
    officer.get(f"{BASE}/{dossier_id}")
    assert views() == 2


def logbook_exports(unit, account_id: int) -> list[AuditEvent]:
    with unit.session() as session:
        query = select(AuditEvent).where(
            AuditEvent.entity == "logbook", AuditEvent.actor_account_id == account_id
        )
        return list(session.scalars(query.order_by(AuditEvent.id)))


# --- documents ----------------------------------------------------------------------------------------


def test_documents_are_pdf_and_the_logbook_exports(client_for, unit):
    dossier_id = receive(unit)
    act(unit, "transfer", dossier_id, "counter")
    with unit.session() as session:
        form01 = session.scalar(select(FormDocument).where(FormDocument.dossier_id == dossier_id))
    client = signed_in(client_for, unit, "counter")
    pdf = client.get(f"{BASE}/{dossier_id}/forms/{form01.id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data[:4] == b"%PDF"
    assert pdf.headers["Content-Disposition"].startswith("inline; filename=")
    slip = client.get(f"{BASE}/{dossier_id}/tracking-slip")
    assert slip.status_code == 200 and slip.data[:4] == b"%PDF"
    today = now().date().isoformat()
    exports = logbook_exports(unit, unit.accounts["counter"].id)
    book = client.get(f"{BASE}/logbook", query_string={"from": today, "to": today})
    assert book.status_code == 200 and book.data[:4] == b"%PDF"
    xlsx = client.get(f"{BASE}/logbook", query_string={"from": today, "to": today, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert xlsx.headers["Content-Disposition"].startswith("attachment; filename=")
    # Each export holds every applicant of the period: each is on record, by whom and for which days.
    logged = logbook_exports(unit, unit.accounts["counter"].id)[len(exports) :]
    assert [(e.action, e.entity_id) for e in logged] == [
        ("export_pdf", f"{today}..{today}"),
        ("export_xlsx", f"{today}..{today}"),
    ]
    assert logged[0].data["rows"] >= 1
    assert client.get(f"{BASE}/logbook", query_string={"from": today, "to": "2000-01-01"}).status_code == 422
    # A form of another dossier is not this dossier's: 404.
    other_id = receive(unit)
    assert client.get(f"{BASE}/{other_id}/forms/{form01.id}").status_code == 404
    assert signed_in(client_for, unit, "officer").get(f"{BASE}/logbook").status_code == 403


# --- tenancy ------------------------------------------------------------------------------------------


def test_an_official_of_a_never_reaches_b_dossiers(client_for, platform, city, other):
    a = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    word = token()
    own = receive(a, name=f"Của A {word}")
    b_id = receive(other, name=f"Của B {word}")
    while get(a, b_id) is not None:  # an id that exists only in B
        b_id = receive(other, name=f"Của B {word}")
    b_code = get(other, b_id).code
    version = get(other, b_id).row_version
    with other.session() as session:
        b_form = session.scalar(select(FormDocument.id).where(FormDocument.dossier_id == b_id))

    # On B's host: A's official is known to the provider but B's back office does not let them in.
    on_b = client_for(other.tenant)
    assert login(on_b, a.accounts["counter"].email).status_code == 302
    assert on_b.get(f"{BASE}/{b_id}").status_code == 403
    assert on_b.get(f"{BASE}/{b_id}/forms/{b_form}").status_code == 403

    # On A's host: B's id is simply not a dossier of A.
    client = signed_in(client_for, a, "counter")
    assert client.get(f"{BASE}/{b_id}").status_code == 404
    assert client.get(f"{BASE}/{b_id}/forms/{b_form}").status_code == 404
    assert client.get(f"{BASE}/{b_id}/tracking-slip").status_code == 404
    token_value = csrf_from(client, f"{BASE}/{own}")
    acted = client.post(
        f"{BASE}/{b_id}/actions/withdraw", data={"csrf_token": token_value, "row_version": str(version)}
    )
    assert acted.status_code == 404 and get(other, b_id).status == RECEIVED
    for path in ("queue", "search"):
        for q in (word, b_code):
            text = client.get(f"{BASE}/{path}", query_string={"q": q}).text
            listed = text.replace(f'value="{q}"', "")  # the search box shows what was typed
            assert b_code not in listed and "Của B" not in listed, (path, q)
            # The same word finds A's own dossier: the pages did search, B's rows are just not there.
            assert (get(a, own).code in listed) == (q == word), (path, q)


def test_the_whole_way_through_the_pages(client_for, unit):
    dossier_id = receive(unit)

    def step(who: str, action: str, **fields) -> Dossier:
        client = signed_in(client_for, unit, who)
        response = post_action(client, dossier_id, action, get(unit, dossier_id).row_version, **fields)
        assert response.status_code == 302, response.text
        return get(unit, dossier_id)

    step("counter", "transfer")
    step("officer", "claim")
    step("officer", "forward", to_account_id=str(unit.accounts["head_div"].id), note="Đủ điều kiện")
    later = (get(unit, dossier_id).due_at + timedelta(days=7)).astimezone(VN_TZ)
    with unit.session() as session:
        calendar = unit.desk(session).calendar
        while not calendar.is_working_day(later.date()):  # form 04 needs a working day
            later += timedelta(days=1)
    dossier = step(
        "head",
        "apologise",
        new_due_date=later.date().isoformat(),
        new_due_time="16:00",
        reason="Chờ xác minh",
    )
    assert dossier.rescheduled_due_at == datetime.combine(
        later.date(), datetime.min.time().replace(hour=16), VN_TZ
    )
    step("head_div", "forward")
    head = signed_in(client_for, unit, "head")
    page = head.get(f"{BASE}/{dossier_id}").text
    assert f"{BASE}/{dossier_id}/actions/complete" in page and "/actions/forward" not in page
    assert "Ngày hẹn lại (Mẫu 04)" in page and "Hẹn lại ngày trả kết quả (Mẫu số 04)" in page
    dossier = step("head", "complete")
    assert dossier.status == 9
    dossier = step("counter", "return_result", note="Đã trao tận tay")
    assert dossier.status == 10 and dossier.returned_at is not None
    final = signed_in(client_for, unit, "counter").get(f"{BASE}/{dossier_id}").text
    assert "Bạn không có thao tác nào" in final and "Đã trả kết quả" in final


def test_an_online_dossier_is_guided_then_accepted_at_the_counter(client_for, unit):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now())
        draft = intake.create_draft(
            desk, unit.actor("counter"), unit.intake(channel=2, components={}, result_delivery="online")
        )
        for component in page_components(session, draft.id):
            component.is_received = True
        intake.submit(desk, unit.actor("counter"), draft)
        dossier_id = draft.id
    counter = signed_in(client_for, unit, "counter")
    offered = set(re.findall(rf"{BASE}/{dossier_id}/actions/(\w+)", counter.get(f"{BASE}/{dossier_id}").text))
    assert offered == {"accept", "guide", "refuse", "withdraw"}
    guided = post_action(
        counter, dossier_id, "guide", get(unit, dossier_id).row_version, items="Bản sao CCCD"
    )
    assert guided.status_code == 302 and get(unit, dossier_id).status == 1
    # Unticking a mandatory document refuses acceptance and keeps status 1.
    mandatory, second, optional = unit.components
    refused = post_action(
        counter,
        dossier_id,
        "accept",
        get(unit, dossier_id).row_version,
        components=[str(second)],
        **{f"quantity_{mandatory}": "1", f"quantity_{second}": "1", f"quantity_{optional}": "0"},
    )
    assert refused.status_code == 422 and "Thiếu thành phần bắt buộc" in refused.text
    assert get(unit, dossier_id).status == 1
    accepted = post_action(
        counter,
        dossier_id,
        "accept",
        get(unit, dossier_id).row_version,
        components=[str(mandatory), str(second)],
        **{f"quantity_{mandatory}": "1", f"quantity_{second}": "2", f"quantity_{optional}": "0"},
    )
    assert accepted.status_code == 302
    dossier = get(unit, dossier_id)
    assert dossier.status == RECEIVED and dossier.due_at is not None
    page = counter.get(f"{BASE}/{dossier_id}").text
    assert "Mẫu số 02" in page and "Mẫu số 01" in page


def page_components(session, dossier_id):
    from app.dossiers.models import DossierComponent

    return session.scalars(select(DossierComponent).where(DossierComponent.dossier_id == dossier_id))


def test_upload_a_scan_then_open_it_and_a_forged_file_is_refused(client_for, unit):
    from app.dossiers.models import DossierComponent, DossierFile
    from tests.test_uploads import png_bytes

    dossier_id = receive(unit)
    client = signed_in(client_for, unit, "counter")
    page = client.get(f"{BASE}/{dossier_id}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    with unit.session() as session:  # the dossier's own row for its first document
        component = session.scalar(
            select(DossierComponent.id).where(
                DossierComponent.dossier_id == dossier_id,
                DossierComponent.procedure_component_id == unit.components[0],
            )
        )
    version = get(unit, dossier_id).row_version
    sent = client.post(
        f"{BASE}/{dossier_id}/files",
        data={
            "csrf_token": csrf,
            "component_id": str(component),
            "file": (io.BytesIO(png_bytes()), "tờ khai.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    assert get(unit, dossier_id).row_version == version + 1  # an open page of the dossier is now stale
    forged = client.post(
        f"{BASE}/{dossier_id}/files",
        data={"csrf_token": csrf, "file": (io.BytesIO(png_bytes()), "to-khai.pdf")},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 415 and "không khớp với nội dung" in forged.text
    with unit.session() as session:
        rows = session.scalars(select(DossierFile).where(DossierFile.dossier_id == dossier_id)).all()
    assert [(r.filename, r.component_id) for r in rows] == [("tờ khai.png", component)]
    page = client.get(f"{BASE}/{dossier_id}")
    assert "tờ khai.png" in page.text
    opened = client.get(f"{BASE}/{dossier_id}/files/{rows[0].id}")
    assert opened.status_code == 200 and opened.data == png_bytes() and opened.mimetype == "image/png"
    # gunicorn writes headers as latin-1: the Vietnamese name travels RFC 5987-encoded, in ASCII.
    disposition = opened.headers["Content-Disposition"]
    assert disposition.isascii() and disposition.startswith("inline;")
    assert "filename*=UTF-8''t%E1%BB%9D%20khai.png" in disposition
    assert opened.headers["X-Content-Type-Options"] == "nosniff"
    assert opened.headers["Cache-Control"] == "no-store"
    with unit.session() as session:
        logged = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == str(dossier_id))
        ).all()
    assert f"view_file:{rows[0].id}" in logged


def test_only_counter_and_case_officers_upload(client_for, unit):
    dossier_id = receive(unit)
    client = signed_in(client_for, unit, "head")
    page = client.get(f"{BASE}/{dossier_id}")
    assert 'name="file"' not in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    refused = client.post(
        f"{BASE}/{dossier_id}/files", data={"csrf_token": csrf}, content_type="multipart/form-data"
    )
    assert refused.status_code == 403


def test_forward_can_take_a_branch_of_the_process(client_for, platform, city):
    """A case officer sends a dossier straight to signing along the process's 'refuse' branch."""
    from app.processes import services as processes
    from app.processes.models import ProcessStep

    branched = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    with branched.session() as session, session.begin():
        template_id = processes.get_version(session, branched.version_id).template_id
        draft = processes.new_draft(session, template_id)
        steps = processes.steps_as_specs(session, draft.id)
        shortcut = processes.LinkSpec("appraise", "sign", "refuse", "Đề nghị từ chối")
        links = [*processes.links_as_specs(session, draft.id), shortcut]
        processes.set_steps(session, draft.id, steps, links)
        processes.publish(session, draft.id)
    dossier_id = receive(branched)
    act(branched, "transfer", dossier_id, "counter")
    client = signed_in(client_for, branched, "officer")
    page = client.get(f"{BASE}/{dossier_id}")
    assert 'name="condition" value="refuse"' in page.text and "Ký duyệt" in page.text
    moved = post_action(
        client, dossier_id, "forward", get(branched, dossier_id).row_version, condition="refuse"
    )
    assert moved.status_code == 302
    with branched.session() as session:
        step = session.get(ProcessStep, get(branched, dossier_id).current_step_id)
    assert step.key == "sign"
