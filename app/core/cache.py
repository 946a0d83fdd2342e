"""Per-process caches of a unit's rarely changing data (working calendar, published processes).

Every counter intake needs them; reading them each time cost more than the rest
of the intake. A value lives ``ttl`` seconds; a change made by this process drops
the unit's entries when its transaction commits, and other processes see the change
within ``ttl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tenants.base import TENANT_SCHEMA

_PENDING = "motcua.cache.forget"


def scope_of(session: Session) -> tuple:
    """Which database and tenant schema the session works in."""
    bind = session.get_bind()
    schema = bind.get_execution_options().get("schema_translate_map", {}).get(TENANT_SCHEMA)
    return (bind.url.host, bind.url.port, bind.url.database, schema)


class UnitCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[tuple, tuple[float, Any]] = {}

    def get(self, session: Session, key: Hashable, load: Callable[[], Any]) -> Any:
        entry = (scope_of(session), key)
        hit = self._items.get(entry)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        self._items[entry] = (now + self.ttl, value)
        return value

    def forget(self, scope: tuple) -> None:
        for entry in [e for e in self._items if e[0] == scope]:
            self._items.pop(entry, None)

    def forget_after_commit(self, session: Session) -> None:
        """Drop the session's unit from this cache once the change is committed."""
        pending = session.info.setdefault(_PENDING, set())
        if not pending:
            event.listen(session, "after_commit", _forget_pending, once=True)
        pending.add((self, scope_of(session)))


def _forget_pending(session: Session) -> None:
    for cache, scope in session.info.pop(_PENDING, set()):
        cache.forget(scope)
