"""A scratch database for a benchmark: on DATABASE_URL's server, else the embedded PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import NullPool, create_engine, make_url

from app.core import embedded
from app.core.config import sqlalchemy_url

ROOT = Path(__file__).resolve().parents[1]
_KEEP_ALIVE: list = []  # the embedded server runs while the benchmark does


def admin_url() -> tuple[str, str]:
    """(URL of the server's ``postgres`` database, where it is) — the embedded server is started if needed."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, "DATABASE_URL"
    server = embedded.start_postgres(ROOT / ".data" / "bench")
    _KEEP_ALIVE.append(server)
    return embedded.database_url(server, "postgres"), "embedded (.data/bench)"


def admin(url: str, statement: str) -> None:
    """Run ``statement`` outside a transaction on the ``postgres`` database of ``url``'s server."""
    engine = create_engine(
        make_url(sqlalchemy_url(url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def fresh_database(name: str) -> tuple[str, str]:
    """(URL of a new, empty database ``name`` (an older one is dropped), where its server is)."""
    url, where = admin_url()
    drop_database(url, name)
    admin(url, f'CREATE DATABASE "{name}"')
    return make_url(sqlalchemy_url(url)).set(database=name).render_as_string(hide_password=False), where


def drop_database(url: str, name: str) -> None:
    admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
