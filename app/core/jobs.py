"""RQ on Redis: named queues, and jobs that run in a tenant's scope exactly as a request does."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue

# Named queues, most urgent first; a worker listens to all of them in this order.
QUEUES = ("high", "default", "outbox", "low")


def redis_connection() -> Redis:
    ext = current_app.extensions
    if "motcua.redis" not in ext:
        ext["motcua.redis"] = Redis.from_url(
            ext["motcua"].settings.redis_url, socket_connect_timeout=2, socket_timeout=10
        )
    return ext["motcua.redis"]


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r} (one of {', '.join(QUEUES)})")
    return Queue(name, connection=redis_connection())
