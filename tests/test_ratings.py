"""Satisfaction ratings: once per returned dossier, proven like the status lookup, and the unit's list."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

import pytest
from redis import Redis
from sqlalchemy import select

from app.calendar.workcal import VN_TZ
from app.dossiers import actions, intake
from app.dossiers.intake import Applicant
from app.feedback import ratings
from app.feedback.models import Rating
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import csrf_from, login, make_account

TUE = datetime(2019, 3, 12, 9, 0, tzinfo=VN_TZ)
PHONE = "0912345678"
ID_NUMBER = "031190001234"
NOT_FOUND_EN = "Dossier not found or details do not match"
ALREADY_EN = "already been rated"
NOT_RETURNED_EN = "only after its result has been returned"
_ips = itertools.count(1)


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def other(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(autouse=True)
def fresh_limits(app):
    redis = Redis.from_url(app.extensions["motcua"].settings.redis_url)
    for key in redis.scan_iter("lookup:*"):
        redis.delete(key)


def _client(client_for, tenant):
    c = client_for(tenant)
    c.environ_base["REMOTE_ADDR"] = f"10.8.{next(_ips) % 250}.{next(_ips) % 250}"
    return c


@pytest.fixture
def client(client_for, unit):
    return _client(client_for, unit.tenant)


def act(unit, name: str, dossier_id: int, who: str, now: datetime):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        getattr(actions, name)(desk, unit.actor(who), actions.load(desk, dossier_id))


def received(unit) -> tuple[int, str]:
    applicant = Applicant(name="Nguyễn Thị Hương", phone=PHONE, id_type="cccd", id_number=ID_NUMBER)
    with unit.session() as session, session.begin():
        dossier = intake.receive_at_counter(
            unit.desk(session, TUE), unit.actor("counter"), unit.intake(applicant=applicant)
        )
        return dossier.id, dossier.code


def returned(unit) -> tuple[int, str]:
    dossier_id, code = received(unit)
    for hours, (name, who) in enumerate(
        (
            ("transfer", "counter"),
            ("forward", "officer"),
            ("forward", "head_div"),
            ("complete", "head"),
            ("return_result", "counter"),
        ),
        start=1,
    ):
        act(unit, name, dossier_id, who, TUE + timedelta(hours=hours))
    return dossier_id, code


def post(client, code, factor, level="5", **extra):
    token = csrf_from(client, "/danh-gia")
    data = {"csrf_token": token, "ma": code, "xac_thuc": factor, "level": level, **extra}
    return client.post("/danh-gia?lang=en", data=data)


def ratings_of(unit, dossier_id: int) -> list[Rating]:
    with unit.session() as session:
        return list(session.scalars(select(Rating).where(Rating.dossier_id == dossier_id)))


def _masked(response, code: str) -> bytes:
    body = re.sub(rb'name="csrf_token" value="[^"]*"', b"", response.get_data())
    return body.replace(code.encode(), b"<CODE>")


def test_rate_once_then_409(unit, client):
    dossier_id, code = returned(unit)
    form = client.get("/danh-gia", query_string={"ma": code})
    assert form.status_code == 200 and f'value="{code}"' in form.text
    response = post(
        client, code, "+84 912 345 678", level="4", criteria_time="5", criteria_attitude="2", comment=" Tốt "
    )
    assert response.status_code == 201, response.text
    assert "Thank you for your rating" in response.text
    [rating] = ratings_of(unit, dossier_id)
    assert rating.level == ratings.SATISFIED and rating.channel == "portal"
    assert rating.criteria_scores == {"time": 5, "attitude": 2}
    assert rating.comment == "Tốt"
    # The official who handed the result over is stored, not shown to the citizen.
    assert rating.official_account_id == unit.accounts["counter"].id
    assert unit.accounts["counter"].full_name not in response.text
    again = post(client, code, ID_NUMBER, level="2")
    assert again.status_code == 409
    assert ALREADY_EN in again.text
    assert len(ratings_of(unit, dossier_id)) == 1


def test_before_status_10_is_refused_clearly(unit, client):
    dossier_id, code = received(unit)
    response = post(client, code, PHONE)
    assert response.status_code == 409
    assert NOT_RETURNED_EN in response.text
    assert ratings_of(unit, dossier_id) == []


def test_bad_answers_are_422_and_write_nothing(unit, client):
    dossier_id, code = returned(unit)
    for extra in ({"level": ""}, {"level": "3"}, {"criteria_time": "9"}, {"comment": "x" * 1001}):
        response = post(client, code, PHONE, **{"level": "5", **extra})
        assert response.status_code == 422, extra
        assert "Choose a satisfaction level" in response.text
    assert ratings_of(unit, dossier_id) == []


def test_csrf_is_required(unit, client):
    _, code = returned(unit)
    response = client.post("/danh-gia", data={"ma": code, "xac_thuc": PHONE, "level": "5"})
    assert response.status_code == 400


def test_wrong_factor_is_the_same_answer_as_an_unknown_code(unit, client):
    dossier_id, code = returned(unit)
    unknown_code = code[:-4] + "9999"
    wrong = post(client, code, "0999999999")
    unknown = post(client, unknown_code, "0999999999")
    assert wrong.status_code == unknown.status_code == 404
    assert NOT_FOUND_EN in wrong.text
    assert _masked(wrong, code) == _masked(unknown, unknown_code)
    assert ratings_of(unit, dossier_id) == []


def test_the_lookups_rate_limit_applies(app, unit, client):
    _, code = returned(unit)
    limit = app.extensions["motcua"].settings.lookup_limit_per_code
    for _ in range(limit):
        assert post(client, code, "0999999999").status_code == 404
    limited = post(client, code, PHONE)
    assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_another_units_code_on_this_host_is_unknown(unit, other, client):
    other_id, other_code = returned(other)
    response = post(client, other_code, PHONE)
    assert response.status_code == 404 and NOT_FOUND_EN in response.text
    assert ratings_of(other, other_id) == []


def test_lookup_links_to_the_rating_form_only_when_returned(unit, client):
    _, done = returned(unit)
    _, pending = received(unit)
    link = "Rate your satisfaction"
    assert link in client.get("/tra-cuu", query_string={"ma": done, "xac_thuc": PHONE, "lang": "en"}).text
    assert (
        link not in client.get("/tra-cuu", query_string={"ma": pending, "xac_thuc": PHONE, "lang": "en"}).text
    )


def _backoffice(client_for, unit, name: str):
    c = _client(client_for, unit.tenant)
    assert login(c, unit.accounts[name].email).status_code == 302
    return c


def _counts(page_text: str) -> dict[int, int]:
    return {int(k): int(v) for k, v in re.findall(r'data-level="(\d)">(\d+)<', page_text)}


def test_backoffice_counts_per_level_and_stays_in_its_unit(platform, city, client_for):
    a = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    b = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    codes = []
    for level in ("5", "5", "4", "2"):
        _, code = returned(a)
        assert (
            post(_client(client_for, a.tenant), code, PHONE, level=level, comment="A-" + code).status_code
            == 201
        )
        codes.append(code)
    page = _backoffice(client_for, a, "head").get("/backoffice/ratings?lang=en")
    assert page.status_code == 200
    assert _counts(page.text) == {5: 2, 4: 1, 2: 1}
    assert all(code in page.text for code in codes)
    assert a.accounts["counter"].full_name in page.text
    assert 'href="/backoffice/ratings"' in page.text
    other_page = _backoffice(client_for, b, "admin").get("/backoffice/ratings?lang=en")
    assert other_page.status_code == 200
    assert _counts(other_page.text) == {5: 0, 4: 0, 2: 0}
    assert not any(code in other_page.text for code in codes)
    # A's official on B's host: a session from A is worth nothing there.
    a_head = _backoffice(client_for, a, "head")
    a_head.host = f"{b.tenant.slug}.localhost"
    assert a_head.get("/backoffice/ratings").status_code in (302, 401, 403)


def test_backoffice_is_for_head_of_unit_and_unit_admin(platform, unit, client_for):
    for name in ("counter", "officer", "head_div", "fees"):
        c = _backoffice(client_for, unit, name)
        assert c.get("/backoffice/ratings").status_code == 403, name
        assert 'href="/backoffice/ratings"' not in c.get("/backoffice/").text
    assert _backoffice(client_for, unit, "admin").get("/backoffice/ratings").status_code == 200
    assert client_for(unit.tenant).get("/backoffice/ratings").status_code == 302
    stranger = make_account(platform, memberships=[])
    c = _client(client_for, unit.tenant)
    login(c, stranger.email)
    assert c.get("/backoffice/ratings").status_code in (302, 403)
