"""Fixed-window counters in Redis for public endpoints; they fail open when Redis is down.

A limiter that blocked everyone because Redis restarted would take the public
pages down with it; these pages guard nothing a limit alone protects, so a
missed count is logged and the request goes on.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from app.core.jobs import redis_connection

log = logging.getLogger(__name__)


def window(seconds: int, now: float | None = None) -> tuple[int, int]:
    """(window number, seconds left in it)."""
    now = time.time() if now is None else now
    return int(now // seconds), seconds - int(now % seconds)


def hit(name: str, seconds: int, now: float | None = None) -> tuple[int, int] | None:
    """Count one hit of ``name`` in the current window: (count so far, seconds left); None without Redis."""
    number, left = window(seconds, now)
    key = f"{name}:{number}"
    try:
        pipe = redis_connection().pipeline(transaction=True)  # INCR and EXPIRE together
        pipe.incr(key)
        pipe.expire(key, seconds)
        count, _ = pipe.execute()
    except RedisError as exc:
        log.warning("rate limit %s not counted, Redis unavailable: %s", name, exc)
        return None
    return count, left


def peek(name: str, seconds: int, now: float | None = None) -> tuple[int, int]:
    """The count of ``name`` in the current window, without counting; (0, left) without Redis."""
    number, left = window(seconds, now)
    try:
        return int(redis_connection().get(f"{name}:{number}") or 0), left
    except RedisError as exc:
        log.warning("rate limit %s not read, Redis unavailable: %s", name, exc)
        return 0, left
