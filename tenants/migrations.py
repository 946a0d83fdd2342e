"""Running the three Alembic trees: platform, shard-local, and every tenant schema.

Each tenant schema's own ``alembic_version`` is the truth; ``tenants.schema_revision``
on the platform mirrors it, so "who is behind" is one query and schemas already
at head are skipped without being opened. One transaction per schema with a lock
timeout: a schema that fails is reported and left at its previous version, the
others finish, and a rerun picks it up.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, update

from tenants.base import PLATFORM_SCHEMA, SHARD_SCHEMA
from tenants.ddl import quote_schema
from tenants.engines import ShardEngines
from tenants.models import Tenant, TenantStatus


@dataclass
class SchemaResult:
    slug: str
    before: str | None
    after: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class MigrateReport:
    head: str
    skipped: int = 0
    results: list[SchemaResult] = field(default_factory=list)

    @property
    def failed(self) -> list[SchemaResult]:
        return [r for r in self.results if not r.ok]

    @property
    def migrated(self) -> list[SchemaResult]:
        return [r for r in self.results if r.ok and r.before != r.after]

    @property
    def checked(self) -> list[SchemaResult]:
        """Opened, already at head (the ledger lagged, or ``check_all`` asked)."""
        return [r for r in self.results if r.ok and r.before == r.after]


class Trees:
    """The migration trees under one root folder (``migrations/`` by default)."""

    def __init__(self, root: Path, tenant_dir: Path | None = None) -> None:
        self.root = Path(root)
        self.tenant_dir = Path(tenant_dir) if tenant_dir else self.root / "tenant"

    def config(self, tree: str) -> Config:
        cfg = Config()
        location = self.tenant_dir if tree == "tenant" else self.root / tree
        cfg.set_main_option("script_location", str(location))
        return cfg

    @cached_property
    def tenant_script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config("tenant"))

    @property
    def tenant_head(self) -> str:
        head = self.tenant_script.get_current_head()
        if head is None:
            raise RuntimeError("the tenant migration tree has no revisions")
        return head

    def render_tenant_upgrade(self, from_rev: str) -> str:
        """The SQL that takes a tenant schema from ``from_rev`` to head (offline render, cached)."""
        key = (str(self.tenant_dir), from_rev, self.tenant_head)
        with _alembic_lock:
            if key not in _render_cache:
                cfg = self.config("tenant")
                cfg.output_buffer = io.StringIO()
                command.upgrade(cfg, f"{from_rev}:head", sql=True)
                _render_cache[key] = cfg.output_buffer.getvalue()
        return _render_cache[key]

    def needs_online(self, from_rev: str) -> bool:
        """A revision may set ``RENDERED_SQL = False`` when it needs live data (Python logic)."""
        for rev in self.tenant_script.iterate_revisions(self.tenant_head, from_rev):
            if getattr(rev.module, "RENDERED_SQL", True) is False:
                return True
        return False


_render_cache: dict[tuple[str, str, str], str] = {}
# Alembic's ``context`` is a process-wide proxy: one environment at a time.
_alembic_lock = threading.Lock()


def upgrade_fixed_schema(engine: Engine, trees: Trees, tree: str, revision: str = "head") -> None:
    """Upgrade the platform or shard-local tree on one database."""
    schema = {"platform": PLATFORM_SCHEMA, "shard": SHARD_SCHEMA}[tree]
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        cfg = trees.config(tree)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def upgrade_platform(shards: ShardEngines, trees: Trees) -> None:
    """Platform tree on the primary, then the shard-local tree on every shard."""
    upgrade_fixed_schema(shards.primary, trees, "platform")
    for name in shards.names:
        upgrade_fixed_schema(shards.engine(name), trees, "shard")


def migrate_schema(
    shards: ShardEngines, trees: Trees, shard: str, schema: str, *, lock_timeout_ms: int = 5000
) -> tuple[str | None, str]:
    """Bring one tenant schema to head in one transaction. Returns (before, after)."""
    head = trees.tenant_head
    with shards.engine(shard).connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_schema(schema)}")
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        before = conn.exec_driver_sql("SELECT version_num FROM alembic_version FOR UPDATE").scalar()
        if before == head:
            return before, head
        if before is None or trees.needs_online(before):
            cfg = trees.config("tenant")
            cfg.attributes["connection"] = conn
            with _alembic_lock:
                command.upgrade(cfg, "head")
        else:
            conn.exec_driver_sql(trees.render_tenant_upgrade(before))
        after = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return before, after


def _record_ledger(shards: ShardEngines, tenant_id: int, revision: str | None) -> None:
    with shards.primary.begin() as conn:
        conn.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(schema_revision=revision, schema_migrated_at=func.now())
        )


def pending_tenants(
    shards: ShardEngines, trees: Trees, *, check_all: bool = False, slugs: Iterable[str] = ()
) -> tuple[list[Tenant], int]:
    """Tenants whose ledger says they are behind head (all live ones with ``check_all``)."""
    query = select(Tenant).where(Tenant.status != TenantStatus.ARCHIVED).order_by(Tenant.id)
    slugs = list(slugs)
    if slugs:
        query = query.where(Tenant.slug.in_(slugs))
    with shards.platform_session() as session:
        live = list(session.scalars(query))
    if check_all:
        return live, 0
    head = trees.tenant_head
    behind = [t for t in live if t.schema_revision != head]
    return behind, len(live) - len(behind)


def migrate_tenants(
    shards: ShardEngines,
    trees: Trees,
    *,
    jobs: int = 4,
    check_all: bool = False,
    slugs: Iterable[str] = (),
    lock_timeout_ms: int = 5000,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[SchemaResult], None] | None = None,
) -> MigrateReport:
    """Migrate every tenant schema that is behind, ``jobs`` at a time."""
    todo, skipped = pending_tenants(shards, trees, check_all=check_all, slugs=slugs)
    report = MigrateReport(head=trees.tenant_head, skipped=skipped)
    # Load the scripts and render each expected upgrade once, before the threads start.
    for revision in {t.schema_revision for t in todo} - {None, trees.tenant_head}:
        if not trees.needs_online(revision):
            trees.render_tenant_upgrade(revision)
    if on_start:
        on_start(len(todo))

    def run(tenant: Tenant) -> SchemaResult:
        try:
            before, after = migrate_schema(
                shards, trees, tenant.shard, tenant.schema_name, lock_timeout_ms=lock_timeout_ms
            )
        except Exception as exc:  # reported per schema; the others go on
            message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            return SchemaResult(tenant.slug, tenant.schema_revision, tenant.schema_revision, message)
        if after != tenant.schema_revision:
            _record_ledger(shards, tenant.id, after)
        return SchemaResult(tenant.slug, before, after)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for result in pool.map(run, todo):
            report.results.append(result)
            if on_progress:
                on_progress(result)
    return report


def autogenerate(shards: ShardEngines, trees: Trees, tree: str, message: str) -> None:
    """Write a new revision for ``tree`` from the difference between models and head.

    The tenant tree is compared inside a scratch schema brought to head, so the
    revision holds unqualified names like every tenant migration.
    """
    cfg = trees.config(tree)
    if tree != "tenant":
        schema = {"platform": PLATFORM_SCHEMA, "shard": SHARD_SCHEMA}[tree]
        with shards.primary.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True)
        return
    scratch = "motcua_autogenerate_scratch"
    with shards.primary.connect() as conn:
        trans = conn.begin()
        conn.exec_driver_sql(f"CREATE SCHEMA {scratch}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {scratch}")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True)
        trans.rollback()  # the scratch schema never outlives the command
