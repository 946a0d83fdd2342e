"""How our subprocesses (pg_dump, psql) reach a database: a DSN without the password, the password
in their environment (``PGPASSWORD``), so it never shows in ``ps`` or /proc/<pid>/cmdline."""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url


def libpq_target(url: URL | str) -> tuple[str, dict[str, str]]:
    """``(dsn, env)`` for a libpq tool: pass ``dsn`` as its last argument and ``env`` as its environment."""
    url = make_url(url) if isinstance(url, str) else url
    password = url.password
    query = {k: v for k, v in url.query.items() if k.lower() != "password"}
    if password is None and "password" in {k.lower() for k in url.query}:
        password = next(v for k, v in url.query.items() if k.lower() == "password")
        password = password[0] if isinstance(password, tuple) else password
    # URL.set(password=None) would keep the password: build the URL anew without it.
    bare = URL.create("postgresql", url.username, None, url.host, url.port, url.database, query)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return bare.render_as_string(hide_password=False), env
