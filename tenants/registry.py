"""Writes and reads of the tenant registry: create, rename, hostnames, status, drop.

Every function checks its rules before it writes, raises ``TenantError`` with a
message in Vietnamese and English, and leaves nothing half-made.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from tenants.ddl import create_schema_at_head, quote_schema
from tenants.engines import PRIMARY_SHARD, ShardEngines
from tenants.libpq import libpq_target
from tenants.models import ALLOWED_PARENT_KINDS, Hostname, Shard, Tenant, TenantStatus, UnitKind
from tenants.naming import (
    InvalidName,
    check_gso_code,
    check_hostname,
    check_slug,
    check_unit_code,
    schema_for_slug,
    slugify,
)


class TenantError(ValueError):
    """A registry rule was broken; the message is meant for a person."""


class TenantNotFound(TenantError):
    pass


def get_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise TenantNotFound(f"Không có đơn vị / no tenant with slug {slug!r}")
    return tenant


def list_tenants(
    session: Session, *, kind: str | None = None, parent: str | None = None, status: str | None = None
) -> list[Tenant]:
    query = select(Tenant).order_by(Tenant.kind, Tenant.slug)
    if kind:
        query = query.where(Tenant.kind == _check_kind(kind))
    if parent:
        query = query.where(Tenant.parent_id == get_tenant(session, parent).id)
    if status:
        query = query.where(Tenant.status == _check_status(status))
    return list(session.scalars(query))


def _check_kind(kind: str) -> UnitKind:
    try:
        return UnitKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in UnitKind)
        raise TenantError(f"Loại đơn vị không hợp lệ / unknown kind {kind!r} (one of: {allowed})") from None


def _check_status(status: str) -> TenantStatus:
    try:
        return TenantStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in TenantStatus)
        raise TenantError(
            f"Trạng thái không hợp lệ / unknown status {status!r} (one of: {allowed})"
        ) from None


def _check_parent(session: Session, kind: UnitKind, parent_slug: str | None) -> Tenant | None:
    allowed = ALLOWED_PARENT_KINDS[kind]
    if parent_slug is None:
        if None in allowed:
            return None
        raise TenantError(
            f"Đơn vị loại {kind.value} cần đơn vị cấp trên / a {kind.value} needs a parent "
            f"({' or '.join(k.value for k in allowed if k)})"
        )
    parent = get_tenant(session, parent_slug)
    if parent.kind not in allowed:
        raise TenantError(
            f"Đơn vị cấp trên {parent_slug!r} là {parent.kind}, không hợp lệ / "
            f"a {kind.value} cannot sit under a {parent.kind}"
        )
    if parent.status != TenantStatus.ACTIVE:
        # A unit under a suspended, archived or half-made parent would be born orphaned.
        raise TenantError(
            f"Đơn vị cấp trên {parent_slug!r} đang ở trạng thái {parent.status}, không thể thêm đơn vị "
            f"trực thuộc / the parent {parent_slug!r} is {parent.status}: new units need an active parent"
        )
    return parent


def _check_unique(session: Session, column, value, label: str) -> None:
    if value is not None and session.scalar(select(Tenant.id).where(column == value)) is not None:
        raise TenantError(f"{label} {value!r} đã được dùng / is already taken")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
MAX_UNIT_NAME = 200  # Tenant.name


def check_unit_name(name: str | None, *, required: bool = True) -> str | None:
    """A unit name as stored: trimmed, one line (it goes into mail subjects and page titles)."""
    name = (name or "").strip()
    if not name:
        if required:
            raise TenantError("Tên đơn vị không được để trống / the unit name is required")
        return None
    if _CONTROL.search(name) or len(name) > MAX_UNIT_NAME:
        raise TenantError(
            f"Tên đơn vị phải trên một dòng, không quá {MAX_UNIT_NAME} ký tự / "
            f"the unit name must be one line of at most {MAX_UNIT_NAME} characters"
        )
    return name


def create_tenant(
    shards: ShardEngines,
    head: str,
    *,
    name: str,
    kind: str,
    unit_code: str,
    parent: str | None = None,
    slug: str | None = None,
    gso_code: str | None = None,
    name_en: str | None = None,
    shard: str = PRIMARY_SHARD,
    hostnames: tuple[str, ...] = (),
) -> Tenant:
    """Register a unit and build its schema at ``head``, all or nothing."""
    new = check_new_tenant(
        shards,
        name=name,
        kind=kind,
        unit_code=unit_code,
        slug=slug,
        gso_code=gso_code,
        name_en=name_en,
        shard=shard,
        hostnames=hostnames,
    )
    slug, schema = new.slug, new.schema_name

    created_elsewhere = False
    try:
        with shards.platform_session() as session, session.begin():
            tenant = _add_tenant(session, new, parent, TenantStatus.ACTIVE, verified=True)
            tenant.schema_revision = head
            session.flush()
            if shard == PRIMARY_SHARD:
                # Same database: registry row and schema commit in one transaction.
                create_schema_at_head(session.connection(), schema, head)
            else:
                _create_on_other_shard(shards, shard, schema, head)
                created_elsewhere = True
    except (IntegrityError, ProgrammingError) as exc:
        # A concurrent create took the slug, code or hostname, or the schema already exists.
        if created_elsewhere:
            _drop_schema(shards, shard, schema)
        raise TenantError(
            f"Không tạo được đơn vị / could not create tenant {slug!r}: {str(exc.orig).splitlines()[0]}"
        ) from None
    except BaseException:
        if created_elsewhere:
            _drop_schema(shards, shard, schema)
        raise
    return tenant


@dataclass(frozen=True)
class NewTenant:
    """A unit's registry values after the checks that need no database (see ``check_new_tenant``)."""

    name: str
    kind: UnitKind
    slug: str
    schema_name: str
    unit_code: str
    gso_code: str | None
    name_en: str | None
    shard: str
    hostnames: tuple[str, ...]


def check_new_tenant(
    shards: ShardEngines,
    *,
    name: str,
    kind: str,
    unit_code: str,
    slug: str | None = None,
    gso_code: str | None = None,
    name_en: str | None = None,
    shard: str = PRIMARY_SHARD,
    hostnames: tuple[str, ...] = (),
) -> NewTenant:
    """Check a new unit's names, codes, kind and shard; raise ``TenantError`` on the first problem."""
    name = check_unit_name(name)
    name_en = check_unit_name(name_en, required=False)
    try:
        slug = check_slug(slug or slugify(name))
        schema = schema_for_slug(slug)
        unit_code = check_unit_code(unit_code)
        gso_code = check_gso_code(gso_code) if gso_code else None
        hosts = tuple(check_hostname(h) for h in hostnames)
    except InvalidName as exc:
        raise TenantError(str(exc)) from None
    unit_kind = _check_kind(kind)
    if shard not in shards.urls:
        raise TenantError(f"Không có shard / unknown shard {shard!r} (configured: {', '.join(shards.names)})")
    return NewTenant(name, unit_kind, slug, schema, unit_code, gso_code, name_en, shard, hosts)


def check_registry(session: Session, new: NewTenant, parent: str | None) -> Tenant | None:
    """The checks against the registry (parent, city, unique slug, codes, hostnames); returns the parent."""
    parent_row = _check_parent(session, new.kind, parent)
    if new.kind is UnitKind.CITY and session.scalar(select(Tenant.id).where(Tenant.kind == "city")):
        raise TenantError("Đã có đơn vị cấp thành phố / the city tenant already exists")
    _check_unique(session, Tenant.slug, new.slug, "Slug")
    _check_unique(session, Tenant.schema_name, new.schema_name, "Schema")
    _check_unique(session, Tenant.unit_code, new.unit_code, "Mã đơn vị / unit code")
    _check_unique(session, Tenant.gso_code, new.gso_code, "Mã GSO / GSO code")
    for host in new.hostnames:
        _check_hostname_free(session, host)
    return parent_row


def _add_tenant(
    session: Session, new: NewTenant, parent: str | None, status: TenantStatus, *, verified: bool
) -> Tenant:
    parent_row = check_registry(session, new, parent)
    # Two first units of a shard created at once must not both insert its row.
    session.execute(pg_insert(Shard).values(name=new.shard).on_conflict_do_nothing())
    tenant = Tenant(
        slug=new.slug,
        schema_name=new.schema_name,
        name=new.name,
        name_en=new.name_en,
        kind=new.kind.value,
        parent_id=parent_row.id if parent_row else None,
        unit_code=new.unit_code,
        gso_code=new.gso_code,
        status=status.value,
        shard=new.shard,
    )
    tenant.hostnames = [Hostname(hostname=h, is_verified=verified) for h in new.hostnames]
    session.add(tenant)
    return tenant


def reserve_tenant(shards: ShardEngines, new: NewTenant, *, parent: str | None = None) -> Tenant:
    """Register a unit as ``provisioning`` (not routable, no schema yet) after ``create_tenant``'s checks.

    Its custom hostnames are reserved unverified; ``build_schema``, ``verify_hostname`` and
    ``set_status`` finish it, ``discard_provisional`` removes it again.
    """
    try:
        with shards.platform_session() as session, session.begin():
            tenant = _add_tenant(session, new, parent, TenantStatus.PROVISIONING, verified=False)
            session.flush()
    except IntegrityError as exc:  # a concurrent reservation took the slug, code or hostname
        raise TenantError(
            f"Không giữ chỗ được đơn vị / could not reserve tenant {new.slug!r}: "
            f"{str(exc.orig).splitlines()[0]}"
        ) from None
    return tenant


def _schema_revision(conn, schema: str) -> str | bool | None:
    """The schema's alembic revision, None when it has no version row, False when it does not exist."""
    exists = conn.exec_driver_sql(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %(s)s", {"s": schema}
    ).scalar()
    if not exists:
        return False
    return conn.exec_driver_sql(
        f"SELECT max(version_num) FROM {quote_schema(schema)}.alembic_version"
    ).scalar()


def build_schema(shards: ShardEngines, slug: str, head: str) -> bool:
    """Create a reserved tenant's schema at ``head``; False when it exists at ``head`` already."""
    with shards.platform_session() as session, session.begin():
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
        if tenant is None:
            raise TenantNotFound(f"Không có đơn vị / no tenant with slug {slug!r}")
        if tenant.shard == PRIMARY_SHARD:
            created = _build_if_missing(session.connection(), tenant.schema_name, head)
        else:
            with shards.engine(tenant.shard).begin() as conn:
                created = _build_if_missing(conn, tenant.schema_name, head)
        tenant.schema_revision = head
    return created


def _build_if_missing(conn, schema: str, head: str) -> bool:
    revision = _schema_revision(conn, schema)
    if revision is False:
        create_schema_at_head(conn, schema, head)
        return True
    if revision != head:
        raise TenantError(
            f"Schema {schema!r} đã có ở phiên bản khác / already exists at revision {revision!r}, "
            f"not {head!r}"
        )
    return False


def _locked_provisional(session: Session, slug: str) -> Tenant | None:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
    if tenant is not None and tenant.status != TenantStatus.PROVISIONING:
        raise TenantError(
            f"Đơn vị {slug!r} không ở trạng thái khởi tạo / is {tenant.status}, not provisioning"
        )
    return tenant


def _drop_schema_of(shards: ShardEngines, session: Session, tenant: Tenant) -> None:
    if tenant.shard == PRIMARY_SHARD:
        session.connection().exec_driver_sql(
            f"DROP SCHEMA IF EXISTS {quote_schema(tenant.schema_name)} CASCADE"
        )
    else:
        _drop_schema(shards, tenant.shard, tenant.schema_name)


def drop_provisional_schema(shards: ShardEngines, slug: str) -> bool:
    """Drop the schema of a tenant still ``provisioning`` (its registry row stays); False if none."""
    with shards.platform_session() as session, session.begin():
        tenant = _locked_provisional(session, slug)
        if tenant is None:
            return False
        _drop_schema_of(shards, session, tenant)
        tenant.schema_revision = None
    return True


def discard_provisional(shards: ShardEngines, slug: str) -> bool:
    """Remove a tenant that never went live (status ``provisioning``): its schema and registry rows.

    Returns False when there is nothing to discard; refuses a tenant in any other status.
    """
    with shards.platform_session() as session, session.begin():
        tenant = _locked_provisional(session, slug)
        if tenant is None:
            return False
        _drop_schema_of(shards, session, tenant)
        session.delete(tenant)
    return True


def _create_on_other_shard(shards: ShardEngines, shard: str, schema: str, head: str) -> None:
    # Two databases, two transactions: the schema commits first on its shard and is
    # dropped again by the caller if the registry commit then fails.
    with shards.engine(shard).begin() as conn:
        create_schema_at_head(conn, schema, head)


def _drop_schema(shards: ShardEngines, shard: str, schema: str) -> None:
    with shards.engine(shard).begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_schema(schema)} CASCADE")


def _check_hostname_free(session: Session, host: str) -> None:
    if session.scalar(select(Hostname.id).where(Hostname.hostname == host)) is not None:
        raise TenantError(f"Tên miền / hostname {host!r} đã được dùng / is already taken")


def rename_tenant(shards: ShardEngines, slug: str, name: str, *, name_en: str | None = None) -> Tenant:
    """Change the display name only; slug, schema and hostnames stay."""
    name = check_unit_name(name)
    set_en = name_en is not None  # "" clears the English name
    name_en = check_unit_name(name_en, required=False) if set_en else None
    with shards.platform_session() as session, session.begin():
        tenant = get_tenant(session, slug)
        tenant.name = name
        if set_en:
            tenant.name_en = name_en
    return tenant


def add_hostname(shards: ShardEngines, slug: str, hostname: str, *, verified: bool = False) -> Hostname:
    """Attach a custom domain; it routes only once verified."""
    try:
        host = check_hostname(hostname)
    except InvalidName as exc:
        raise TenantError(str(exc)) from None
    with shards.platform_session() as session, session.begin():
        tenant = get_tenant(session, slug)
        _check_hostname_free(session, host)
        row = Hostname(
            hostname=host,
            tenant_id=tenant.id,
            is_verified=verified,
            verification_token=None if verified else secrets.token_hex(16),
        )
        session.add(row)
    return row


def verify_hostname(shards: ShardEngines, hostname: str) -> Hostname:
    with shards.platform_session() as session, session.begin():
        row = _get_hostname(session, hostname)
        row.is_verified = True
    return row


def remove_hostname(shards: ShardEngines, hostname: str) -> None:
    with shards.platform_session() as session, session.begin():
        session.delete(_get_hostname(session, hostname))


def _get_hostname(session: Session, hostname: str) -> Hostname:
    row = session.scalar(select(Hostname).where(Hostname.hostname == hostname.strip().lower()))
    if row is None:
        raise TenantError(f"Không có tên miền / no such hostname {hostname!r}")
    return row


def set_status(shards: ShardEngines, slug: str, status: str, *, reason: str | None = None) -> Tenant:
    new = _check_status(status)
    with shards.platform_session() as session, session.begin():
        tenant = get_tenant(session, slug)
        if tenant.status == TenantStatus.ARCHIVED and new != TenantStatus.ARCHIVED:
            raise TenantError(f"Đơn vị {slug!r} đã lưu trữ / is archived and cannot change status")
        tenant.status = new.value
        tenant.status_reason = reason
    return tenant


def archive_schema(shards: ShardEngines, tenant: Tenant, archive_dir: Path, pg_dump: str) -> Path:
    """Dump the tenant's schema (data and DDL) into ``archive_dir``; returns the file."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = archive_dir / f"{tenant.slug}-{stamp}.sql"
    dsn, env = libpq_target(shards.engine(tenant.shard).url)
    proc = subprocess.run(
        [pg_dump, "--no-owner", "--schema", tenant.schema_name, "--file", str(target), dsn],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        target.unlink(missing_ok=True)
        raise TenantError(f"pg_dump thất bại / pg_dump failed: {proc.stderr.strip()[:300]}")
    return target


def drop_tenant(
    shards: ShardEngines, slug: str, *, archive_dir: Path | None, pg_dump: str = "pg_dump"
) -> Path | None:
    """Drop a tenant's schema and registry rows, after an archive unless ``archive_dir`` is None."""
    with shards.platform_session() as session:
        tenant = get_tenant(session, slug)
        children = session.scalars(select(Tenant.slug).where(Tenant.parent_id == tenant.id)).all()
    if children:
        raise TenantError(f"Đơn vị {slug!r} còn đơn vị trực thuộc / has child units: {', '.join(children)}")
    archive = archive_schema(shards, tenant, archive_dir, pg_dump) if archive_dir else None
    with shards.platform_session() as session, session.begin():
        row = get_tenant(session, slug)
        if row.shard == PRIMARY_SHARD:
            session.connection().exec_driver_sql(
                f"DROP SCHEMA IF EXISTS {quote_schema(row.schema_name)} CASCADE"
            )
        else:
            with shards.engine(row.shard).begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_schema(row.schema_name)} CASCADE")
        session.delete(row)
    return archive
