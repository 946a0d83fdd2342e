"""One pooled engine per shard database, with tenant-aware connection recycling.

A shard is a PostgreSQL database that holds tenant schemas. The primary
database (platform registry) is always the shard named ``main``; more shards are
just more URLs. Sessions for a tenant are bound here with a
``schema_translate_map`` so no state is ever left on a pooled connection.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session

from tenants.base import TENANT_SCHEMA

PRIMARY_SHARD = "main"
_SCHEMAS_SEEN = "motcua_schemas_seen"
_CHECKED_IN_AT = "motcua_checked_in_at"
# A connection back in the pool for longer than this is pinged before reuse.
PING_AFTER_IDLE_SECONDS = 2.0


class UnknownShard(LookupError):
    pass


def _track_tenant_schemas(engine: Engine, recycle_after: int) -> None:
    """Recycle a connection after it has served ``recycle_after`` distinct schemas.

    PostgreSQL caches catalog entries per backend for every relation touched
    (~16 KB each) and never frees them, so a backend that visits every tenant
    grows without bound. Raising DisconnectionError on checkout makes the pool
    discard that connection and hand out a fresh one.
    """

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, proxy):
        if len(record.info.get(_SCHEMAS_SEEN, ())) >= recycle_after:
            record.info.pop(_SCHEMAS_SEEN, None)
            raise exc.DisconnectionError("served too many tenant schemas")

    @event.listens_for(engine, "engine_connect")
    def _connect(connection):
        schema = (connection.get_execution_options().get("schema_translate_map") or {}).get(TENANT_SCHEMA)
        if schema:
            note_schema_served(connection, schema)


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection is alive, but only when it has sat idle.

    ``pool_pre_ping`` costs a round trip on every checkout (≈ 10 % of a public lookup).
    Under load connections go straight back out and stay healthy; one that has sat in
    the pool (across a database restart, say) is pinged, and a dead one is replaced
    before the request sees it (DisconnectionError makes the pool retry with a new one).
    """

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn, record):
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, proxy):
        returned = record.info.get(_CHECKED_IN_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)  # in autocommit: leaves no transaction open
        except Exception as error:  # any failure: this connection is not fit to hand out
            raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error


def note_schema_served(connection, schema: str) -> None:
    """Count ``schema`` against the connection's recycling budget (DDL touches the catalog too)."""
    connection.info.setdefault(_SCHEMAS_SEEN, set()).add(schema)


class ShardEngines:
    """The shard directory's live side: shard name -> Engine, created lazily."""

    def __init__(
        self,
        primary_url: str,
        shard_urls: Mapping[str, str] | None = None,
        *,
        pool_size: int = 5,
        max_overflow: int = 5,
        recycle_after_tenants: int = 40,
    ) -> None:
        self.urls = {PRIMARY_SHARD: primary_url, **(shard_urls or {})}
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self.recycle_after_tenants = recycle_after_tenants
        self._engines: dict[str, Engine] = {}
        self._schema_engines: dict[tuple[str, str, bool], Engine] = {}

    @property
    def names(self) -> list[str]:
        return list(self.urls)

    def engine(self, shard: str = PRIMARY_SHARD) -> Engine:
        if shard not in self._engines:
            if shard not in self.urls:
                raise UnknownShard(shard)
            engine = create_engine(
                self.urls[shard],
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
            )
            _ping_when_idle(engine)
            _track_tenant_schemas(engine, self.recycle_after_tenants)
            self._engines[shard] = engine
        return self._engines[shard]

    @property
    def primary(self) -> Engine:
        return self.engine(PRIMARY_SHARD)

    def platform_session(self) -> Session:
        return Session(self.primary, expire_on_commit=False)

    def tenant_session(self, shard: str, schema: str, *, read_only: bool = False) -> Session:
        """A session whose ``tenant`` placeholder schema means ``schema``.

        ``read_only``: statements run in autocommit, so a read costs no BEGIN/COMMIT round trips.
        """
        return Session(self._schema_engine(shard, schema, read_only), expire_on_commit=False)

    def _schema_engine(self, shard: str, schema: str, read_only: bool) -> Engine:
        """The shard's engine with the schema mapped, made once per schema (making one costs ~0.1 ms)."""
        key = (shard, schema, read_only)
        if key not in self._schema_engines:
            options: dict = {"schema_translate_map": {TENANT_SCHEMA: schema}}
            if read_only:
                options["isolation_level"] = "AUTOCOMMIT"
            self._schema_engines[key] = self.engine(shard).execution_options(**options)
        return self._schema_engines[key]

    def forget_schema(self, schema: str) -> None:
        """Drop the schema-mapped engines of ``schema`` (after a move to another shard or an archive)."""
        for key in [key for key in self._schema_engines if key[1] == schema]:
            del self._schema_engines[key]

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        self._schema_engines.clear()
