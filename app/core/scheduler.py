"""Periodic jobs: RQ's cron scheduler, driven by a thread beside the worker.

``flask jobs worker --with-scheduler`` starts it. Every shard's outbox is swept
every ``SWEEP_SECONDS`` (the safety net behind the after-commit kicks), delivered
events are pruned hourly, and features add their own periodic jobs with
``register_periodic``. Several workers may run a scheduler; a Redis lease elects
one leader, so each periodic job is enqueued once per period cluster-wide.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq.cron import CronScheduler

from app.core.jobs import func_path, run_in_platform_scope

log = logging.getLogger("motcua.scheduler")

SWEEP_SECONDS = 30
PRUNE_SECONDS = 3600
TICK_SECONDS = 1.0
LEADER_KEY = "motcua:scheduler:leader"
LEADER_TTL_SECONDS = 30

_periodic: list[dict[str, Any]] = []


def register_periodic(
    func: Callable | str,
    queue_name: str,
    *,
    interval: int | None = None,
    cron: str | None = None,
    name: str = "",
) -> None:
    """Run platform-scope ``func()`` every ``interval`` seconds or on a ``cron`` schedule (local time)."""
    path = func_path(func)
    _periodic.append(
        {"path": path, "queue_name": queue_name, "interval": interval, "cron": cron, "name": name}
    )


def build_cron(app: Flask, connection: Redis) -> CronScheduler:
    cron = CronScheduler(connection=connection, name=f"motcua:{uuid.uuid4().hex[:8]}")
    for shard in app.extensions["motcua"].shards.names:
        cron.register(
            run_in_platform_scope,
            "outbox",
            args=("app.core.outbox.drain_outbox", [shard], {}),
            interval=SWEEP_SECONDS,
            result_ttl=60,
            name=f"outbox-sweep:{shard}",
        )
    cron.register(
        run_in_platform_scope,
        "low",
        args=("app.core.outbox.prune_all_delivered", [], {}),
        interval=PRUNE_SECONDS,
        name="outbox-prune",
    )
    for spec in _periodic:
        cron.register(
            run_in_platform_scope,
            spec["queue_name"],
            args=(spec["path"], [], {}),
            interval=spec["interval"],
            cron=spec["cron"],
            name=spec["name"] or spec["path"],
        )
    return cron


class SchedulerThread(threading.Thread):
    """Enqueues due periodic jobs while this process holds the leader lease."""

    def __init__(self, cron: CronScheduler) -> None:
        super().__init__(name="motcua-scheduler", daemon=True)
        self.cron = cron
        self._stop_event = threading.Event()

    def run(self) -> None:
        self._safely(self.cron.register_birth)
        while not self._stop_event.wait(TICK_SECONDS):
            self._safely(self.tick)

    def tick(self) -> None:
        if self._lead() and self.cron.enqueue_jobs():
            self.cron.save()
        self.cron.heartbeat()

    def stop(self) -> None:
        self._stop_event.set()
        was_running = self.is_alive()
        if was_running:
            self.join(timeout=10)
        self._safely(self._resign)
        if was_running:
            self._safely(self.cron.register_death)

    def _lead(self) -> bool:
        redis = self.cron.connection
        if redis.set(LEADER_KEY, self.cron.name, nx=True, ex=LEADER_TTL_SECONDS):
            return True
        if (redis.get(LEADER_KEY) or b"").decode() == self.cron.name:
            redis.expire(LEADER_KEY, LEADER_TTL_SECONDS)
            return True
        return False

    def _resign(self) -> None:
        redis = self.cron.connection
        if (redis.get(LEADER_KEY) or b"").decode() == self.cron.name:
            redis.delete(LEADER_KEY)

    def _safely(self, step: Callable[[], Any]) -> None:
        try:
            step()
        except (RedisError, OSError) as exc:  # Redis away: try again next tick
            log.warning("scheduler: %s", exc)
        except Exception:  # a bug must not stop the periodic sweep for good
            log.exception("scheduler step failed")


def enqueue_due_now(cron: CronScheduler) -> list[str]:
    """Enqueue every due periodic job once, leader or not (``--burst --with-scheduler``)."""
    return [job.name for job in cron.enqueue_jobs()]
