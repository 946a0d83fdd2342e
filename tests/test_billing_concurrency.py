"""Issue #6, "Must hold": 10,000 dossier intakes across 20 units in parallel, with injected
retries and a real worker killed during aggregation -> the facts equal the source counts
exactly and the independent recount reports no difference.

The intakes are the real ``intake.receive_at_counter`` (metered by app/dossiers/metering.py in
its own transaction), in four writer processes with their own apps, five units on shard s2.
Injected faults: every 7th intake's transaction fails after doing all its work and is
retried from scratch; every 11th is replayed after it committed (its action and form are
metered again in a new transaction, as a re-delivered job would); every 13th records its
events twice inside the transaction. An aggregation runs while the writers write. Then a
``flask jobs worker`` process runs the aggregation job, is held on one unit's lock and
SIGKILLed there; that unit keeps its previous facts; a second worker completes the job.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import random
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app import create_app
from app.auth.models import Account
from app.calendar.workcal import VN_TZ
from app.core.jobs import enqueue_for_platform, get_queue
from app.dossiers import intake, metering
from app.dossiers.models import Dossier, DossierAction, FormDocument
from billing.aggregate import LOCK_CLASS, aggregate_all
from billing.models import DailyFact
from billing.recount import recount
from billing.verify import verify
from tenants.models import Tenant
from tests import dossier_fixtures
from tests.conftest import app_config, create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.jobs_fixtures import ROOT, run_worker
from tests.test_auth_support import make_account

UNITS = 20
ON_S2 = 5
INTAKES = int(os.environ.get("MOTCUA_BILLING_INTAKES", "10000"))  # a smaller number while developing
PROCESSES = 4  # writer processes (threads would share one GIL)
DAYS = (date(2026, 4, 14), date(2026, 4, 15))


class InjectedFailure(RuntimeError):
    pass


@contextlib.contextmanager
def counter_officer_only():
    """build_unit staffs its units with their counter officer only, who has no password."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dossier_fixtures, "make_account", functools.partial(make_account, password=None))
        patch.setattr(dossier_fixtures, "STAFF", {"counter": dossier_fixtures.STAFF["counter"]})
        yield


def _district(platform, city, shard: str):
    return build_unit(
        platform, lambda kind: create_test_tenant(platform, city, kind, shard=shard), kind="district"
    )


def counter_unit(platform, city, shard: str = "main"):
    """A district ready for counter intake, staffed by its counter officer only, who has no
    password (hashing one takes a quarter of a second)."""
    with counter_officer_only():
        return _district(platform, city, shard)


@pytest.fixture(scope="module")
def units(platform, city):
    """Twenty units, five on s2; built four at a time (one by one, their schemas took ~10 s)."""
    with counter_officer_only(), ThreadPoolExecutor(max_workers=4) as pool:
        shards = ["s2" if n < ON_S2 else "main" for n in range(UNITS)]
        # The first unit on s2 alone: it registers the shard, and two at once race on that row.
        first = _district(platform, city, shards[0])
        return [first, *pool.map(lambda shard: _district(platform, city, shard), shards[1:])]


def one_intake(unit, n: int) -> str:
    """The n-th intake of ``unit``, with its injected fault; returns the dossier code."""
    day = DAYS[n % 2]
    now = datetime(day.year, day.month, day.day, 8, tzinfo=VN_TZ) + timedelta(seconds=n)
    attempts = 2 if n % 7 == 3 else 1
    for attempt in range(attempts):
        try:
            with unit.session() as session, session.begin():
                desk = unit.desk(session, now)
                actor = unit.actor("counter")
                dossier = intake.receive_at_counter(desk, actor, unit.intake())
                if n % 13 == 5:  # the same events recorded twice in one transaction
                    session.flush()
                    row = session.scalars(
                        select(DossierAction).where(DossierAction.dossier_id == dossier.id)
                    ).one()
                    metering.action_recorded(desk, actor, dossier, row)
                if attempt < attempts - 1:
                    raise InjectedFailure("the transaction fails after all its work; the caller retries")
                code = dossier.code
        except InjectedFailure:
            continue
    if n % 11 == 4:  # the committed intake replayed: its metering calls again, in a new transaction
        with unit.session() as session, session.begin():
            desk = unit.desk(session, now)
            dossier = session.scalars(select(Dossier).where(Dossier.code == code)).one()
            row = session.scalars(select(DossierAction).where(DossierAction.dossier_id == dossier.id)).one()
            metering.action_recorded(desk, unit.actor("counter"), dossier, row)
            for form in session.scalars(select(FormDocument).where(FormDocument.dossier_id == dossier.id)):
                metering.form_issued(desk, form)
    return code


# -- writer processes: each has its own app (engines, pools), as a web process would ----------

_writer: dict = {}


def unit_spec(unit) -> dict:
    return {
        "tenant_id": unit.tenant.id,
        "account_id": unit.accounts["counter"].id,
        "procedure_id": unit.procedure_id,
        "components": unit.components,
    }


def start_writer(config: dict) -> None:
    _writer["app"] = create_app(config)
    _writer["units"] = {}


def write_intake(task: tuple[dict, int]) -> str:
    spec, n = task
    units = _writer["units"]
    if spec["tenant_id"] not in units:
        platform = _writer["app"].extensions["motcua"]
        with platform.shards.platform_session() as session:
            tenant = session.get(Tenant, spec["tenant_id"])
            account = session.get(Account, spec["account_id"])
        units[spec["tenant_id"]] = dossier_fixtures.OneStopUnit(
            platform,
            tenant,
            accounts={"counter": account},
            procedure_id=spec["procedure_id"],
            components=spec["components"],
        )
    return one_intake(units[spec["tenant_id"]], n)


def start_worker(services) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": services["database_url"],
        "SHARD_URLS": f"s2={services['shard2_url']}",
        "REDIS_URL": services["redis_url"],
        "FLASK_APP": "wsgi.py",
        "LOG_FORMAT": "plain",
        "PYTHONPATH": str(ROOT),
    }
    command = [str(ROOT / ".venv/bin/flask"), "jobs", "worker", "-q", "low"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def facts_by_tenant(platform, ids) -> dict[int, list[tuple]]:
    with platform.shards.platform_session() as session:
        rows = session.scalars(
            select(DailyFact)
            .where(DailyFact.tenant_id.in_(ids))
            .order_by(DailyFact.tenant_id, DailyFact.day, DailyFact.metric, DailyFact.dimension)
        )
        facts: dict[int, list[tuple]] = {i: [] for i in ids}
        for f in rows:
            facts[f.tenant_id].append(
                (f.id, f.day, f.metric, f.dimension, f.event_count, f.quantity_sum, f.content_hash)
            )
        return facts


def test_ten_thousand_parallel_intakes_with_retries_and_a_killed_worker_bill_exactly(
    app, platform, services, units
):
    per_unit = INTAKES // UNITS
    work = [(unit, n) for unit in units for n in range(per_unit)]
    random.Random(6).shuffle(work)
    codes: list[str] = []
    ids = [unit.tenant.id for unit in units]
    specs = {unit.tenant.id: unit_spec(unit) for unit in units}
    tasks = [(specs[unit.tenant.id], n) for unit, n in work]
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES, initializer=start_writer, initargs=(app_config(services),)) as pool:
        for code in pool.imap_unordered(write_intake, tasks, chunksize=20):
            codes.append(code)
            if len(codes) == len(work) // 2:
                # An aggregation of the intakes' days while the writers write: it counts what
                # committed before its cut-off (without the days, the late window from today
                # would not reach them and this run would count nothing).
                with app.app_context():
                    runs = aggregate_all(first_day=DAYS[0], last_day=DAYS[-1], tenant_ids=ids)
                assert sum(run.events for run in runs) > 0
    assert len(set(codes)) == len(codes) == per_unit * UNITS

    # A real worker runs the aggregation job and is killed while one unit's transaction waits.
    held = sorted(u.tenant.id for u in units if u.tenant.shard == "main")[(UNITS - ON_S2) // 2]
    before = facts_by_tenant(platform, ids)
    with platform.shards.primary.connect() as blocker:
        blocker.execute(text("SELECT pg_advisory_lock(:c, :t)"), {"c": LOCK_CLASS, "t": held})
        with app.app_context():
            # Only this job: one an earlier test file left on this worker's queue (a periodic
            # aggregation with its 60 s settle) would run first and count less than this one.
            get_queue("low").empty()
            enqueue_for_platform("low", "billing.aggregate.aggregate_job", settle_seconds=0)
        worker = start_worker(services)
        try:

            def waiting() -> bool:
                return bool(
                    blocker.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                            " AND classid = :c AND objid = :t"
                        ),
                        {"c": LOCK_CLASS, "t": held},
                    ).scalar_one()
                )

            wait_for(waiting, "the worker to reach the held unit", seconds=120)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        blocker.execute(text("SELECT pg_advisory_unlock(:c, :t)"), {"c": LOCK_CLASS, "t": held})
        blocker.commit()
    during = facts_by_tenant(platform, ids)
    assert during[held] == before[held]  # the killed transaction left the previous facts
    assert any(during[i] != before[i] for i in ids if i < held)  # units before it were done

    with app.app_context():
        enqueue_for_platform("low", "billing.aggregate.aggregate_job", settle_seconds=0)
    run_worker(services, "-q", "low", timeout=300)

    # Facts equal the source counts exactly.
    expected = Counter()
    for unit in units:
        with unit.session() as session:
            for day, channel, count in session.execute(
                text(
                    "SELECT (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, channel, count(*)"
                    f' FROM "{unit.tenant.schema_name}".dossiers GROUP BY 1, 2'
                )
            ):
                assert channel == intake.COUNTER
                expected[(unit.tenant.id, day)] = count
    assert sum(expected.values()) == per_unit * UNITS
    final = facts_by_tenant(platform, ids)
    received = Counter()
    for tenant_id, facts in final.items():
        for _, day, metric, dimension, count, quantity, _ in facts:
            if metric == "dossiers_received":
                assert dimension == "counter" and count == quantity
                received[(tenant_id, day)] = quantity
            if metric == "documents_generated":
                assert (dimension, quantity) == ("01", expected[(tenant_id, day)])
            if metric == "active_officials":
                assert quantity == 1  # one counter officer per unit and day
    assert received == expected
    with app.app_context():
        rows = recount(DAYS[0], DAYS[-1] + timedelta(days=1), ids)
        assert [r for r in rows if r.difference] == []
        assert {(r.metric, r.dimension) for r in rows} == {
            ("dossiers_received", "counter"),
            ("documents_generated", "01"),
            ("active_officials", ""),
        }
        assert sum(r.source for r in rows if r.metric == "dossiers_received") == per_unit * UNITS
        result = verify(ids, invoices=False)
    assert result.ok, result.problems
    assert result.checked["events"] == per_unit * UNITS * 2 + UNITS * len(DAYS)
