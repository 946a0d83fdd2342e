"""The shard-local outbox: events commit with the action and reach their handler exactly once."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.catalog.models import Sector
from app.core import outbox
from app.core.db import bind_tenant, close_scope, commit_scope, tenant_db
from app.core.jobs import get_queue
from app.core.outbox import (
    NO_HANDLER,
    OutboxEvent,
    drain_outbox,
    emit_event,
    outbox_handler,
    outbox_stats,
    relay_outbox,
    unregister_handler,
)
from tenants.resolution import TenantRef
from tests.conftest import app_config
from tests.jobs_fixtures import PrivateRedis, record_events, run_worker


@pytest.fixture(autouse=True)
def _kicks_enabled(monkeypatch):
    monkeypatch.setattr(outbox, "_kicks_paused_until", 0.0)


@pytest.fixture
def redis(services):
    return Redis.from_url(services["redis_url"])


def emit(app, tenant, topic: str, payload: dict, *, sector: str | None = None) -> uuid.UUID:
    """A tenant transaction that writes a sector (optionally) and an event, committed at the edge."""
    with app.app_context():
        bind_tenant(TenantRef.of(tenant))
        try:
            if sector:
                tenant_db().add(Sector(code=sector, name="with event"))
            event = emit_event(tenant_db(), topic, payload)
            commit_scope()
        finally:
            close_scope()
    return event.event_id


def rows(platform, shard: str, event_ids) -> dict[uuid.UUID, OutboxEvent]:
    with Session(platform.shards.engine(shard)) as session:
        found = session.scalars(select(OutboxEvent).where(OutboxEvent.event_id.in_(list(event_ids))))
        return {row.event_id: row for row in found}


def make_due(platform, shard: str, event_ids) -> None:
    """Time passes: the events' backoff is over."""
    with Session(platform.shards.engine(shard)) as session, session.begin():
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.event_id.in_(list(event_ids)))
            .values(next_attempt_at=OutboxEvent.created_at)
        )


def relay(app, shard: str = "main", batch_size: int = 500):
    with app.app_context():
        return relay_outbox(shard, batch_size)


def received(redis, key: str) -> list[str]:
    return [value.decode() for value in redis.lrange(key, 0, -1)]


def test_event_commits_with_the_action_or_not_at_all(app, platform, make_tenant, redis):
    tenant = make_tenant()
    with app.app_context():
        bind_tenant(TenantRef.of(tenant))
        tenant_db().add(Sector(code="rolled-back", name="x"))
        lost = emit_event(tenant_db(), "test.record", {"list": "unused"})
        close_scope(RuntimeError("the action failed"))
    redis.delete("motcua:outbox:kick:main")
    queued_before = get_queue_ids(app)

    kept = emit(app, tenant, "test.record", {"list": "unused"}, sector="committed")

    assert rows(platform, "main", [lost.event_id]) == {}
    row = rows(platform, "main", [kept])[kept]
    assert (row.tenant_id, row.topic, row.delivered_at, row.attempts) == (tenant.id, "test.record", None, 0)
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        assert session.scalars(select(Sector.code)).all() == ["committed"]
    # The commit kicked a relay for the tenant's shard.
    kicks = [job for job in get_queue_jobs(app) if job.id not in queued_before]
    assert [job.args[:2] for job in kicks] == [("app.core.outbox.drain_outbox", ["main"])]


def get_queue_ids(app) -> set[str]:
    with app.app_context():
        return set(get_queue("outbox").job_ids)


def get_queue_jobs(app):
    with app.app_context():
        return get_queue("outbox").jobs


def test_relay_delivers_each_topic_in_one_batch_exactly_once(app, platform, make_tenant, redis):
    tenant = make_tenant()
    key = f"test:relay:{uuid.uuid4().hex}"
    records = [emit(app, tenant, "test.record", {"list": key}) for _ in range(3)]
    sector_event = emit(app, tenant, "test.sector", {})

    result = relay(app)

    assert result.delivered >= 4
    assert sorted(received(redis, key)) == sorted(str(e) for e in records)
    assert received(redis, f"{key}:batches") == ["3"]
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        assert session.scalars(select(Sector.name).where(Sector.code == sector_event.hex)).all() == [
            tenant.slug
        ]
    assert all(
        row.delivered_at is not None for row in rows(platform, "main", [*records, sector_event]).values()
    )

    relay(app)
    make_due(platform, "main", records)
    relay(app)
    assert len(received(redis, key)) == 3


def test_tenants_on_another_shard_use_that_shards_outbox(app, platform, make_tenant, redis):
    tenant = make_tenant(shard="s2")
    key = f"test:s2:{uuid.uuid4().hex}"
    event_id = emit(app, tenant, "test.record", {"list": key})
    assert rows(platform, "main", [event_id]) == {}

    relay(app, "s2")

    assert received(redis, key) == [str(event_id)]
    assert rows(platform, "s2", [event_id])[event_id].delivered_at is not None


def test_failing_handler_is_retried_with_backoff_without_blocking_other_topics(
    app, platform, make_tenant, redis
):
    tenant = make_tenant()
    key = f"test:flaky:{uuid.uuid4().hex}"
    flaky = emit(app, tenant, "test.flaky", {"list": key, "fail_times": 2})
    steady = emit(app, tenant, "test.record", {"list": key + ":steady"})

    result = relay(app)

    assert result.errors["test.flaky"] == "RuntimeError: flaky consumer is down"
    assert received(redis, key + ":steady") == [str(steady)]
    row = rows(platform, "main", [flaky])[flaky]
    assert (row.attempts, row.delivered_at, row.last_error) == (
        1,
        None,
        "RuntimeError: flaky consumer is down",
    )
    assert 4 <= (row.next_attempt_at - row.created_at).total_seconds() <= 6  # first backoff: 5 s
    stats = next(t for t in outbox_stats_of(app, "main").topics if t.topic == "test.flaky")
    assert stats.failing >= 1 and stats.failed_attempts >= 1

    relay(app)  # not due yet: nothing happens
    assert rows(platform, "main", [flaky])[flaky].attempts == 1

    make_due(platform, "main", [flaky])
    relay(app)
    row = rows(platform, "main", [flaky])[flaky]
    assert row.attempts == 2
    assert 9 <= (row.next_attempt_at - row.created_at).total_seconds() <= 12  # doubled: 10 s

    make_due(platform, "main", [flaky])
    relay(app)
    row = rows(platform, "main", [flaky])[flaky]
    assert row.delivered_at is not None and row.last_error is None
    assert received(redis, key) == [str(flaky)]


def outbox_stats_of(app, shard):
    with app.app_context():
        return outbox_stats(shard)


def test_events_without_a_handler_wait_and_are_counted(app, platform, make_tenant, redis):
    tenant = make_tenant()
    topic = f"test.later.{uuid.uuid4().hex[:8]}"
    key = f"test:later:{uuid.uuid4().hex}"
    event_id = emit(app, tenant, topic, {"list": key})

    result = relay(app)

    assert result.no_handler >= 1
    row = rows(platform, "main", [event_id])[event_id]
    assert (row.delivered_at, row.last_error, row.attempts) == (None, NO_HANDLER, 0)
    assert row.next_attempt_at > row.created_at
    stats = outbox_stats_of(app, "main")
    (mine,) = [t for t in stats.topics if t.topic == topic]
    assert (mine.pending, mine.no_handler) == (1, 1)
    assert stats.no_handler >= 1 and stats.pending >= 1 and stats.oldest_pending_age_seconds >= 0
    cli = app.test_cli_runner().invoke(args=["jobs", "outbox"])
    assert cli.exit_code == 0, cli.output
    assert "main: pending" in cli.output and "s2: pending" in cli.output and topic in cli.output

    outbox_handler(topic)(record_events)  # the consumer is deployed
    try:
        make_due(platform, "main", [event_id])
        relay(app)
    finally:
        unregister_handler(topic)
    assert received(redis, key) == [str(event_id)]


def test_a_topic_has_one_handler():
    with pytest.raises(ValueError, match="already has a handler"):
        outbox_handler("test.record")(lambda events: None)


def test_concurrent_relays_never_deliver_an_event_twice(app, make_tenant, redis):
    tenant = make_tenant()
    key = f"test:concurrent:{uuid.uuid4().hex}"
    with app.app_context():
        bind_tenant(TenantRef.of(tenant))
        for _ in range(500):
            emit_event(tenant_db(), "test.record", {"list": key, "sleep": 0.02})
        commit_scope()
        close_scope()
    start = threading.Barrier(2)
    delivered: list[int] = []

    def relay_until_empty() -> None:
        count = 0
        with app.app_context():
            start.wait()
            while (result := relay_outbox("main", batch_size=50)).claimed:
                count += result.delivered
        delivered.append(count)

    threads = [threading.Thread(target=relay_until_empty) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    ids = received(redis, key)
    assert len(ids) == 500 and len(set(ids)) == 500
    assert len(delivered) == 2 and min(delivered) > 0  # both relays worked, side by side


def test_event_survives_redis_being_down(app, platform, services, make_tenant, tmp_path):
    tenant = make_tenant()
    private = PrivateRedis(tmp_path)
    private.start()
    app2 = create_app(app_config(services, redis_url=private.url))
    key = f"test:down:{uuid.uuid4().hex}"
    try:
        private.stop()
        began = time.monotonic()
        event_id = emit(app2, tenant, "test.record", {"list": key}, sector="while-redis-down")
        assert time.monotonic() - began < 3  # the failed kick neither raised nor hung
        assert rows(platform, "main", [event_id])[event_id].delivered_at is None

        private.start()  # same port, empty: the kick was never stored
        outbox._kicks_paused_until = 0.0
        run_worker(services, "--with-scheduler", redis_url=private.url)

        assert received(private.client(), key) == [str(event_id)]
        assert rows(platform, "main", [event_id])[event_id].delivered_at is not None
        with app2.app_context():
            drain_outbox("main")
        run_worker(services, "--with-scheduler", redis_url=private.url)
        assert received(private.client(), key) == [str(event_id)]
    finally:
        private.stop()
        app2.extensions["motcua"].shards.dispose()
