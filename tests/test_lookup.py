"""Status lookup: code plus a second factor, one answer for every miss, rate limits, no personal data."""

from __future__ import annotations

import itertools
import logging
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from redis import Redis
from sqlalchemy import update

from app.calendar.workcal import VN_TZ
from app.dossiers import actions, intake
from app.dossiers.documents import lookup_url
from app.dossiers.intake import Applicant
from app.dossiers.models import Dossier
from app.portal import lookup
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit

TUE = datetime(2019, 3, 12, 9, 0, tzinfo=VN_TZ)
ID_NUMBER = "031190001234"
PHONE = "0912345678"
ADDRESS = "Số 12 ngõ 34 phố Lạch Tray"
NOT_FOUND_EN = "Dossier not found or details do not match"
_ips = itertools.count(1)


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def other(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


def receive(unit, now=TUE) -> tuple[int, str]:
    applicant = Applicant(
        name="Nguyễn Thị Hương", phone=PHONE, id_type="cccd", id_number=ID_NUMBER, address=ADDRESS
    )
    with unit.session() as session, session.begin():
        dossier = intake.receive_at_counter(
            unit.desk(session, now), unit.actor("counter"), unit.intake(applicant=applicant)
        )
        return dossier.id, dossier.code


def act(unit, name: str, dossier_id: int, who: str, now: datetime, **kwargs):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        getattr(actions, name)(desk, unit.actor(who), actions.load(desk, dossier_id), **kwargs)


@pytest.fixture(scope="module")
def received(unit):
    return receive(unit)[1]


@pytest.fixture(autouse=True)
def fresh_limits(app):
    redis = Redis.from_url(app.extensions["motcua"].settings.redis_url)
    for key in redis.scan_iter("lookup:*"):
        redis.delete(key)


@pytest.fixture
def client(client_for, unit):
    """A unit-host client with its own client IP, so tests do not share a per-IP window."""
    c = client_for(unit.tenant)
    c.environ_base["REMOTE_ADDR"] = f"10.9.{next(_ips) % 250}.{next(_ips) % 250}"
    return c


def page(client, code, factor, **extra):
    return client.get("/tra-cuu", query_string={"ma": code, "xac_thuc": factor, "lang": "en", **extra})


def test_found_with_phone_and_with_id(client, received):
    for factor in ("+84 912.345.678", "0912 345 678", ID_NUMBER, " 031190001234 "):
        response = page(client, received, factor)
        assert response.status_code == 200, factor
        body = response.get_data(as_text=True)
        assert "Received" in body and received in body, factor
        assert "Result due" in body and "How the due date was set" in body
        assert "Processing time: 3 working days" in body
        assert "The dossier was received at the counter" in body
        assert NOT_FOUND_EN not in body


def test_id_is_case_insensitive(unit, client):
    applicant = Applicant(name="Trần Văn B", phone=None, id_type="passport", id_number="B1234567")
    with unit.session() as session, session.begin():
        code = intake.receive_at_counter(
            unit.desk(session, TUE), unit.actor("counter"), unit.intake(applicant=applicant)
        ).code
    assert NOT_FOUND_EN not in page(client, code, "b1234567").get_data(as_text=True)
    assert NOT_FOUND_EN in page(client, code, "b123456").get_data(as_text=True)


def _masked(response, code: str) -> bytes:
    return response.get_data().replace(code.encode(), b"<CODE>")


def test_wrong_factor_is_the_same_answer_as_an_unknown_code(client, received, unit):
    wrong = page(client, received, "0999999999")
    unknown_code = received[:-4] + "9999"
    unknown = page(client, unknown_code, "0999999999")
    assert wrong.status_code == unknown.status_code == 200
    assert NOT_FOUND_EN in wrong.get_data(as_text=True)
    assert _masked(wrong, received) == _masked(unknown, unknown_code)
    api_wrong = client.get("/api/v1/lookup", query_string={"ma": received, "xac_thuc": "0999999999"})
    api_unknown = client.get("/api/v1/lookup", query_string={"ma": unknown_code, "xac_thuc": "0999999999"})
    assert api_wrong.status_code == api_unknown.status_code == 200
    assert _masked(api_wrong, received) == _masked(api_unknown, unknown_code)
    assert api_wrong.get_json()["found"] is False


def test_another_units_code_on_this_host_is_unknown(client, other, received):
    _, other_code = receive(other)
    on_this_host = page(client, other_code, PHONE)
    unknown_code = received[:-4] + "9998"
    assert NOT_FOUND_EN in on_this_host.get_data(as_text=True)
    assert _masked(on_this_host, other_code) == _masked(page(client, unknown_code, PHONE), unknown_code)


def test_other_unit_finds_its_own_code_on_its_own_host(client_for, other):
    _, code = receive(other)
    c = client_for(other.tenant)
    c.environ_base["REMOTE_ADDR"] = "10.8.0.1"
    body = page(c, code, PHONE).get_data(as_text=True)
    assert NOT_FOUND_EN not in body and code in body


def test_same_code_in_two_units_each_host_reads_its_own_schema(client_for, unit, other):
    """The lookup's statement is compiled once per schema: a mix-up between units would show here."""
    _, code = receive(unit)
    other_id, _ = receive(other)
    with other.session() as session, session.begin():
        session.execute(
            update(Dossier).where(Dossier.id == other_id).values(code=code, applicant_phone="0987654321")
        )
    here, there = client_for(unit.tenant), client_for(other.tenant)
    for n, c in enumerate((here, there)):
        c.environ_base["REMOTE_ADDR"] = f"10.7.0.{n + 1}"
    for c, own, foreign in ((here, PHONE, "0987654321"), (there, "0987654321", PHONE)):
        found = page(c, code, own).get_data(as_text=True)
        assert code in found and NOT_FOUND_EN not in found
        assert NOT_FOUND_EN in page(c, code, foreign).get_data(as_text=True)


def test_supplement_items_and_deadline_are_shown(unit, client):
    dossier_id, code = receive(unit)
    act(unit, "transfer", dossier_id, "counter", datetime(2019, 3, 12, 9, 30, tzinfo=VN_TZ))
    act(
        unit,
        "request_supplement",
        dossier_id,
        "officer",
        datetime(2019, 3, 12, 10, 0, tzinfo=VN_TZ),
        items=["Bản sao giấy khai sinh", "Ảnh 4x6"],
        reason="Thiếu giấy tờ",
    )
    body = page(client, code, PHONE).get_data(as_text=True)
    assert "Supplement requested" in body and "What you need to do" in body
    assert "Bản sao giấy khai sinh" in body and "Ảnh 4x6" in body
    assert "Deadline" in body and "11/04/2019" in body  # 30 days after 12/03
    assert "You were asked for more documents" in body
    vi = page(client, code, PHONE, lang="vi").get_data(as_text=True)
    assert "Yêu cầu bổ sung giấy tờ" in vi and "Việc bạn cần làm" in vi
    data = client.get("/api/v1/lookup", query_string={"ma": code, "xac_thuc": ID_NUMBER}).get_json()
    assert data["asked"]["kind"] == "supplement"
    assert data["asked"]["items"] == ["Bản sao giấy khai sinh", "Ảnh 4x6"]
    assert data["status"]["code"] == 5


def test_financial_pause_shows_the_reason(unit, client):
    dossier_id, code = receive(unit)
    act(unit, "transfer", dossier_id, "counter", datetime(2019, 3, 12, 9, 30, tzinfo=VN_TZ))
    act(
        unit,
        "request_payment",
        dossier_id,
        "officer",
        datetime(2019, 3, 12, 10, 0, tzinfo=VN_TZ),
        reason="Lệ phí 8.000 đồng",
    )
    data = client.get("/api/v1/lookup", query_string={"ma": code, "xac_thuc": PHONE}).get_json()
    assert data["asked"] == {
        "kind": "financial",
        "items": [],
        "reason": "Lệ phí 8.000 đồng",
        "deadline_at": None,
    }
    assert "Lệ phí 8.000 đồng" in page(client, code, PHONE).get_data(as_text=True)


def test_json_shape(client, received):
    response = client.get("/api/v1/lookup", query_string={"ma": received, "xac_thuc": PHONE, "lang": "en"})
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {
        "found",
        "code",
        "status",
        "procedure_name",
        "received_at",
        "appointment",
        "explanation",
        "asked",
        "steps",
    }
    assert data["found"] is True and data["code"] == received
    assert data["status"] == {
        "code": 2,
        "name": "Received",
        "name_vi": "Được tiếp nhận",
        "name_en": "Received",
    }
    assert data["appointment"].startswith("2019-03-15")  # 3 working days from Tuesday 09:00
    assert data["explanation"]["vi"][0].startswith("Nhận lúc")
    assert any(line.startswith("Due:") for line in data["explanation"]["en"])
    assert data["asked"] is None
    assert data["steps"][0]["en"] == "The dossier was received at the counter"
    missing = client.get("/api/v1/lookup", query_string={"ma": received})
    assert missing.status_code == 422 and missing.get_json()["code"] == 422


def test_no_personal_data_in_the_answer(client, received):
    for response in (
        page(client, received, PHONE),
        page(client, received, ID_NUMBER, lang="vi"),
        client.get("/api/v1/lookup", query_string={"ma": received, "xac_thuc": ID_NUMBER}),
    ):
        body = response.get_data(as_text=True)
        assert received in body
        for secret in (ID_NUMBER, PHONE, "912345678", ADDRESS, "Nguyễn Thị Hương"):
            assert secret not in body


def test_limit_per_ip(client, received, platform, monkeypatch):
    monkeypatch.setattr(platform.settings, "lookup_limit_per_ip", 3)
    for _ in range(3):
        assert page(client, received, PHONE).status_code == 200
    over = page(client, received, PHONE)
    assert over.status_code == 429
    assert 0 < int(over.headers["Retry-After"]) <= platform.settings.lookup_ip_window_seconds
    assert "Too many lookups" in over.get_data(as_text=True)
    api = client.get("/api/v1/lookup", query_string={"ma": received, "xac_thuc": PHONE})
    assert api.status_code == 429 and "Retry-After" in api.headers
    data = api.get_json()
    assert data["code"] == 429 and data["message_vi"].startswith("Bạn đã tra cứu quá nhiều lần")
    assert data["message_en"].startswith("Too many lookups")
    # another client is not affected
    client.environ_base["REMOTE_ADDR"] = "10.7.7.7"
    assert page(client, received, PHONE).status_code == 200


def test_limit_per_code_counts_failed_factors(client_for, unit, platform, monkeypatch):
    monkeypatch.setattr(platform.settings, "lookup_limit_per_code", 3)
    _, code = receive(unit)
    for n in range(3):
        c = client_for(unit.tenant)
        c.environ_base["REMOTE_ADDR"] = f"10.6.0.{n + 1}"  # different clients: the code's own limit
        assert page(c, code, "0900000000").status_code == 200
    c = client_for(unit.tenant)
    c.environ_base["REMOTE_ADDR"] = "10.6.0.99"
    blocked = page(c, code, PHONE)  # even the right factor waits now
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    # an unknown code is limited the same way, revealing nothing
    unknown = code[:-4] + "9997"
    for _ in range(3):
        assert page(c, unknown, PHONE).status_code == 200
    assert page(c, unknown, PHONE).status_code == 429


def test_successful_lookups_do_not_count_against_the_code(client_for, unit, platform, monkeypatch):
    monkeypatch.setattr(platform.settings, "lookup_limit_per_code", 2)
    _, code = receive(unit)
    for n in range(4):
        c = client_for(unit.tenant)
        c.environ_base["REMOTE_ADDR"] = f"10.5.0.{n + 1}"
        assert page(c, code, PHONE).status_code == 200


def test_exempt_ip_is_not_limited(client, received, platform, monkeypatch):
    monkeypatch.setattr(platform.settings, "lookup_limit_per_ip", 1)
    monkeypatch.setattr(platform.settings, "lookup_limit_per_code", 1)
    monkeypatch.setattr(
        platform.settings, "lookup_exempt_ips", f"192.0.2.1, {client.environ_base['REMOTE_ADDR']}"
    )
    for _ in range(4):
        assert page(client, received, PHONE).status_code == 200
        assert page(client, received, "0900000000").status_code == 200


def test_redis_down_fails_open_with_a_log_line(client, received, app, platform, monkeypatch, caplog):
    monkeypatch.setattr(platform.settings, "lookup_limit_per_ip", 1)
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    monkeypatch.setitem(app.extensions, "motcua.redis", down)
    with caplog.at_level(logging.WARNING, logger="app.portal.lookup"):
        for _ in range(3):
            response = page(client, received, PHONE)
            assert response.status_code == 200
            assert NOT_FOUND_EN not in response.get_data(as_text=True)
        assert page(client, received, "0900000000").status_code == 200
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records)


def test_qr_link_opens_the_page_with_the_code(app, unit, client, received):
    with unit.session() as session, app.app_context():
        url = lookup_url(unit.desk(session), received)
    parts = urlsplit(url)
    assert parts.hostname == f"{unit.tenant.slug}.localhost" and parts.path == "/tra-cuu"
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'value="{received}"' in body and 'for="xac_thuc"' in body and "<h1>" in body
    assert "Kết quả tra cứu" not in body  # no lookup ran yet: nothing was counted or answered


def test_factor_rules():
    assert lookup.normalise_phone("+84 912.345.678") == "0912345678"
    assert lookup.normalise_phone("0912-345-678") == "0912345678"
