"""The dossier API: the lifecycle over HTTP with real API tokens and a back-office session, ETag/If-Match,
filters and pagination, files and printable documents, one error shape, and no way across units."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth import api_tokens
from app.calendar.workcal import VN_TZ, load_calendar
from app.dossiers.models import Dossier, DossierAction, DossierFile
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import csrf_from, login

API = "/api/v1/dossiers"
ALL = ("dossiers:read", "dossiers:write", "documents:read")
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ERROR_KEYS = {"code", "status", "message", "message_vi", "message_en"}


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture
def api(client_for, unit):
    return client_for(unit.tenant)


_tokens: dict = {}


def auth(unit, who: str, scopes=ALL) -> dict:
    """Bearer header of an API token of ``who`` in ``unit`` (created once per scopes)."""
    key = (unit.tenant.id, who, tuple(scopes))
    if key not in _tokens:
        with unit.session() as session, session.begin():
            _, plaintext = api_tokens.create_token(
                session, name=f"thử {who}", scopes=scopes, account_id=unit.accounts[who].id
            )
        _tokens[key] = plaintext
    return {"Authorization": f"Bearer {_tokens[key]}"}


def intake_body(unit, **overrides) -> dict:
    body = {
        "procedure_id": unit.procedure_id,
        "channel": 1,
        "applicant": {
            "name": "Nguyễn Thị Hương",
            "phone": "0912345678",
            "id_type": "cccd",
            "id_number": "031190001234",
        },
        "components": [{"component_id": unit.components[0]}, {"component_id": unit.components[1]}],
    }
    body.update(overrides)
    return body


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert set(body) >= ERROR_KEYS, body
    assert body["code"] == status and body["message_vi"] and body["message_en"]
    return body


def receive(api, unit, **overrides):
    response = api.post(API, json=intake_body(unit, **overrides), headers=auth(unit, "counter"))
    assert response.status_code == 201, response.text
    return response


def act(api, unit, who: str, dossier_id: int, action: str, etag: str | None, body=None, scopes=ALL):
    headers = auth(unit, who, scopes)
    if etag is not None:
        headers["If-Match"] = etag
    return api.post(f"{API}/{dossier_id}/actions/{action}", json=body or {}, headers=headers)


def step(api, unit, who, dossier_id, action, etag, body=None) -> tuple[dict, str]:
    """Act and expect success; returns the dossier and its new ETag."""
    response = act(api, unit, who, dossier_id, action, etag, body)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] != etag
    return response.get_json(), response.headers["ETag"]


def count(unit, model) -> int:
    with unit.session() as session:
        return session.scalar(select(func.count()).select_from(model))


# --- the lifecycle --------------------------------------------------------------------------------


def test_counter_intake_to_returned_result(api, unit):
    created = receive(api, unit)
    dossier, etag = created.get_json(), created.headers["ETag"]
    assert dossier["status"] == 2 and dossier["status_name"]["vi"] == "Được tiếp nhận"
    assert dossier["code"].startswith(unit.tenant.unit_code + "-")
    assert etag == f'W/"{dossier["row_version"]}"'
    assert created.headers["Location"].endswith(f"{API}/{dossier['id']}")
    assert dossier["due_at"] and dossier["due_explanation"]["vi"] and dossier["due_explanation"]["en"]
    assert {c["procedure_component_id"] for c in dossier["components"] if c["is_received"]} == set(
        unit.components[:2]
    )
    assert dossier["current_step"]["key"] == "receive"
    assert [a["action"] for a in dossier["allowed_actions"]] == ["transfer", "withdraw", "reassign"]
    dossier_id = dossier["id"]

    dossier, etag = step(api, unit, "counter", dossier_id, "transfer", etag)
    assert dossier["status"] == 4 and dossier["current_role"] == "case_officer"
    assert dossier["current_account_id"] is None  # waiting in the case officers' pool
    dossier, etag = step(api, unit, "officer", dossier_id, "claim", etag)
    assert dossier["current_account_id"] == unit.accounts["officer"].id
    dossier, etag = step(
        api,
        unit,
        "officer",
        dossier_id,
        "forward",
        etag,
        {"to_account_id": unit.accounts["head_div"].id, "note": "Đủ điều kiện"},
    )
    assert dossier["current_step"]["key"] == "review"
    dossier, etag = step(api, unit, "head_div", dossier_id, "forward", etag)
    assert dossier["current_step"]["key"] == "sign"
    assert dossier["allowed_actions"] == [
        {"action": "stop", "vi": "Dừng xử lý", "en": "Stop processing"},
        {"action": "reassign", "vi": "Giao lại", "en": "Reassign"},
    ]
    signer = api.get(f"{API}/{dossier_id}", headers=auth(unit, "head")).get_json()
    assert "complete" in [a["action"] for a in signer["allowed_actions"]]
    assert "forward" not in [a["action"] for a in signer["allowed_actions"]]
    dossier, etag = step(api, unit, "head", dossier_id, "complete", etag)
    assert dossier["status"] == 9 and dossier["completed_at"]
    dossier, etag = step(api, unit, "counter", dossier_id, "return_result", etag, {"note": "Đã trả"})
    assert dossier["status"] == 10 and dossier["allowed_actions"] == []

    history = api.get(f"{API}/{dossier_id}/history", headers=auth(unit, "head")).get_json()
    assert [h["action"] for h in history] == [
        "receive",
        "transfer",
        "claim",
        "forward",
        "forward",
        "complete",
        "return_result",
    ]
    assert (
        history[3]["to_account_id"] == unit.accounts["head_div"].id and history[3]["note"] == "Đủ điều kiện"
    )
    assert history[0]["label"]["en"].startswith("Received at the counter")


def test_get_dossier_has_etag_and_logs_the_view(api, unit):
    dossier_id = receive(api, unit).get_json()["id"]
    before = count(unit, AuditEvent)
    response = api.get(f"{API}/{dossier_id}", headers=auth(unit, "officer"))
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["ETag"] == f'W/"{body["row_version"]}"'
    assert body["applicant"]["id_number"] == "031190001234"
    assert body["allowed_actions"] == []  # a case officer cannot act at the counter's step
    with unit.session() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert count(unit, AuditEvent) == before + 1
    assert (event.entity_id, event.action, event.actor_account_id) == (
        str(dossier_id),
        "view_applicant",
        unit.accounts["officer"].id,
    )


def test_online_draft_with_file_submit_guide_accept(api, unit):
    created = api.post(
        API,
        json=intake_body(unit, channel=2, components=[], result_delivery="online"),
        headers=auth(unit, "counter"),
    )
    assert created.status_code == 201, created.text
    draft, etag = created.get_json(), created.headers["ETag"]
    assert draft["status"] == 0 and draft["code"] is None
    submitted = api.post(f"{API}/{draft['id']}/submit", headers={**auth(unit, "counter"), "If-Match": etag})
    body = assert_error(submitted, 422)
    assert "Giấy tờ tùy thân" in body["message_vi"]

    for component in draft["components"][:2]:
        uploaded = api.post(
            f"{API}/{draft['id']}/files",
            data={"file": (io.BytesIO(PDF_BYTES), "to-khai.pdf"), "component_id": str(component["id"])},
            headers=auth(unit, "counter"),
            content_type="multipart/form-data",
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.get_json()["content_type"] == "application/pdf"
        assert uploaded.headers["ETag"] != etag  # each file moves the draft's version
        etag = uploaded.headers["ETag"]
    listed = api.get(f"{API}/{draft['id']}/files", headers=auth(unit, "officer")).get_json()
    assert [f["filename"] for f in listed] == ["to-khai.pdf", "to-khai.pdf"]
    download = api.get(f"{API}/{draft['id']}/files/{listed[0]['id']}", headers=auth(unit, "officer"))
    assert download.status_code == 200 and download.data == PDF_BYTES
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    named = api.post(
        f"{API}/{draft['id']}/files",
        data={"file": (io.BytesIO(PDF_BYTES), "tờ khai.pdf"), "kind": "other"},
        headers=auth(unit, "counter"),
        content_type="multipart/form-data",
    )
    assert named.status_code == 201, named.text
    etag = named.headers["ETag"]
    named = api.get(f"{API}/{draft['id']}/files/{named.get_json()['id']}", headers=auth(unit, "officer"))
    disposition = named.headers["Content-Disposition"]
    assert disposition.isascii() and "filename*=UTF-8''t%E1%BB%9D%20khai.pdf" in disposition
    assert named.headers["X-Content-Type-Options"] == "nosniff"

    submitted = api.post(f"{API}/{draft['id']}/submit", headers={**auth(unit, "counter"), "If-Match": etag})
    assert submitted.status_code == 200, submitted.text
    dossier, etag = submitted.get_json(), submitted.headers["ETag"]
    assert dossier["status"] == 1 and dossier["code"]

    dossier, etag = step(
        api, unit, "counter", dossier["id"], "guide", etag, {"items": ["Bản sao sổ hộ khẩu"]}
    )
    assert dossier["status"] == 1  # guided: still waiting, but the version moved
    dossier, etag = step(api, unit, "counter", dossier["id"], "accept", etag)
    assert dossier["status"] == 2 and dossier["received_at"]
    forms = api.get(f"{API}/{dossier['id']}/forms", headers=auth(unit, "counter")).get_json()
    assert [f["form_no"] for f in forms] == ["02", "01"]
    pdf = api.get(forms[1]["pdf_url"], headers=auth(unit, "counter"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert dossier["code"] in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()


def test_refuse_after_submission(api, unit):
    created = api.post(API, json=intake_body(unit, channel=3), headers=auth(unit, "counter"))
    dossier_id, etag = created.get_json()["id"], created.headers["ETag"]
    submitted = api.post(f"{API}/{dossier_id}/submit", headers={**auth(unit, "counter"), "If-Match": etag})
    etag = submitted.headers["ETag"]
    refused = act(api, unit, "counter", dossier_id, "refuse", etag, {"reasons": []})
    body = assert_error(refused, 422)
    assert "reasons" in body["errors"]
    dossier, _ = step(
        api, unit, "counter", dossier_id, "refuse", etag, {"reasons": ["Không thuộc thẩm quyền"]}
    )
    assert dossier["status"] == 3


def _processing(api, unit) -> tuple[int, str]:
    created = receive(api, unit)
    dossier, etag = step(api, unit, "counter", created.get_json()["id"], "transfer", created.headers["ETag"])
    return dossier["id"], etag


def test_supplement_payment_apology_and_stop(api, unit):
    dossier_id, etag = _processing(api, unit)
    dossier, etag = step(
        api,
        unit,
        "officer",
        dossier_id,
        "request_supplement",
        etag,
        {"items": ["Giấy khai sinh"], "reason": "Thiếu"},
    )
    assert dossier["status"] == 5
    dossier, etag = step(api, unit, "counter", dossier_id, "receive_supplement", etag)
    assert dossier["status"] == 4
    dossier, etag = step(
        api, unit, "fees", dossier_id, "request_payment", etag, {"reason": "Lệ phí 8.000 đồng"}
    )
    assert dossier["status"] == 6
    dossier, etag = step(api, unit, "fees", dossier_id, "confirm_payment", etag)
    assert dossier["status"] == 4

    with unit.session() as session:
        calendar = load_calendar(session)
    new_due = datetime.fromisoformat(dossier["due_at"]).astimezone(VN_TZ) + timedelta(days=7)
    while not calendar.is_working_day(new_due.date()):
        new_due += timedelta(days=1)
    missing = act(api, unit, "head", dossier_id, "apologise", etag, {"reason": "Cần xác minh"})
    assert "new_due_at" in assert_error(missing, 422)["errors"]["json"]
    dossier, etag = step(
        api,
        unit,
        "head",
        dossier_id,
        "apologise",
        etag,
        {"new_due_at": new_due.isoformat(), "reason": "Cần xác minh"},
    )
    assert datetime.fromisoformat(dossier["appointment_at"]) == new_due
    forbidden = act(api, unit, "officer", dossier_id, "stop", etag, {"reason": "Không đủ điều kiện"})
    assert "Lãnh đạo" in assert_error(forbidden, 403)["message_vi"]
    dossier, _ = step(api, unit, "head_div", dossier_id, "stop", etag, {"reason": "Không đủ điều kiện"})
    assert dossier["status"] == 8 and dossier["stop_reason"] == "refused"


def test_withdraw(api, unit):
    dossier_id, etag = _processing(api, unit)
    dossier, _ = step(api, unit, "counter", dossier_id, "withdraw", etag, {"reason": "Công dân xin rút"})
    assert dossier["status"] == 7


def test_transfer_to_someone_who_cannot_take_the_step_is_refused(api, unit):
    created = receive(api, unit)
    dossier_id = created.get_json()["id"]
    refused = act(
        api,
        unit,
        "counter",
        dossier_id,
        "transfer",
        created.headers["ETag"],
        {"to_account_id": unit.accounts["head"].id},
    )
    assert "to_account_id" in assert_error(refused, 422)["errors"]
    # Nothing was written: the dossier is still at the counter, same version.
    again = api.get(f"{API}/{dossier_id}", headers=auth(unit, "counter"))
    assert again.get_json()["status"] == 2 and again.headers["ETag"] == created.headers["ETag"]


# --- If-Match -------------------------------------------------------------------------------------


def test_if_match_missing_is_428_and_stale_is_412(api, unit):
    created = receive(api, unit)
    dossier_id, etag = created.get_json()["id"], created.headers["ETag"]
    body = assert_error(act(api, unit, "counter", dossier_id, "transfer", None), 428)
    assert "If-Match" in body["message_en"]
    _, new_etag = step(api, unit, "counter", dossier_id, "transfer", etag)
    stale = assert_error(act(api, unit, "officer", dossier_id, "claim", etag), 412)
    assert "người khác cập nhật" in stale["message_vi"] and "Someone else" in stale["message_en"]
    assert assert_error(act(api, unit, "officer", dossier_id, "claim", '"nonsense"'), 412)
    assert act(api, unit, "officer", dossier_id, "claim", new_etag).status_code == 200


def test_two_officials_racing_exactly_one_wins(client_for, api, unit):
    dossier_id, etag = _processing(api, unit)
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}

    def claim(who: str) -> None:
        client = client_for(unit.tenant)
        headers = {**auth(unit, who), "If-Match": etag}
        barrier.wait()
        results[who] = client.post(f"{API}/{dossier_id}/actions/claim", json={}, headers=headers).status_code

    auth(unit, "officer2")  # tokens made before the race
    threads = [threading.Thread(target=claim, args=(who,)) for who in ("officer", "officer2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [200, 412], results
    winner = next(who for who, status in results.items() if status == 200)
    dossier = api.get(f"{API}/{dossier_id}", headers=auth(unit, "officer")).get_json()
    assert dossier["current_account_id"] == unit.accounts[winner].id
    with unit.session() as session:
        claims = session.scalar(
            select(func.count())
            .select_from(DossierAction)
            .where(DossierAction.dossier_id == dossier_id, DossierAction.action == "claim")
        )
    assert claims == 1


# --- refusals in the one shape --------------------------------------------------------------------


def test_wrong_scope_and_wrong_role_are_403_with_a_message(api, unit):
    created = receive(api, unit)
    dossier_id, etag = created.get_json()["id"], created.headers["ETag"]
    scope = act(api, unit, "counter", dossier_id, "transfer", etag, scopes=("dossiers:read",))
    assert "dossiers:write" in assert_error(scope, 403)["message_en"]
    role = act(api, unit, "officer", dossier_id, "withdraw", etag)
    assert "Cán bộ một cửa" in assert_error(role, 403)["message_vi"]
    held = act(api, unit, "officer", dossier_id, "transfer", etag)
    assert "another official" in assert_error(held, 403)["message_en"]
    intake = api.post(API, json=intake_body(unit), headers=auth(unit, "officer"))
    assert "Counter officer" in assert_error(intake, 403)["message_en"]
    draft = api.post(API, json=intake_body(unit, channel=2), headers=auth(unit, "officer"))
    assert_error(draft, 403)
    logbook = api.get("/api/v1/logbook", headers=auth(unit, "officer"))
    assert_error(logbook, 403)
    documents = api.get(
        f"{API}/{dossier_id}/tracking-slip.pdf", headers=auth(unit, "counter", ("dossiers:read",))
    )
    assert "documents:read" in assert_error(documents, 403)["message_en"]


def test_intake_refusals_write_nothing(api, unit):
    before = count(unit, Dossier)
    unknown = api.post(API, json=intake_body(unit, procedure_id=987654), headers=auth(unit, "counter"))
    assert_error(unknown, 404)
    missing = api.post(
        API,
        json=intake_body(unit, components=[{"component_id": unit.components[0]}]),
        headers=auth(unit, "counter"),
    )
    body = assert_error(missing, 422)
    assert "components" in body["errors"] and "Giấy tờ tùy thân" in body["errors"]["components"]["vi"]
    bad = api.post(
        API,
        json=intake_body(unit, applicant={"name": " ", "phone": "12ab", "id_type": "cccd", "id_number": "1"}),
        headers=auth(unit, "counter"),
    )
    assert {"applicant.name", "applicant.phone", "applicant.id_number"} <= set(
        assert_error(bad, 422)["errors"]
    )
    typed = api.post(API, json={"procedure_id": "abc", "bogus": 1}, headers=auth(unit, "counter"))
    errors = assert_error(typed, 422)["errors"]["json"]
    assert {"procedure_id", "bogus", "applicant"} <= set(errors)
    # Longer than the columns: one message per field, not a database error.
    applicant = {"name": "An", "province_code": "123456789", "delegate_phone": "0" * 40, "id_type": "x" * 40}
    long_body = intake_body(unit, applicant=applicant, note="n" * 2001)
    errors = assert_error(api.post(API, json=long_body, headers=auth(unit, "counter")), 422)["errors"]
    assert {"applicant.province_code", "applicant.delegate_phone", "applicant.id_type", "note"} <= set(errors)
    assert "dài quá 8 ký tự" in errors["applicant.province_code"]["vi"]
    assert count(unit, Dossier) == before


def test_action_notes_longer_than_2000_characters_are_422(api, unit):
    dossier_id, etag = _processing(api, unit)
    refused = act(api, unit, "officer", dossier_id, "request_payment", etag, {"reason": "x" * 2001})
    assert "reason" in assert_error(refused, 422)["errors"]
    _, etag = step(api, unit, "officer", dossier_id, "claim", etag)
    refused = act(api, unit, "officer", dossier_id, "forward", etag, {"note": "x" * 2001})
    assert "2000" in assert_error(refused, 422)["message_vi"]
    assert api.get(f"{API}/{dossier_id}", headers=auth(unit, "officer")).headers["ETag"] == etag


def test_unknown_action_and_dossier_are_404(api, unit):
    assert_error(api.post(f"{API}/1/actions/teleport", json={}, headers=auth(unit, "counter")), 404)
    missing = act(api, unit, "counter", 987654, "transfer", 'W/"1"')
    assert "dossier" in assert_error(missing, 404)["message_en"]
    assert_error(api.get(f"{API}/987654", headers=auth(unit, "counter")), 404)


def test_uploads_too_big_or_forged(api, unit, platform, monkeypatch):
    dossier = receive(api, unit).get_json()
    monkeypatch.setattr(platform.settings, "max_upload_bytes", 1000)
    before = count(unit, DossierFile)

    def upload(data: bytes, name: str):
        return api.post(
            f"{API}/{dossier['id']}/files",
            data={"file": (io.BytesIO(data), name), "kind": "other"},
            headers=auth(unit, "counter"),
            content_type="multipart/form-data",
        )

    assert_error(upload(PDF_BYTES + b"0" * 2000, "lon.pdf"), 413)
    assert_error(upload(b"MZ\x90\x00 not a pdf at all", "gia.pdf"), 415)
    missing = api.post(f"{API}/{dossier['id']}/files", headers=auth(unit, "counter"))
    assert "file" in assert_error(missing, 422)["errors"]["files"]
    bad_kind = api.post(
        f"{API}/{dossier['id']}/files",
        data={"file": (io.BytesIO(PDF_BYTES), "a.pdf"), "kind": "secret"},
        headers=auth(unit, "counter"),
        content_type="multipart/form-data",
    )
    assert "kind" in assert_error(bad_kind, 422)["errors"]["form"]
    assert count(unit, DossierFile) == before


def test_uploads_need_an_uploader_and_results_the_step_holder(api, unit):
    dossier_id, etag = _processing(api, unit)  # at the case officers' step, in their pool
    before = count(unit, DossierFile)

    def upload(who: str, kind: str):
        return api.post(
            f"{API}/{dossier_id}/files",
            data={"file": (io.BytesIO(PDF_BYTES), "ket-qua.pdf"), "kind": kind},
            headers=auth(unit, who),
            content_type="multipart/form-data",
        )

    assert "Chỉ cán bộ một cửa và chuyên viên" in assert_error(upload("head", "other"), 403)["message_vi"]
    assert_error(upload("fees", "component"), 403)
    # The counter may scan documents, but the result belongs to whoever holds the current step.
    assert "bước hiện tại" in assert_error(upload("counter", "result"), 403)["message_vi"]
    _, etag = step(api, unit, "officer", dossier_id, "claim", etag)
    assert_error(upload("officer2", "result"), 403)  # a colleague, not the holder
    assert count(unit, DossierFile) == before
    assert api.get(f"{API}/{dossier_id}", headers=auth(unit, "officer")).headers["ETag"] == etag

    uploaded = upload("officer", "result")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.get_json()["kind"] == "result" and count(unit, DossierFile) == before + 1
    # A new file is a change: the ETag moved, and an action sent with the old one is stale.
    assert uploaded.headers["ETag"] != etag
    assert (
        uploaded.headers["ETag"]
        == api.get(f"{API}/{dossier_id}", headers=auth(unit, "officer")).headers["ETag"]
    )
    stale = act(api, unit, "officer", dossier_id, "request_payment", etag, {"reason": "Lệ phí"})
    assert_error(stale, 412)
    assert upload("counter", "component").status_code == 201


# --- lists ----------------------------------------------------------------------------------------


def test_filters_and_pagination(api, unit):
    dossier_ids = [receive(api, unit).get_json()["id"] for _ in range(3)]
    codes = {api.get(f"{API}/{i}", headers=auth(unit, "counter")).get_json()["code"] for i in dossier_ids}
    page = api.get(f"{API}?status=2&page=1&page_size=2", headers=auth(unit, "counter"))
    assert page.status_code == 200
    pagination = json.loads(page.headers["X-Pagination"])
    assert pagination["page"] == 1 and pagination["total"] >= 3 and pagination["next_page"] == 2
    assert len(page.get_json()) == 2 and all(d["status"] == 2 for d in page.get_json())
    dues = [d["due_at"] for d in page.get_json()]
    assert dues == sorted(dues)
    code = sorted(codes)[0]
    found = api.get(f"{API}?q={code}", headers=auth(unit, "counter")).get_json()
    assert [d["code"] for d in found] == [code]
    by_name = api.get(
        f"{API}?q=nguyen thi huong&channel=1&page_size=100", headers=auth(unit, "counter")
    ).get_json()
    assert codes <= {d["code"] for d in by_name}
    draft = api.post(API, json=intake_body(unit, channel=2), headers=auth(unit, "counter")).get_json()
    online = api.get(f"{API}?channel=2&page_size=100", headers=auth(unit, "counter")).get_json()
    assert draft["id"] in [d["id"] for d in online] and all(d["channel"] == 2 for d in online)
    assert online[-1]["due_at"] is None  # drafts have no due date yet: last
    assert api.get(f"{API}?procedure_id=987654", headers=auth(unit, "counter")).get_json() == []
    assert (
        "due"
        in assert_error(api.get(f"{API}?due=someday", headers=auth(unit, "counter")), 422)["errors"]["query"]
    )


def test_mine_is_the_task_queue(api, unit):
    dossier_id = receive(api, unit).get_json()["id"]
    mine = api.get(f"{API}?mine=true&page_size=100", headers=auth(unit, "counter")).get_json()
    assert dossier_id in [d["id"] for d in mine]
    theirs = api.get(f"{API}?mine=true&page_size=100", headers=auth(unit, "head")).get_json()
    assert dossier_id not in [d["id"] for d in theirs]
    overdue = api.get(f"{API}?mine=true&due=overdue", headers=auth(unit, "counter")).get_json()
    assert dossier_id not in [d["id"] for d in overdue]


# --- documents ------------------------------------------------------------------------------------


def test_tracking_slip_and_logbook(api, unit):
    created = receive(api, unit)
    dossier = created.get_json()
    slip = api.get(f"{API}/{dossier['id']}/tracking-slip.pdf", headers=auth(unit, "counter"))
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    assert dossier["code"] in PdfReader(io.BytesIO(slip.data)).pages[0].extract_text()
    today = datetime.now(VN_TZ).date().isoformat()
    before = count(unit, AuditEvent)
    pdf = api.get(f"/api/v1/logbook?from={today}&to={today}", headers=auth(unit, "counter"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    xlsx = api.get(f"/api/v1/logbook?from={today}&format=xlsx", headers=auth(unit, "counter"))
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert "attachment" in xlsx.headers["Content-Disposition"]
    with unit.session() as session:
        logged = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "logbook").order_by(AuditEvent.id.desc()).limit(2)
        ).all()
    assert count(unit, AuditEvent) == before + 2
    assert [(e.action, e.actor_account_id) for e in reversed(logged)] == [
        ("export_pdf", unit.accounts["counter"].id),
        ("export_xlsx", unit.accounts["counter"].id),
    ]
    backwards = api.get("/api/v1/logbook?from=2026-02-02&to=2026-01-01", headers=auth(unit, "counter"))
    assert_error(backwards, 422)
    assert_error(api.get("/api/v1/logbook?format=doc", headers=auth(unit, "counter")), 422)


# --- the back-office session ----------------------------------------------------------------------


def test_session_caller_needs_the_csrf_header(client_for, unit):
    client = client_for(unit.tenant)
    login(client, unit.accounts["counter"].email)
    created = client.post(API, json=intake_body(unit))
    assert created.status_code == 400 and "X-CSRF-Token" in created.get_json()["message_en"]
    token = csrf_from(client, "/backoffice/")
    created = client.post(API, json=intake_body(unit), headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.text
    dossier_id, etag = created.get_json()["id"], created.headers["ETag"]
    assert client.get(f"{API}/{dossier_id}").status_code == 200
    moved = client.post(
        f"{API}/{dossier_id}/actions/transfer", json={}, headers={"X-CSRF-Token": token, "If-Match": etag}
    )
    assert moved.status_code == 200 and moved.get_json()["status"] == 4
    anonymous = client_for(unit.tenant).get(API)
    assert_error(anonymous, 401)


# --- across units ---------------------------------------------------------------------------------


@pytest.fixture
def other(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


OWN_BLUEPRINTS = ("dossiers.", "processes_api.", "procedures.")


def _api_rules(app):
    """Every route of the dossier, process and catalog APIs (bar the public catalogue reads)."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(OWN_BLUEPRINTS):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET" and rule.endpoint.startswith("procedures."):
                continue  # the public catalogue
            yield rule, method


def test_a_token_of_one_unit_is_401_on_every_route_of_another(app, api, unit, other, client_for):
    stranger = client_for(other.tenant)
    headers = {**auth(unit, "counter"), "If-Match": 'W/"1"'}
    checked = 0
    for rule, method in _api_rules(app):
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", "1").replace(f"<{name}>", "1")
        response = stranger.open(path, method=method, json={}, headers=headers)
        assert_error(response, 401)
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), path
        checked += 1
    assert checked > 25


def test_ids_of_one_unit_are_404_on_another_and_lists_stay_apart(api, unit, other, client_for):
    created = receive(api, unit)
    mine, etag = created.get_json(), created.headers["ETag"]
    uploaded = api.post(
        f"{API}/{mine['id']}/files",
        data={"file": (io.BytesIO(PDF_BYTES), "a.pdf")},
        headers=auth(unit, "counter"),
        content_type="multipart/form-data",
    ).get_json()
    form_id = api.get(f"{API}/{mine['id']}/forms", headers=auth(unit, "counter")).get_json()[0]["id"]
    stranger = client_for(other.tenant)
    theirs = {**auth(other, "counter"), "If-Match": etag}
    base = f"{API}/{mine['id']}"
    for path in (base, f"{base}/history", f"{base}/files", f"{base}/files/{uploaded['id']}", f"{base}/forms"):
        assert_error(stranger.get(path, headers=theirs), 404)
    assert_error(stranger.get(f"{base}/forms/{form_id}.pdf", headers=theirs), 404)
    assert_error(stranger.get(f"{base}/tracking-slip.pdf", headers=theirs), 404)
    bodies = {"apologise": {"new_due_at": "2030-01-02T09:00:00+07:00"}}
    for action in ("accept", "guide", "refuse", "transfer", "forward", "claim", "request_supplement"):
        assert_error(
            stranger.post(f"{base}/actions/{action}", json=bodies.get(action, {}), headers=theirs), 404
        )
    for action in ("receive_supplement", "request_payment", "confirm_payment", "apologise", "stop"):
        assert_error(
            stranger.post(f"{base}/actions/{action}", json=bodies.get(action, {}), headers=theirs), 404
        )
    for action in ("withdraw", "complete", "return_result"):
        assert_error(stranger.post(f"{base}/actions/{action}", json={}, headers=theirs), 404)
    assert_error(stranger.post(f"{base}/submit", headers=theirs), 404)
    assert_error(
        stranger.post(
            f"{base}/files",
            data={"file": (io.BytesIO(PDF_BYTES), "a.pdf")},
            headers=theirs,
            content_type="multipart/form-data",
        ),
        404,
    )
    # The other unit's own dossier shows on its host only, and the lists never mix.
    their_dossier = receive(stranger, other).get_json()
    their_list = stranger.get(f"{API}?page_size=100", headers=theirs).get_json()
    assert [d["id"] for d in their_list] == [their_dossier["id"]]
    assert their_dossier["code"] not in {
        d["code"] for d in api.get(f"{API}?page_size=100", headers=auth(unit, "counter")).get_json()
    }
    assert stranger.get(f"{API}?mine=true", headers=theirs).get_json()[0]["code"] == their_dossier["code"]
    logbook = stranger.get("/api/v1/logbook?format=xlsx", headers=theirs)
    assert logbook.status_code == 200
    cells = {str(c.value) for row in load_workbook(io.BytesIO(logbook.data)).active.iter_rows() for c in row}
    assert their_dossier["code"] in cells and mine["code"] not in cells
