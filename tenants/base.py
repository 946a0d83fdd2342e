"""Declarative bases for the three kinds of schema Motcua keeps.

- ``PlatformBase``: the platform schema on the primary database (registry,
  accounts, memberships, ledgers).
- ``ShardBase``: the small shard-local schema present on every shard database
  (outbox), so a tenant's business action and its events commit together.
- ``TenantBase``: tables of one tenant. They are declared with the placeholder
  schema ``tenant``; the edge maps it to ``t_<slug>`` with SQLAlchemy's
  ``schema_translate_map``. Domain code never names a real tenant schema.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

PLATFORM_SCHEMA = "platform"
SHARD_SCHEMA = "shard"
TENANT_SCHEMA = "tenant"  # placeholder, translated per request / job / command

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class PlatformBase(DeclarativeBase):
    metadata = MetaData(schema=PLATFORM_SCHEMA, naming_convention=NAMING_CONVENTION)


class ShardBase(DeclarativeBase):
    metadata = MetaData(schema=SHARD_SCHEMA, naming_convention=NAMING_CONVENTION)


class TenantBase(DeclarativeBase):
    metadata = MetaData(schema=TENANT_SCHEMA, naming_convention=NAMING_CONVENTION)
