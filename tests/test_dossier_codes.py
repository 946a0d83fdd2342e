"""Dossier codes: per unit and day, consecutive, no gaps or duplicates under concurrent intake."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import pytest
from sqlalchemy import select

from app.calendar.workcal import VN_TZ
from app.dossiers import intake
from app.dossiers.codes import format_code
from app.dossiers.models import Dossier
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit

DAY = datetime(2019, 6, 4, 9, 0, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


def test_format_pads_to_four_and_grows_past_9999():
    assert format_code("000.17.22.H99", date(2023, 10, 27), 361) == "000.17.22.H99-231027-0361"
    assert format_code("000.17.22.H99", date(2023, 10, 27), 10000).endswith("-10000")


def test_twenty_parallel_intakes_get_twenty_consecutive_numbers(unit):
    start = threading.Barrier(20)

    def one(_):
        with unit.session() as session, session.begin():
            desk = unit.desk(session, DAY)
            start.wait(timeout=30)  # all twenty ask for a number at the same moment
            return intake.receive_at_counter(desk, unit.actor("counter"), unit.intake()).code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(one, range(20)))
    prefix = f"{unit.tenant.unit_code}-190604-"
    assert all(code.startswith(prefix) for code in codes)
    assert sorted(int(code.removeprefix(prefix)) for code in codes) == list(range(1, 21))


def test_each_unit_and_day_counts_on_its_own(unit, platform, city):
    other = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    next_day = datetime(2019, 6, 5, 9, 0, tzinfo=VN_TZ)
    assert receive(other, DAY) == f"{other.tenant.unit_code}-190604-0001"
    assert receive(unit, next_day) == f"{unit.tenant.unit_code}-190605-0001"
    with unit.session() as session:
        foreign = select(Dossier).where(Dossier.code.startswith(other.tenant.unit_code))
        assert not session.scalars(foreign).all()


def receive(unit, now) -> str:
    with unit.session() as session, session.begin():
        return intake.receive_at_counter(unit.desk(session, now), unit.actor("counter"), unit.intake()).code
