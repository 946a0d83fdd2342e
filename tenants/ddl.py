"""Build a tenant schema from the current head in one round trip.

The CREATE statements are rendered once per head revision from the tenant
metadata (unqualified names) and run inside the new schema's transaction under
``SET LOCAL search_path``. A test proves a schema built this way equals one
migrated revision by revision.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from tenants.base import TenantBase
from tenants.engines import note_schema_served

VERSION_TABLE_DDL = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)


def unqualified_tenant_metadata() -> MetaData:
    """The tenant tables without the placeholder schema (for search_path use)."""
    source = TenantBase.metadata
    target = MetaData(naming_convention=source.naming_convention)
    for table in source.sorted_tables:
        table.to_metadata(target, schema=None)
    return target


@cache
def render_head_ddl(head: str) -> str:
    """All CREATE statements for the tenant schema at ``head``, as one script."""
    dialect = postgresql.psycopg.dialect()
    statements: list[str] = []
    for table in unqualified_tenant_metadata().sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    statements.append(VERSION_TABLE_DDL)
    statements.append(f"INSERT INTO alembic_version (version_num) VALUES ('{head}')")
    return ";\n".join(statements) + ";"


def quote_schema(schema: str) -> str:
    return postgresql.dialect().identifier_preparer.quote_identifier(schema)


def create_schema_at_head(conn: Connection, schema: str, head: str) -> None:
    """Create ``schema`` and its tables at ``head`` inside the caller's transaction."""
    quoted = quote_schema(schema)
    note_schema_served(conn, schema)
    conn.exec_driver_sql(f"CREATE SCHEMA {quoted}")
    conn.exec_driver_sql(f"SET LOCAL search_path TO {quoted}")
    conn.exec_driver_sql(render_head_ddl(head))
    conn.exec_driver_sql("SET LOCAL search_path TO DEFAULT")
