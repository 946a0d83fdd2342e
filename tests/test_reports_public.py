"""Public statistics (/thong-ke) on the city portal and each unit's portal: hand-checked counts per
service level from source dossiers fed through the store, only that unit's figures on a unit's
page, and never an applicant's name, phone or ID number; a rating emits dossier.rated."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from app.catalog.index import sync_tenant
from app.core.outbox_models import OutboxEvent
from app.dossiers.models import Dossier
from app.feedback.models import Rating
from tests.conftest import create_test_tenant
from tests.report_support import D, add_dossiers, feed, report_unit

NAME, PHONE, ID_NUMBER, EMAIL = "Trần Thị Độcnhất", "0987612345", "079199912345", "docnhat@example.vn"
YEAR = {"year": "2026"}


def _seed(app, platform, tenant, specs, rated=()):
    procedures = report_unit(platform, tenant)
    ids = add_dossiers(platform, tenant, procedures, specs)
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        session.execute(
            update(Dossier)
            .where(Dossier.id.in_(ids))
            .values(
                applicant_name=NAME,
                applicant_phone=PHONE,
                applicant_id_type="cccd",
                applicant_id_number=ID_NUMBER,
                applicant_email=EMAIL,
            )
        )
        for index, level in rated:
            session.add(Rating(dossier_id=ids[index], channel="portal", level=level, criteria_scores={}))
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        sync_tenant(session, tenant)
    feed(app, tenant)
    return ids


@pytest.fixture(scope="module")
def units(app, platform, city):
    first = create_test_tenant(platform, city, "commune")
    second = create_test_tenant(platform, city, "commune")
    _seed(
        app,
        platform,
        first,
        [
            D(1, "2026-03-02", due="2026-03-10", done="2026-03-05"),  # level 3, early
            D(2, "2026-03-02", due="2026-03-10", returned="2026-03-10"),  # level 3, on time
            D(2, "2026-03-03", due="2026-03-05", done="2026-03-09", procedure=1),  # level 4, late
            D(1, "2026-03-04", due="2026-12-30", procedure=1),  # level 4, pending
        ],
        rated=[(1, 5), (2, 2)],
    )
    _seed(app, platform, second, [D(2, "2026-03-02", due="2026-03-10", done="2026-03-03")])
    return first, second


def _no_personal_data(html: str) -> None:
    for secret in (NAME, PHONE, ID_NUMBER, EMAIL, "Độcnhất", "0987612", "079199912"):
        assert secret not in html


def _row(html: str, label: str) -> list[str]:
    match = re.search(r"<tr[^>]*>\s*<th scope=\"row\">" + re.escape(label) + r"(.*?)</tr>", html, re.S)
    assert match, label
    return re.findall(r"<td>(.*?)</td>", match.group(1))


def test_unit_page_counts_per_level(client_for, units):
    first, _ = units
    page = client_for(first).get("/thong-ke", query_string=YEAR)
    assert page.status_code == 200
    _no_personal_data(page.text)
    assert first.name in page.text
    # received, processed, pending, early n %, on time n %, late n %
    assert _row(page.text, "Mức độ 3") == ["2", "2", "0", "1", "50.0%", "1", "50.0%", "0", "0.0%"]
    assert _row(page.text, "Mức độ 4") == ["2", "1", "1", "0", "0.0%", "0", "0.0%", "1", "100.0%"]
    assert _row(page.text, "Tổng cộng") == ["4", "3", "1", "1", "33.3%", "1", "33.3%", "1", "33.3%"]
    # procedures offered per level: one at level 3, one at level 4
    assert 'aria-labelledby="chart-' in page.text and "<title id=" in page.text
    assert "Số hồ sơ được đánh giá" in page.text and "<strong>2</strong>" in page.text


def test_unit_page_shows_only_that_unit(client_for, units):
    _, second = units
    page = client_for(second).get("/thong-ke", query_string=YEAR)
    assert page.status_code == 200
    assert _row(page.text, "Tổng cộng") == ["1", "1", "0", "1", "100.0%", "0", "0.0%", "0", "0.0%"]
    assert units[0].name not in page.text
    _no_personal_data(page.text)


def test_city_page(client_for, units):
    page = client_for().get("/thong-ke", query_string=YEAR)
    assert page.status_code == 200
    _no_personal_data(page.text)
    received = int(_row(page.text, "Tổng cộng")[0])
    assert received >= 5  # both units' dossiers (and any other unit's of this database)
    assert "Toàn thành phố" in page.text and page.text.count('<svg role="img"') == 2


def test_city_home_links_to_statistics(client_for, units):
    home = client_for().get("/")
    assert home.status_code == 200
    assert 'href="/thong-ke"' in home.text and "(#7)" not in home.text


def test_bad_year_is_400(client_for, units):
    for year in ("abc", "1999", "9999", "２０２６"):
        page = client_for(units[0]).get("/thong-ke", query_string={"year": year})
        assert page.status_code == 400, year


def test_unknown_host_has_no_statistics(client_for, units):
    assert client_for(host="nobody-here.localhost").get("/thong-ke").status_code == 404


def test_rating_emits_dossier_rated(app, platform, client_for, units):
    first, _ = units
    from app.feedback import ratings

    with platform.shards.tenant_session(first.shard, first.schema_name) as session:
        dossier = session.scalar(select(Dossier).where(Dossier.status == 10))
    with (
        app.test_request_context(),
        platform.shards.tenant_session(first.shard, first.schema_name) as session,
    ):
        with session.begin():
            # the fixture's rating is dropped so the citizen can rate it through the real path
            session.execute(Rating.__table__.delete().where(Rating.dossier_id == dossier.id))
            rating = ratings.rate(session, dossier.code, PHONE, ratings.RatingInput(ratings.SATISFIED))
            assert rating is not None
        event = session.scalar(
            select(OutboxEvent)
            .where(
                OutboxEvent.topic == "dossier.rated",
                OutboxEvent.payload["dossier_id"].as_integer() == dossier.id,
            )
            .order_by(OutboxEvent.id.desc())
        )
    assert event is not None
