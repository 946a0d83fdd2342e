"""Host header -> what the request is for: the city portal, the console or a tenant."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from tenants.engines import ShardEngines
from tenants.models import Hostname, Tenant

CITY = "city"
CONSOLE = "console"
TENANT = "tenant"
UNKNOWN = "unknown"
CONSOLE_LABEL = "admin"


@dataclass(frozen=True)
class TenantRef:
    """What the edge needs of a tenant, detached from any session (safe to cache)."""

    id: int
    slug: str
    name: str
    name_en: str | None
    kind: str
    status: str
    status_reason: str | None
    schema_name: str
    shard: str
    unit_code: str

    @classmethod
    def of(cls, t: Tenant) -> TenantRef:
        return cls(
            t.id,
            t.slug,
            t.name,
            t.name_en,
            t.kind,
            t.status,
            t.status_reason,
            t.schema_name,
            t.shard,
            t.unit_code,
        )

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Resolution:
    kind: str
    tenant: TenantRef | None = None


def split_host(host: str) -> str:
    """Lower-case host without port or trailing dot."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


class HostResolver:
    """Resolves hosts against the registry, caching answers for ``ttl`` seconds.

    An unknown host is remembered only ``unknown_ttl`` seconds: a unit going live is
    reachable at once everywhere, while a burst for one bad host still costs one query.
    The cache is emptied when it grows past ``max_entries`` (random Host headers).
    """

    def __init__(
        self,
        shards: ShardEngines,
        platform_domain: str,
        ttl: float = 5.0,
        unknown_ttl: float = 0.5,
        max_entries: int = 10_000,
    ) -> None:
        self.shards = shards
        self.domain = platform_domain
        self.ttl = ttl
        self.unknown_ttl = unknown_ttl
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Resolution]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def resolve(self, raw_host: str) -> Resolution:
        host = split_host(raw_host)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(host)
        if hit and hit[0] > now:
            return hit[1]
        answer = self._lookup(host)
        ttl = self.unknown_ttl if answer.kind == UNKNOWN else self.ttl
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[host] = (now + ttl, answer)
        return answer

    def _lookup(self, host: str) -> Resolution:
        if host == self.domain:
            return Resolution(CITY)
        if host == f"{CONSOLE_LABEL}.{self.domain}":
            return Resolution(CONSOLE)
        with self.shards.platform_session() as session:
            if host.endswith("." + self.domain):
                label = host[: -len(self.domain) - 1]
                tenant = (
                    session.scalar(select(Tenant).where(Tenant.slug == label)) if "." not in label else None
                )
            else:
                tenant = session.scalar(
                    select(Tenant).join(Hostname).where(Hostname.hostname == host, Hostname.is_verified)
                )
            if tenant is None or tenant.status in ("archived", "provisioning"):
                return Resolution(UNKNOWN)
            return Resolution(TENANT, TenantRef.of(tenant))
