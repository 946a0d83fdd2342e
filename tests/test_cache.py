"""The per-process unit caches (app/core/cache.py) under threads, and around commits and rollbacks.

Real tenant sessions on the real PostgreSQL; the calendar cache is exercised with real rows.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest

from app.calendar.models import CalendarDay
from app.calendar.workcal import CALENDARS, unit_calendar
from app.core.cache import UnitCache, scope_of

DAY_OFF = date(2031, 3, 12)  # a Wednesday


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district")


@pytest.fixture
def session(platform, unit):
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        yield session


def test_forget_while_other_threads_fill_the_cache(session):
    # Under gunicorn threads one request's after_commit forget() ran while others inserted:
    # iterating the dict then raised "dictionary changed size during iteration".
    cache = UnitCache(ttl=60)
    scope = scope_of(session)
    for i in range(50_000):
        cache.get(session, ("seed", i), int)
    errors: list[BaseException] = []
    stop = threading.Event()

    def fill(offset: int) -> None:
        try:
            n = 0
            while not stop.is_set():
                cache.get(session, ("fill", offset, n), int)
                n = (n + 1) % 100_000
        except BaseException as exc:  # any failure here is the bug
            errors.append(exc)

    def forget() -> None:
        try:
            for _ in range(50):
                cache.forget(scope)
                for i in range(2_000):  # refill, so the next forget has a long walk
                    cache.get(session, ("seed", i), int)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=fill, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=forget))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def test_a_load_that_began_before_a_forget_is_not_stored(session):
    cache = UnitCache(ttl=60)
    loading, release = threading.Event(), threading.Event()
    loads: list[str] = []

    def slow_old_load() -> str:
        loads.append("old")
        loading.set()
        release.wait(10)
        return "old"  # what the database said before the change

    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.append(cache.get(session, "calendar", slow_old_load)))
    reader.start()
    assert loading.wait(10)
    cache.forget(scope_of(session))  # the change commits while the load is under way
    release.set()
    reader.join(10)
    assert seen == ["old"]  # its caller still gets what it read

    def new_load() -> str:
        loads.append("new")
        return "new"

    assert cache.get(session, "calendar", new_load) == "new"  # the stale value was not kept
    assert cache.get(session, "calendar", new_load) == "new"
    assert loads == ["old", "new"]


def test_other_units_are_unaffected_by_a_forget(session, platform, make_tenant):
    other = make_tenant("district")
    cache = UnitCache(ttl=60)
    with platform.shards.tenant_session(other.shard, other.schema_name) as other_session:
        cache.get(session, "k", lambda: "mine")
        cache.get(other_session, "k", lambda: "theirs")
        cache.forget(scope_of(session))
        assert cache.get(other_session, "k", lambda: "reloaded") == "theirs"
        assert cache.get(session, "k", lambda: "reloaded") == "reloaded"


def test_calendar_read_inside_an_uncommitted_change_is_not_cached(platform, unit):
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        assert unit_calendar(session).is_working_day(DAY_OFF)  # cached as it is now
        session.add(CalendarDay(day=DAY_OFF, kind="day_off", source="tenant", note="Kiểm kê"))
        session.flush()
        CALENDARS.forget_after_commit(session)
        # This transaction sees its own day off; the cache must not keep it: it may roll back.
        assert not unit_calendar(session).is_working_day(DAY_OFF)
        session.rollback()
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        assert unit_calendar(session).is_working_day(DAY_OFF)


def test_calendar_change_is_seen_once_committed_and_caching_resumes(platform, unit):
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        assert unit_calendar(session).is_working_day(DAY_OFF)
        session.add(CalendarDay(day=DAY_OFF, kind="day_off", source="tenant", note="Kiểm kê"))
        session.flush()
        CALENDARS.forget_after_commit(session)
        session.commit()
        calendar = unit_calendar(session)
        assert not calendar.is_working_day(DAY_OFF)
        assert unit_calendar(session) is calendar  # stored again after the commit
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        assert unit_calendar(session) is calendar
