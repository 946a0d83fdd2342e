"""Database access at the edge: the platform object, and sessions bound per scope.

A request, a job or a CLI command binds the tenant once (``bind_tenant``); code
below asks for ``tenant_db()`` and gets a session already scoped to that tenant's
schema. The edge commits once (``commit_scope``) or rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session

from app.core.config import Settings
from tenants.compiled import CompiledQuery
from tenants.engines import ShardEngines
from tenants.migrations import Trees
from tenants.resolution import HostResolver, TenantRef

MIGRATIONS_ROOT = Path(__file__).resolve().parents[2] / "migrations"


class NoTenantBound(RuntimeError):
    """Tenant data was asked for outside a tenant scope (a bug, never user input)."""


@dataclass
class Platform:
    settings: Settings
    shards: ShardEngines
    resolver: HostResolver
    trees: Trees

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set (make run and make test set it for you)")
        shards = ShardEngines(
            settings.database_url,
            settings.shard_urls,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            recycle_after_tenants=settings.db_recycle_after_tenants,
        )
        trees = Trees(
            MIGRATIONS_ROOT, Path(settings.tenant_migrations_dir) if settings.tenant_migrations_dir else None
        )
        return cls(settings, shards, HostResolver(shards, settings.platform_domain), trees)


def get_platform() -> Platform:
    return current_app.extensions["motcua"]


def get_current_tenant() -> TenantRef | None:
    return g.get("tenant")


def bind_tenant(tenant: TenantRef | None) -> None:
    """Bind the scope's tenant; must happen before any tenant session is opened."""
    if "tenant_db" in g:
        raise RuntimeError("the tenant of this scope is already bound")
    g.tenant = tenant


def platform_db() -> Session:
    if "platform_db" not in g:
        g.platform_db = get_platform().shards.platform_session()
    return g.platform_db


def tenant_db() -> Session:
    """The session of the bound tenant's schema (on the tenant's shard)."""
    if "tenant_db" not in g:
        tenant = get_current_tenant()
        if tenant is None:
            raise NoTenantBound("no tenant is bound to this scope")
        g.tenant_db = get_platform().shards.tenant_session(tenant.shard, tenant.schema_name)
    return g.tenant_db


def tenant_reader() -> Session:
    """A read-only session of the bound tenant's schema, in autocommit: for public pages that
    only read (the status lookup), where BEGIN and COMMIT would double the round trips."""
    if "tenant_reader" not in g:
        tenant = get_current_tenant()
        if tenant is None:
            raise NoTenantBound("no tenant is bound to this scope")
        g.tenant_reader = get_platform().shards.tenant_session(
            tenant.shard, tenant.schema_name, read_only=True
        )
    return g.tenant_reader


def read_first(query: CompiledQuery, **params: Any):
    """The first row of ``query`` in the bound tenant's schema, on the read-only session (or None)."""
    session = tenant_reader()
    return query.first(session.connection(), get_current_tenant().schema_name, **params)


def _open_sessions() -> list[Session]:
    return [s for s in (g.get("tenant_db"), g.get("platform_db"), g.get("tenant_reader")) if s is not None]


def commit_scope() -> None:
    for session in _open_sessions():
        if session is not g.get("tenant_reader"):  # autocommit: nothing to commit
            session.commit()


def close_scope(error: BaseException | None = None) -> None:
    for session in _open_sessions():
        if error is not None:
            session.rollback()
        session.close()
    g.pop("tenant_db", None)
    g.pop("platform_db", None)
    g.pop("tenant_reader", None)
