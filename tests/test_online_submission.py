"""Online submission (level 3) over real HTTP: drafts resumed on another device, files, submission,
idempotency, nothing lost on refusal, supplement answered online, and who may see what."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure, ProcedureCase, ProcedureComponent
from app.core.storage import get_storage
from app.dossiers import actions, intake, online
from app.dossiers.citizen_models import CitizenDossier
from app.dossiers.desk import Actor
from app.dossiers.models import Dossier, DossierAction, DossierFile, DossierPause
from app.dossiers.online_models import OnlineDraft, OnlineDraftFile
from app.dossiers.status import PROCESSING, SUBMITTED, SUPPLEMENT
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import login, make_account, sign_in_directly
from tests.test_uploads import pdf_bytes, png_bytes

CSRF = "test-csrf-token"


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def other(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture
def citizen(platform):
    return make_account(platform)


@pytest.fixture
def browser(client_for, unit, citizen):
    client = client_for(unit.tenant)
    sign_in_directly(client, citizen, unit.tenant)
    return client


def start_url(unit) -> str:
    return f"/thu-tuc/{unit.procedure_id}/nop-truc-tuyen"


def form(unit, op="save", files=(), **fields) -> dict:
    data = {
        "csrf_token": CSRF,
        "op": op,
        "applicant.type": "citizen",
        "applicant.name": "Trần Thị Mai",
        "applicant.phone": "0912345678",
        "applicant.id_type": "cccd",
        "applicant.id_number": "031190001234",
        "applicant.address": "Số 5 Lạch Tray",
        "result_delivery": "counter",
        "number_of_sets": "1",
    }
    data.update(fields)
    for index, (name, content) in files:
        data.setdefault(f"file_{unit.components[index]}", []).append((io.BytesIO(content), name))
    return data


def post(client, url, data):
    return client.post(url, data=data, content_type="multipart/form-data")


def draft_id_of(response) -> int:
    return int(re.search(r"/ho-so-nhap/(\d+)", response.headers["Location"]).group(1))


def dossier_id_of(response) -> int:
    return int(re.search(r"/ho-so-cua-toi/(\d+)", response.headers["Location"]).group(1))


BOTH = ((0, ("to-khai.pdf", pdf_bytes())), (1, ("cccd.png", png_bytes())))


def test_the_form_is_prefilled_from_the_account_and_labelled(browser, unit, citizen):
    page = browser.get(start_url(unit))
    assert page.status_code == 200
    assert citizen.full_name in page.text and citizen.email in page.text
    assert 'name="csrf_token"' in page.text
    for field in re.findall(r'<input id="([^"]+)"', page.text):
        assert f'for="{field}"' in page.text, field
    assert "bưu chính" in page.text  # postal choice says fulfilment comes later
    assert "tối đa 10 MB" in page.text


def test_the_procedure_page_links_to_the_form(client_for, unit):
    page = client_for(unit.tenant).get(f"/thu-tuc/{unit.procedure_id}")
    assert f'href="{start_url(unit)}"' in page.text


def test_signing_in_is_needed(client_for, unit):
    response = client_for(unit.tenant).get(start_url(unit))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dang-nhap?next=/thu-tuc/")


def test_csrf_is_checked(browser, unit):
    response = post(browser, start_url(unit), form(unit, csrf_token="wrong"))
    assert response.status_code == 400


def test_a_draft_saved_here_resumes_on_another_device(browser, client_for, unit, citizen, platform):
    saved = post(
        browser, start_url(unit), form(unit, files=[BOTH[0]], **{"applicant.address": "Ngõ 12 Cát Bi"})
    )
    assert saved.status_code == 303
    draft_id = draft_id_of(saved)
    phone = client_for(unit.tenant)
    sign_in_directly(phone, citizen, unit.tenant)
    page = phone.get(f"/ho-so-nhap/{draft_id}")
    assert page.status_code == 200
    assert "Ngõ 12 Cát Bi" in page.text and "to-khai.pdf" in page.text
    with unit.session() as session:
        draft = session.get(OnlineDraft, draft_id)
        assert draft.owner_account_id == citizen.id and draft.dossier_id is None
    with platform.shards.platform_session() as session:
        row = session.scalar(select(CitizenDossier).where(CitizenDossier.draft_reference == draft.reference))
        assert row.account_id == citizen.id and row.dossier_code is None


def test_submission_makes_an_online_dossier_waiting_for_the_counter(
    browser, client_for, unit, citizen, platform
):
    response = post(browser, start_url(unit), form(unit, op="submit", files=BOTH))
    assert response.status_code == 303, response.text
    dossier_id = dossier_id_of(response)
    with unit.session() as session:
        dossier = session.get(Dossier, dossier_id)
        assert (dossier.status, dossier.channel, dossier.citizen_account_id) == (SUBMITTED, 2, citizen.id)
        assert dossier.code.startswith(unit.tenant.unit_code)
        assert dossier.received_at is None and dossier.due_at is None  # the clock starts at acceptance
        files = session.scalars(select(DossierFile).where(DossierFile.dossier_id == dossier_id)).all()
        assert sorted(f.filename for f in files) == ["cccd.png", "to-khai.pdf"]
        assert all(f.component_id is not None for f in files)
        code = dossier.code
    with platform.shards.platform_session() as session:
        row = session.scalar(
            select(CitizenDossier).where(
                CitizenDossier.dossier_id == dossier_id, CitizenDossier.tenant_id == unit.tenant.id
            )
        )
        assert (row.account_id, row.tenant_id, row.dossier_code) == (citizen.id, unit.tenant.id, code)
    page = browser.get(f"/ho-so-cua-toi/{dossier_id}")
    assert page.status_code == 200 and code in page.text and "Mới đăng ký" in page.text
    # The counter finds it in the back office and accepts it from the dossier page.
    office = client_for(unit.tenant)
    assert login(office, unit.accounts["counter"].email).status_code == 302
    assert code in office.get("/backoffice/dossiers/search", query_string={"q": code}).text
    assert code in office.get("/backoffice/dossiers/queue", query_string={"status": 1}).text  # waits for them
    assert "Tiếp nhận" in office.get(f"/backoffice/dossiers/{dossier_id}").text


def test_a_refused_submission_keeps_the_draft_and_its_files(browser, unit):
    response = post(
        browser,
        start_url(unit),
        form(unit, op="submit", files=[BOTH[0]], **{"applicant.address": "Giữ lại địa chỉ này"}),
    )
    assert response.status_code == 422
    assert "Giấy tờ tùy thân" in response.text  # the missing mandatory document is named
    assert 'id="error-summary"' in response.text
    draft_id = int(re.search(r'action="/ho-so-nhap/(\d+)"', response.text).group(1))
    with unit.session() as session:
        draft = session.get(OnlineDraft, draft_id)
        assert draft.status == "open" and draft.applicant["address"] == "Giữ lại địa chỉ này"
        names = session.scalars(select(OnlineDraftFile.filename).where(OnlineDraftFile.draft_id == draft_id))
        assert list(names) == ["to-khai.pdf"]
        assert (
            session.scalar(
                select(func.count())
                .select_from(Dossier)
                .where(Dossier.citizen_account_id == draft.owner_account_id)
            )
            == 0
        )
    # Adding the missing file and submitting again works.
    done = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit", files=[BOTH[1]]))
    assert done.status_code == 303 and "/ho-so-cua-toi/" in done.headers["Location"]


def test_invalid_applicant_data_is_refused_per_field_and_kept(browser, unit):
    response = post(
        browser, start_url(unit), form(unit, op="submit", files=BOTH, **{"applicant.phone": "12ab"})
    )
    assert response.status_code == 422
    assert "số điện thoại" in response.text and 'aria-invalid="true"' in response.text
    assert 'value="12ab"' in response.text


def test_a_file_of_the_wrong_type_is_refused_and_the_rest_is_kept(browser, unit):
    response = post(
        browser, start_url(unit), form(unit, files=[(0, ("gia.pdf", b"not a pdf at all")), BOTH[1]])
    )
    assert response.status_code == 422
    assert "gia.pdf" in response.text and "PDF, JPEG, PNG, DOCX" in response.text
    assert "cccd.png" in response.text  # the good file was kept


def test_submitting_the_same_draft_twice_makes_one_dossier(browser, unit, citizen):
    saved = post(browser, start_url(unit), form(unit, files=BOTH))
    draft_id = draft_id_of(saved)
    first = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit"))
    second = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit"))
    assert first.status_code == second.status_code == 303
    assert dossier_id_of(first) == dossier_id_of(second)
    with unit.session() as session, session.begin():
        desk = unit.desk(session)
        again = online.submit_draft(desk, Actor.applicant(citizen.id), draft_id)
        assert again.id == dossier_id_of(first)
        assert (
            session.scalar(
                select(func.count()).select_from(Dossier).where(Dossier.citizen_account_id == citizen.id)
            )
            == 1
        )


def test_postal_delivery_needs_an_address_and_is_stored(browser, unit):
    refused = post(browser, start_url(unit), form(unit, op="submit", files=BOTH, result_delivery="postal"))
    assert refused.status_code == 422 and "địa chỉ nhận kết quả" in refused.text
    draft_id = int(re.search(r'action="/ho-so-nhap/(\d+)"', refused.text).group(1))
    fields = {
        "result_delivery": "postal",
        "postal_recipient": "Trần Thị Mai",
        "postal_phone": "0912345678",
        "postal_address": "Số 5 Lạch Tray, Ngô Quyền",
    }
    done = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit", **fields))
    assert done.status_code == 303
    with unit.session() as session:
        draft = session.get(OnlineDraft, draft_id)
        assert draft.postal_address == "Số 5 Lạch Tray, Ngô Quyền"
        assert session.get(Dossier, draft.dossier_id).result_delivery == "postal"


def test_a_procedure_not_offered_online_is_refused(browser, unit):
    with unit.session() as session, session.begin():
        session.get(Procedure, unit.procedure_id).service_level = 2
    try:
        assert browser.get(start_url(unit)).status_code == 409
    finally:
        with unit.session() as session, session.begin():
            session.get(Procedure, unit.procedure_id).service_level = 3


def test_a_draft_can_be_deleted(browser, unit):
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit)))
    assert post(browser, f"/ho-so-nhap/{draft_id}", {"csrf_token": CSRF, "op": "delete"}).status_code == 303
    assert browser.get(f"/ho-so-nhap/{draft_id}").status_code == 404


def test_nobody_else_sees_my_draft_or_dossier(browser, client_for, unit, other, platform):
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit, files=BOTH)))
    dossier_response = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit"))
    dossier_id = dossier_id_of(dossier_response)
    submitted_page = browser.get(f"/ho-so-cua-toi/{dossier_id}")
    file_id = int(re.search(rf"/ho-so-cua-toi/{dossier_id}/tep/(\d+)", submitted_page.text).group(1))
    assert browser.get(f"/ho-so-cua-toi/{dossier_id}/tep/{file_id}").status_code == 200
    second_draft = draft_id_of(post(browser, start_url(unit), form(unit)))
    paths = (
        f"/ho-so-nhap/{second_draft}",
        f"/ho-so-cua-toi/{dossier_id}",
        f"/ho-so-cua-toi/{dossier_id}/tep/{file_id}",
    )
    # Another citizen on the same unit.
    stranger = client_for(unit.tenant)
    sign_in_directly(stranger, make_account(platform), unit.tenant)
    for path in paths:
        assert stranger.get(path).status_code == 404, path
    assert post(stranger, f"/ho-so-nhap/{second_draft}", form(unit)).status_code == 404
    # The same citizen on another unit's host.
    with unit.session() as session:
        owner = session.get(OnlineDraft, second_draft).owner_account_id
    from app.auth.models import Account

    with platform.shards.platform_session() as session:
        account = session.get(Account, owner)
    elsewhere = client_for(other.tenant)
    sign_in_directly(elsewhere, account, other.tenant)
    for path in paths:
        assert elsewhere.get(path).status_code == 404, path


def _to_supplement(unit, dossier_id: int) -> None:
    """The counter accepts, transfers; the case officer asks for more documents (form 02)."""
    with unit.session() as session, session.begin():
        desk = unit.desk(session)
        dossier = actions.load(desk, dossier_id)
        intake.accept(desk, unit.actor("counter"), dossier)
        actions.transfer(desk, unit.actor("counter"), dossier, to_account_id=unit.accounts["officer"].id)
        actions.request_supplement(
            desk, unit.actor("officer"), dossier, items=["Bản sao sổ hộ khẩu có chứng thực"]
        )


def test_a_supplement_request_is_answered_online_and_the_clock_resumes(browser, unit):
    dossier_id = dossier_id_of(post(browser, start_url(unit), form(unit, op="submit", files=BOTH)))
    _to_supplement(unit, dossier_id)
    with unit.session() as session:
        due_before = session.get(Dossier, dossier_id).due_at
    page = browser.get(f"/ho-so-cua-toi/{dossier_id}")
    assert "Bản sao sổ hộ khẩu có chứng thực" in page.text and "Gửi giấy tờ bổ sung" in page.text
    component_id = int(re.search(r'name="file_(\d+)"', page.text).group(1))
    empty = browser.post(f"/ho-so-cua-toi/{dossier_id}/bo-sung", data={"csrf_token": CSRF})
    assert empty.status_code == 422 and "ít nhất một tệp" in empty.text
    answered = post(
        browser,
        f"/ho-so-cua-toi/{dossier_id}/bo-sung",
        {
            "csrf_token": CSRF,
            "note": "Đã bổ sung",
            f"file_{component_id}": (io.BytesIO(pdf_bytes()), "ho-khau.pdf"),
        },
    )
    assert answered.status_code == 303
    with unit.session() as session:
        dossier = session.get(Dossier, dossier_id)
        assert dossier.status == PROCESSING
        assert dossier.due_at >= due_before  # moved by the working time paused, never restarted
        pause = session.scalar(select(DossierPause).where(DossierPause.dossier_id == dossier_id))
        assert pause.ended_at is not None
        row = session.scalar(
            select(DossierAction).where(
                DossierAction.dossier_id == dossier_id, DossierAction.action == "receive_supplement"
            )
        )
        assert row.role == "applicant"
        assert (
            "ho-khau.pdf"
            in session.scalars(select(DossierFile.filename).where(DossierFile.dossier_id == dossier_id)).all()
        )
    # A second answer: the dossier no longer waits for one (409 from the same rules as the counter).
    again = post(
        browser,
        f"/ho-so-cua-toi/{dossier_id}/bo-sung",
        {"csrf_token": CSRF, f"file_{component_id}": (io.BytesIO(pdf_bytes()), "lan-2.pdf")},
    )
    assert again.status_code == 409


def test_the_supplement_answer_checks_files_like_every_upload(browser, unit):
    dossier_id = dossier_id_of(post(browser, start_url(unit), form(unit, op="submit", files=BOTH)))
    _to_supplement(unit, dossier_id)
    page = browser.get(f"/ho-so-cua-toi/{dossier_id}")
    component_id = int(re.search(r'name="file_(\d+)"', page.text).group(1))
    bad = post(
        browser,
        f"/ho-so-cua-toi/{dossier_id}/bo-sung",
        {"csrf_token": CSRF, f"file_{component_id}": (io.BytesIO(b"MZ not a pdf"), "virus.pdf")},
    )
    assert bad.status_code == 415
    with unit.session() as session:
        assert session.get(Dossier, dossier_id).status == SUPPLEMENT


def test_submit_uses_the_intake_rules_directly(unit, citizen):
    """The core function without HTTP: a draft of another account is a 404 even when asked by id."""
    with unit.session() as session, session.begin():
        desk = unit.desk(session, datetime.now(VN_TZ))
        draft = online.start_draft(desk, citizen.id, unit.procedure_id)
        with pytest.raises(online.NotFound):
            online.get_draft(desk, citizen.id + 10_000, draft.id)


def test_the_new_form_posted_twice_makes_one_draft_and_one_dossier(browser, unit, citizen, platform):
    page = browser.get(start_url(unit))
    reference = re.search(r'name="reference" value="([0-9a-f-]{36})"', page.text).group(1)
    first = post(browser, start_url(unit), form(unit, op="submit", files=BOTH, reference=reference))
    second = post(browser, start_url(unit), form(unit, op="submit", files=BOTH, reference=reference))
    assert first.status_code == second.status_code == 303
    assert dossier_id_of(first) == dossier_id_of(second)
    # Someone else's form key does not reach that draft: they get a draft of their own.
    stranger = make_account(platform)
    other_client = type(browser)(browser.application, browser.response_wrapper, use_cookies=True)
    other_client.host = browser.host
    sign_in_directly(other_client, stranger, unit.tenant)
    saved = post(other_client, start_url(unit), form(unit, reference=reference))
    assert saved.status_code == 303
    with unit.session() as session:
        assert session.get(OnlineDraft, draft_id_of(saved)).owner_account_id == stranger.id


# --- regressions of the review of level-3 submission ------------------------------------------------


def _lock_is_held(unit, draft_id: int) -> bool:
    """True when another request could not take the draft now: its row is locked (NOWAIT: nothing
    waits on time) or not committed yet (a new form's draft; a second post waits on its reference)."""
    with unit.session() as session:
        try:
            found = session.scalar(
                select(OnlineDraft.id).where(OnlineDraft.id == draft_id).with_for_update(nowait=True)
            )
        except OperationalError:
            return True
        finally:
            session.rollback()
    return found is None


def _watch_submission(monkeypatch, unit) -> list[bool]:
    """Wrap ``online.submit_draft``: whether the draft was still locked when the submission began."""
    seen: list[bool] = []
    real = online.submit_draft

    def watched(desk, actor, draft_id):
        seen.append(_lock_is_held(unit, draft_id))
        return real(desk, actor, draft_id)

    monkeypatch.setattr(online, "submit_draft", watched)
    return seen


def test_the_draft_stays_locked_from_the_save_to_the_submission(browser, unit, monkeypatch):
    """A second click cannot slip in between the save of the files and the submission (files twice)."""
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit)))
    seen = _watch_submission(monkeypatch, unit)
    response = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit", files=BOTH))
    assert response.status_code == 303 and seen == [True]
    # The second click, once the first has committed, finds the dossier and stores nothing more.
    again = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit", files=BOTH))
    assert dossier_id_of(again) == dossier_id_of(response)
    with unit.session() as session:
        names = session.scalars(
            select(DossierFile.filename).where(DossierFile.dossier_id == dossier_id_of(response))
        ).all()
        assert sorted(names) == ["cccd.png", "to-khai.pdf"]


def test_the_new_form_keeps_its_draft_locked_until_the_submission(browser, unit, monkeypatch):
    reference = re.search(r'name="reference" value="([0-9a-f-]{36})"', browser.get(start_url(unit)).text)
    seen = _watch_submission(monkeypatch, unit)
    response = post(
        browser, start_url(unit), form(unit, op="submit", files=BOTH, reference=reference.group(1))
    )
    assert response.status_code == 303 and seen == [True]


def test_a_refused_submission_still_commits_the_save(browser, unit):
    """Saving and submitting in one transaction: the refusal rolls back only the submission."""
    response = post(browser, start_url(unit), form(unit, op="submit", **{"applicant.address": "Giữ nguyên"}))
    assert response.status_code == 422
    draft_id = int(re.search(r'action="/ho-so-nhap/(\d+)"', response.text).group(1))
    with unit.session() as session:
        assert session.get(OnlineDraft, draft_id).applicant["address"] == "Giữ nguyên"


def test_the_same_file_sent_twice_for_a_document_is_kept_once(browser, unit):
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit, files=[BOTH[0]])))
    post(browser, f"/ho-so-nhap/{draft_id}", form(unit, files=[BOTH[0], BOTH[1]]))
    with unit.session() as session:
        names = session.scalars(select(OnlineDraftFile.filename).where(OnlineDraftFile.draft_id == draft_id))
        assert sorted(names) == ["cccd.png", "to-khai.pdf"]


def test_a_stale_remove_keeps_what_was_typed_and_uploaded(browser, unit):
    """'Xóa tệp' for a file already gone (another tab removed it): the rest of the post is kept."""
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit)))
    response = post(
        browser,
        f"/ho-so-nhap/{draft_id}",
        form(unit, op="remove:987654", files=[BOTH[0]], **{"applicant.address": "Địa chỉ mới"}),
    )
    assert response.status_code == 303
    with unit.session() as session:
        assert session.get(OnlineDraft, draft_id).applicant["address"] == "Địa chỉ mới"
        names = session.scalars(select(OnlineDraftFile.filename).where(OnlineDraftFile.draft_id == draft_id))
        assert list(names) == ["to-khai.pdf"]


@pytest.fixture
def other_case(unit):
    """A case of the procedure with a document of its own (removed afterwards)."""
    with unit.session() as session, session.begin():
        case = ProcedureCase(procedure_id=unit.procedure_id, code="RIENG", name="Trường hợp riêng")
        session.add(case)
        session.flush()
        component = ProcedureComponent(
            procedure_id=unit.procedure_id,
            case_id=case.id,
            name="Giấy tờ riêng của trường hợp",
            is_mandatory=False,
            sort_order=9,
        )
        session.add(component)
        session.flush()
        ids = case.id, component.id
    yield ids
    with unit.session() as session, session.begin():
        session.execute(update(OnlineDraft).where(OnlineDraft.case_id == ids[0]).values(case_id=None))
        session.delete(session.get(ProcedureComponent, ids[1]))
        session.delete(session.get(ProcedureCase, ids[0]))


def test_a_file_chosen_while_the_case_changes_is_kept_and_the_citizen_told(browser, unit, other_case):
    case_id, component_id = other_case
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit, case_id=str(case_id))))
    assert f'name="file_{component_id}"' in browser.get(f"/ho-so-nhap/{draft_id}").text
    # The citizen picks a file for the case's document and, in the same post, goes back to the general case.
    data = form(unit, case_id="")
    data[f"file_{component_id}"] = [(io.BytesIO(pdf_bytes()), "rieng.pdf")]
    assert post(browser, f"/ho-so-nhap/{draft_id}", data).status_code == 303
    with unit.session() as session:
        names = session.scalars(select(OnlineDraftFile.filename).where(OnlineDraftFile.draft_id == draft_id))
        assert list(names) == ["rieng.pdf"]
    page = browser.get(f"/ho-so-nhap/{draft_id}")
    assert 'id="f-outside"' in page.text and "rieng.pdf" in page.text
    # Submitted with the general case: the page says which files were not filed.
    done = post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op="submit", files=BOTH, case_id=""))
    assert done.status_code == 303
    shown = browser.get(done.headers["Location"])
    assert "không được nộp kèm hồ sơ" in shown.text and "rieng.pdf" in shown.text


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"service_level": 2}, {"channels": [1]}], ids=lambda c: next(iter(c))
)
def test_a_draft_of_a_procedure_no_longer_online_is_shown_and_can_be_deleted(browser, unit, change):
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit, files=[BOTH[0]])))
    with unit.session() as session, session.begin():
        procedure = session.get(Procedure, unit.procedure_id)
        before = {name: getattr(procedure, name) for name in change}
        for name, value in change.items():
            setattr(procedure, name, value)
    try:
        page = browser.get(f"/ho-so-nhap/{draft_id}")
        assert page.status_code == 200
        assert "không còn nhận hồ sơ trực tuyến" in page.text and "<fieldset disabled>" in page.text
        assert 'value="submit"' not in page.text and 'value="delete"' in page.text
        assert post(browser, f"/ho-so-nhap/{draft_id}", form(unit)).status_code in (404, 409)
        deleted = post(browser, f"/ho-so-nhap/{draft_id}", {"csrf_token": CSRF, "op": "delete"})
        assert deleted.status_code == 303
        assert browser.get(f"/ho-so-nhap/{draft_id}").status_code == 404
    finally:
        with unit.session() as session, session.begin():
            procedure = session.get(Procedure, unit.procedure_id)
            for name, value in before.items():
                setattr(procedure, name, value)


def test_the_closed_draft_message_is_in_english_too(browser, unit):
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit)))
    with unit.session() as session, session.begin():
        session.get(Procedure, unit.procedure_id).service_level = 2
    try:
        page = browser.get(f"/ho-so-nhap/{draft_id}", query_string={"lang": "en"})
        assert "no longer offered online" in page.text and "You can delete it" in page.text
    finally:
        with unit.session() as session, session.begin():
            session.get(Procedure, unit.procedure_id).service_level = 3


def test_a_guided_online_dossier_shows_what_is_asked_and_takes_files(browser, client_for, unit):
    """DOMAIN.md §2.3: status 1 stays 1 when the counter guides (form 02); the citizen sees it, adds files."""
    dossier_id = dossier_id_of(post(browser, start_url(unit), form(unit, op="submit", files=BOTH)))
    assert "cần bổ sung" not in browser.get("/ho-so-cua-toi").text
    with unit.session() as session, session.begin():
        desk = unit.desk(session)
        actions.guide(
            desk, unit.actor("counter"), actions.load(desk, dossier_id), items=["Bản sao giấy khai sinh"]
        )
    page = browser.get(f"/ho-so-cua-toi/{dossier_id}")
    assert "Bản sao giấy khai sinh" in page.text and f"/ho-so-cua-toi/{dossier_id}/bo-sung" in page.text
    assert "cần bổ sung" in browser.get("/ho-so-cua-toi").text
    component_id = int(re.search(r'name="file_(\d+)"', page.text).group(1))
    sent = post(
        browser,
        f"/ho-so-cua-toi/{dossier_id}/bo-sung",
        {
            "csrf_token": CSRF,
            "note": "Gửi bản sao",
            f"file_{component_id}": (io.BytesIO(pdf_bytes()), "khai-sinh.pdf"),
        },
    )
    assert sent.status_code == 303
    with unit.session() as session:
        dossier = session.get(Dossier, dossier_id)
        assert dossier.status == SUBMITTED and dossier.received_at is None  # no transition, no clock
        row = session.scalar(
            select(DossierAction).where(
                DossierAction.dossier_id == dossier_id, DossierAction.action == online.ADD_DOCUMENTS
            )
        )
        assert (row.from_status, row.to_status, row.role) == (SUBMITTED, SUBMITTED, "applicant")
        assert "khai-sinh.pdf" in row.note and "Gửi bản sao" in row.note
        files = session.scalars(select(DossierFile.filename).where(DossierFile.dossier_id == dossier_id))
        assert "khai-sinh.pdf" in files.all()
    assert "cần bổ sung" not in browser.get("/ho-so-cua-toi").text  # answered: the counter's turn
    office = client_for(unit.tenant)
    assert login(office, unit.accounts["counter"].email).status_code == 302
    history = office.get(f"/backoffice/dossiers/{dossier_id}").text
    assert "Công dân gửi thêm giấy tờ theo hướng dẫn" in history and "khai-sinh.pdf" in history


def test_files_are_not_taken_in_status_one_without_guidance(browser, unit):
    dossier_id = dossier_id_of(post(browser, start_url(unit), form(unit, op="submit", files=BOTH)))
    page = browser.get(f"/ho-so-cua-toi/{dossier_id}")
    assert "/bo-sung" not in page.text
    component = re.search(r"/ho-so-cua-toi/\d+/tep/\d+", page.text)
    assert component is not None
    with unit.session() as session:
        component_id = session.scalar(
            select(DossierFile.component_id).where(DossierFile.dossier_id == dossier_id).limit(1)
        )
    refused = post(
        browser,
        f"/ho-so-cua-toi/{dossier_id}/bo-sung",
        {"csrf_token": CSRF, f"file_{component_id}": (io.BytesIO(pdf_bytes()), "them.pdf")},
    )
    assert refused.status_code == 409


def test_the_supplement_post_gives_one_404_for_missing_and_not_mine(browser, client_for, unit, platform):
    dossier_id = dossier_id_of(post(browser, start_url(unit), form(unit, op="submit", files=BOTH)))
    stranger = client_for(unit.tenant)
    sign_in_directly(stranger, make_account(platform), unit.tenant)
    theirs = stranger.post(f"/ho-so-cua-toi/{dossier_id}/bo-sung", data={"csrf_token": CSRF})
    missing = stranger.post("/ho-so-cua-toi/987654321/bo-sung", data={"csrf_token": CSRF})
    assert theirs.status_code == missing.status_code == 404
    said = [re.findall(r"Không tìm thấy[^<]*", r.text) for r in (theirs, missing)]
    assert said[0] == said[1] and said[0]


def _stored_keys(unit, draft_id: int) -> list[str]:
    with unit.session() as session:
        return list(
            session.scalars(select(OnlineDraftFile.storage_key).where(OnlineDraftFile.draft_id == draft_id))
        )


def test_removed_files_and_deleted_drafts_leave_storage(browser, unit):
    storage = get_storage(browser.application)
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit, files=BOTH)))
    keys = _stored_keys(unit, draft_id)
    assert len(keys) == 2 and all(storage.exists(key) for key in keys)
    with unit.session() as session:
        first = session.scalar(select(OnlineDraftFile.id).where(OnlineDraftFile.storage_key == keys[0]))
    assert post(browser, f"/ho-so-nhap/{draft_id}", form(unit, op=f"remove:{first}")).status_code == 303
    assert not storage.exists(keys[0]) and storage.exists(keys[1])
    assert post(browser, f"/ho-so-nhap/{draft_id}", {"csrf_token": CSRF, "op": "delete"}).status_code == 303
    assert not storage.exists(keys[1])


def test_a_removal_rolled_back_keeps_the_stored_file(browser, unit, citizen):
    """The stored object goes once the removal commits: a rollback never leaves a row without its file."""
    storage = get_storage(browser.application)
    draft_id = draft_id_of(post(browser, start_url(unit), form(unit, files=[BOTH[0]])))
    (key,) = _stored_keys(unit, draft_id)
    with browser.application.app_context(), unit.session() as session:
        desk = unit.desk(session)
        draft = online.get_draft(desk, citizen.id, draft_id, lock=True)
        file_id = session.scalar(select(OnlineDraftFile.id).where(OnlineDraftFile.storage_key == key))
        assert online.remove_file(desk, draft, file_id) is True
        assert online.remove_file(desk, draft, file_id) is False  # gone already: nothing to do
        session.rollback()
    assert storage.exists(key) and _stored_keys(unit, draft_id) == [key]


def test_the_supplement_note_is_checked_before_any_file_is_stored(browser, unit):
    storage = get_storage(browser.application)
    dossier_id = dossier_id_of(post(browser, start_url(unit), form(unit, op="submit", files=BOTH)))
    _to_supplement(unit, dossier_id)
    page = browser.get(f"/ho-so-cua-toi/{dossier_id}")
    component_id = int(re.search(r'name="file_(\d+)"', page.text).group(1))
    with unit.session() as session:
        reference = session.get(Dossier, dossier_id).reference
    folder = storage.root / unit.tenant.slug / "dossiers" / str(reference)
    before = sorted(folder.iterdir()) if folder.exists() else []
    refused = post(
        browser,
        f"/ho-so-cua-toi/{dossier_id}/bo-sung",
        {
            "csrf_token": CSRF,
            "note": "x" * 3000,
            f"file_{component_id}": (io.BytesIO(pdf_bytes()), "ho-khau.pdf"),
        },
    )
    assert refused.status_code == 422
    assert (sorted(folder.iterdir()) if folder.exists() else []) == before
