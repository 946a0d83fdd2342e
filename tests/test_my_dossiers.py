"""'My dossiers' on the city portal (every unit the citizen used) and on a unit portal (that unit's),
statuses read live from each unit, and the platform index repaired from the unit's own rows."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import delete, select

from app.dossiers import actions, citizen_index, intake, online
from app.dossiers.citizen_models import CitizenDossier
from app.dossiers.models import Dossier
from app.dossiers.online_models import OnlineDraft
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import make_account, sign_in_directly
from tests.test_uploads import pdf_bytes, png_bytes

CSRF = "test-csrf-token"


@pytest.fixture(scope="module")
def unit_a(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def unit_b(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


def _form(unit, op: str) -> dict:
    return {
        "csrf_token": CSRF,
        "op": op,
        "applicant.name": "Lê Văn Nam",
        "applicant.phone": "0987654321",
        "result_delivery": "online",
        f"file_{unit.components[0]}": (io.BytesIO(pdf_bytes()), "don.pdf"),
        f"file_{unit.components[1]}": (io.BytesIO(png_bytes()), "cccd.png"),
    }


def _submit(client, unit, op="submit"):
    response = client.post(
        f"/thu-tuc/{unit.procedure_id}/nop-truc-tuyen",
        data=_form(unit, op),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.text
    return int(re.search(r"/(\d+)$", response.headers["Location"]).group(1))


@pytest.fixture
def filed(platform, client_for, unit_a, unit_b):
    """A citizen with a dossier at A, a draft at A and a dossier at B."""
    citizen = make_account(platform)
    clients = {}
    for unit in (unit_a, unit_b):
        clients[unit.tenant.id] = client_for(unit.tenant)
        sign_in_directly(clients[unit.tenant.id], citizen, unit.tenant)
    a_dossier = _submit(clients[unit_a.tenant.id], unit_a)
    a_draft = _submit(clients[unit_a.tenant.id], unit_a, op="save")
    b_dossier = _submit(clients[unit_b.tenant.id], unit_b)
    return citizen, clients, a_dossier, a_draft, b_dossier


def _code(unit, dossier_id: int) -> str:
    with unit.session() as session:
        return session.get(Dossier, dossier_id).code


def test_the_city_portal_lists_every_unit_with_live_statuses(client_for, unit_a, unit_b, filed):
    citizen, _, a_dossier, a_draft, b_dossier = filed
    city = client_for(None)
    sign_in_directly(city, citizen)
    page = city.get("/ho-so-cua-toi")
    assert page.status_code == 200
    assert unit_a.tenant.name in page.text and unit_b.tenant.name in page.text
    assert _code(unit_a, a_dossier) in page.text and _code(unit_b, b_dossier) in page.text
    assert f"{unit_a.tenant.slug}.localhost/ho-so-nhap/{a_draft}" in page.text
    assert f"{unit_b.tenant.slug}.localhost/ho-so-cua-toi/{b_dossier}" in page.text
    assert page.text.count("Mới đăng ký") == 2
    # The counter of B accepts: the city portal shows it at once (read from B, not copied).
    with unit_b.session() as session, session.begin():
        desk = unit_b.desk(session)
        intake.accept(desk, unit_b.actor("counter"), actions.load(desk, b_dossier))
    page = city.get("/ho-so-cua-toi")
    assert "Được tiếp nhận" in page.text and page.text.count("Mới đăng ký") == 1


def test_a_unit_portal_lists_only_that_units_dossiers(unit_a, unit_b, filed):
    _, clients, a_dossier, a_draft, b_dossier = filed
    page = clients[unit_a.tenant.id].get("/ho-so-cua-toi")
    assert page.status_code == 200
    assert _code(unit_a, a_dossier) in page.text and f"/ho-so-nhap/{a_draft}" in page.text
    assert _code(unit_b, b_dossier) not in page.text


def test_other_people_see_none_of_it(platform, client_for, unit_a, filed):
    _, _, a_dossier, _, _ = filed
    code = _code(unit_a, a_dossier)
    stranger = make_account(platform)
    city = client_for(None)
    sign_in_directly(city, stranger)
    assert code not in city.get("/ho-so-cua-toi").text
    unit = client_for(unit_a.tenant)
    sign_in_directly(unit, stranger, unit_a.tenant)
    assert code not in unit.get("/ho-so-cua-toi").text
    # An official of A (a membership, no dossiers of their own) sees no citizen's dossiers here either.
    official = client_for(unit_a.tenant)
    sign_in_directly(official, unit_a.accounts["counter"], unit_a.tenant)
    assert code not in official.get("/ho-so-cua-toi").text


def test_signing_in_is_needed_on_both_portals(client_for, unit_a):
    for client in (client_for(None), client_for(unit_a.tenant)):
        response = client.get("/ho-so-cua-toi")
        assert (
            response.status_code == 302 and "/dang-nhap?next=/ho-so-cua-toi" in response.headers["Location"]
        )


def test_a_lost_index_row_is_written_again_from_the_unit(platform, client_for, unit_a, unit_b, filed):
    """The platform commit failed after the unit's: the unit portal's list repairs the index."""
    citizen, clients, a_dossier, _, _ = filed
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            delete(CitizenDossier).where(
                CitizenDossier.account_id == citizen.id, CitizenDossier.tenant_id == unit_a.tenant.id
            )
        )
    city = client_for(None)
    sign_in_directly(city, citizen)
    assert unit_a.tenant.name not in city.get("/ho-so-cua-toi").text
    clients[unit_a.tenant.id].get("/ho-so-cua-toi")  # the citizen opens A's portal
    assert _code(unit_a, a_dossier) in city.get("/ho-so-cua-toi").text
    with platform.shards.platform_session() as session:
        rows = session.scalars(
            select(CitizenDossier).where(
                CitizenDossier.account_id == citizen.id, CitizenDossier.tenant_id == unit_a.tenant.id
            )
        ).all()
        assert sorted(r.dossier_code or "" for r in rows) == sorted(["", _code(unit_a, a_dossier)])
        # Writing again changes nothing (idempotent).
    with platform.shards.platform_session() as session, unit_a.session() as unit_session:
        assert citizen_index.reconcile(session, unit_session, citizen.id, unit_a.tenant.id) == 0
        again = session.scalars(select(CitizenDossier).where(CitizenDossier.account_id == citizen.id)).all()
        assert len(again) == 3


def test_a_row_left_for_a_deleted_draft_is_removed(platform, unit_a, filed):
    citizen, clients, _, a_draft, _ = filed
    with unit_a.session() as session, session.begin():
        session.execute(delete(OnlineDraft).where(OnlineDraft.id == a_draft))  # as if the index write failed
    clients[unit_a.tenant.id].get("/ho-so-cua-toi")
    with platform.shards.platform_session() as session:
        rows = session.scalars(
            select(CitizenDossier).where(
                CitizenDossier.account_id == citizen.id, CitizenDossier.tenant_id == unit_a.tenant.id
            )
        ).all()
        assert [r.dossier_code is not None for r in rows] == [True]


def test_an_official_of_a_has_nothing_on_b(client_for, unit_a, unit_b, filed):
    """A's counter officer with A's session carried to B's host: asked to sign in, shown nothing."""
    _, _, _, _, b_dossier = filed
    client = client_for(unit_b.tenant)
    sign_in_directly(client, unit_a.accounts["counter"], unit_a.tenant)  # a session made for unit A
    for path in (
        "/ho-so-cua-toi",
        f"/ho-so-cua-toi/{b_dossier}",
        f"/thu-tuc/{unit_b.procedure_id}/nop-truc-tuyen",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/dang-nhap" in response.headers["Location"], path
    refused = client.post(f"/ho-so-cua-toi/{b_dossier}/bo-sung", data={"csrf_token": CSRF})
    assert refused.status_code == 401


def test_guided_and_payment_dossiers_are_flagged_on_both_portals(client_for, unit_a, unit_b, filed):
    """Action needed: guided in status 1 (form 02 at the counter), supplement (5) and payment (6)."""
    citizen, clients, a_dossier, _, b_dossier = filed
    city = client_for(None)
    sign_in_directly(city, citizen)
    assert "cần bổ sung" not in city.get("/ho-so-cua-toi").text
    with unit_a.session() as session, session.begin():
        desk = unit_a.desk(session)
        dossier = actions.load(desk, a_dossier)
        actions.guide(desk, unit_a.actor("counter"), dossier, items=["Bản sao giấy khai sinh"])
    with unit_b.session() as session, session.begin():
        desk = unit_b.desk(session)
        dossier = actions.load(desk, b_dossier)
        intake.accept(desk, unit_b.actor("counter"), dossier)
        actions.transfer(desk, unit_b.actor("counter"), dossier, to_account_id=unit_b.accounts["officer"].id)
        actions.request_payment(desk, unit_b.actor("officer"), dossier, reason="Lệ phí 50.000 đồng")
    assert city.get("/ho-so-cua-toi").text.count("cần bổ sung") == 2
    assert "cần bổ sung" in clients[unit_a.tenant.id].get("/ho-so-cua-toi").text
    assert "cần bổ sung" in clients[unit_b.tenant.id].get("/ho-so-cua-toi").text


def _many_drafts(platform, unit, citizen, count: int) -> None:
    with unit.session() as session, session.begin(), platform.shards.platform_session() as index:
        desk = unit.desk(session)
        for _ in range(count):
            draft = online.start_draft(desk, citizen.id, unit.procedure_id)
            citizen_index.record(
                index, account_id=citizen.id, tenant_id=unit.tenant.id, reference=draft.reference
            )
        index.commit()


def test_the_lists_are_bounded_and_the_unit_page_is_paginated(platform, client_for, unit_a, filed):
    citizen, clients, a_dossier, _, _ = filed  # two entries at A already
    _many_drafts(platform, unit_a, citizen, 50)
    unit_page = clients[unit_a.tenant.id].get("/ho-so-cua-toi")
    assert unit_page.text.count("/ho-so-nhap/") + unit_page.text.count('class="code"') == 50
    assert "?page=2" in unit_page.text
    second = clients[unit_a.tenant.id].get("/ho-so-cua-toi", query_string={"page": 2})
    assert second.text.count("/ho-so-nhap/") + second.text.count('class="code"') == 2
    assert _code(unit_a, a_dossier) in second.text  # the oldest come last
    assert "?page=1" in second.text and "?page=3" not in second.text
    city = client_for(None)
    sign_in_directly(city, citizen)
    page = city.get("/ho-so-cua-toi")
    assert page.text.count(f"{unit_a.tenant.slug}.localhost/ho-so-nhap/") == 50
    assert "xem tất cả tại cổng của" in page.text
    assert clients[unit_a.tenant.id].get("/ho-so-cua-toi", query_string={"page": "x" * 20}).status_code == 200
