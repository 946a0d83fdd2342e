"""A Core statement's SQL text for one tenant schema, compiled once per schema.

For the hottest public read (the status lookup) SQLAlchemy's per-execution work (cache
key, compiled-cache lookup, result machinery) costs twice the database round trip. A
``CompiledQuery`` renders its statement once per schema with the same
``schema_translate_map`` as every other query and hands the text to psycopg, which
prepares it on the connection after a few uses. Domain code still writes no SQL text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy import Connection
from sqlalchemy.sql import Select

from tenants.base import TENANT_SCHEMA


class CompiledQuery:
    """``build()`` returns a SELECT over tenant tables whose inputs are ``bindparam``s."""

    def __init__(self, build: Callable[[], Select]) -> None:
        self._build = build
        self._by_schema: dict[str, tuple[str, dict[str, Any]]] = {}

    def text_for(self, connection: Connection, schema: str) -> tuple[str, dict[str, Any]]:
        """The SQL text for ``schema`` and the default values of its parameters."""
        hit = self._by_schema.get(schema)
        if hit is None:
            compiled = self._build().compile(
                dialect=connection.dialect,
                schema_translate_map={TENANT_SCHEMA: schema},
                render_schema_translate=True,
            )
            hit = self._by_schema[schema] = (compiled.string, dict(compiled.params))
        return hit

    def first(self, connection: Connection, schema: str, **params: Any):
        """The first row (a named tuple) or None, read on ``connection``'s own DBAPI connection."""
        sql, defaults = self.text_for(connection, schema)
        with connection.connection.driver_connection.cursor(row_factory=namedtuple_row) as cursor:
            return cursor.execute(sql, {**defaults, **params}).fetchone()
