"""Per-process caches of a unit's rarely changing data (working calendar, published processes).

Every counter intake needs them; reading them each time cost more than the rest
of the intake. A value lives ``ttl`` seconds; a change made by this process drops
the unit's entries when its transaction commits, and other processes see the change
within ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tenants.base import TENANT_SCHEMA

_PENDING = "motcua.cache.forget"
_LISTENING = "motcua.cache.listening"


def scope_of(session: Session) -> tuple:
    """Which database and tenant schema the session works in."""
    bind = session.get_bind()
    schema = bind.get_execution_options().get("schema_translate_map", {}).get(TENANT_SCHEMA)
    return (bind.url.host, bind.url.port, bind.url.database, schema)


class UnitCache:
    """Values per (unit, key) for ``ttl`` seconds; safe to share between a process's threads.

    Each unit (scope) has a generation, bumped by ``forget``: a value whose load
    began before a forget is returned to its caller but not stored, so a load that
    read the old data cannot outlive the change for the TTL.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[tuple, tuple[float, Any]] = {}
        self._generations: dict[tuple, int] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: Hashable, load: Callable[[], Any]) -> Any:
        scope = scope_of(session)
        if (self, scope) in session.info.get(_PENDING, ()):
            # The session changed this unit's data and has not committed: it reads its own
            # change, which must not be shared (it may still be rolled back).
            return load()
        entry = (scope, key)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(entry)
            if hit is not None and hit[0] > now:
                return hit[1]
            generation = self._generations.get(scope, 0)
        value = load()  # outside the lock: a slow load must not hold up other units
        with self._lock:
            if self._generations.get(scope, 0) == generation:
                self._items[entry] = (now + self.ttl, value)
        return value

    def forget(self, scope: tuple) -> None:
        with self._lock:
            self._generations[scope] = self._generations.get(scope, 0) + 1
            for entry in [e for e in self._items if e[0] == scope]:
                del self._items[entry]

    def forget_after_commit(self, session: Session) -> None:
        """Drop the session's unit from this cache once the change is committed."""
        if not session.info.get(_LISTENING):
            # Once per session, for its whole life. A transaction that ends without a commit
            # (rollback, close) changed nothing: its pending forgets are dropped.
            event.listen(session, "after_commit", _forget_pending)
            event.listen(session, "after_transaction_end", _drop_pending)
            session.info[_LISTENING] = True
        session.info.setdefault(_PENDING, set()).add((self, scope_of(session)))


def _forget_pending(session: Session) -> None:
    for cache, scope in session.info.pop(_PENDING, set()):
        cache.forget(scope)


def _drop_pending(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost one (a savepoint's end changes nothing yet)
        session.info.pop(_PENDING, None)
