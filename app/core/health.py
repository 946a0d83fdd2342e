"""``/healthz`` (the process is alive) and ``/readyz`` (database and queue reachable), on every host."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.core.db import get_platform
from app.core.jobs import redis_connection
from app.core.sites import EVERY_SITE

blp = Blueprint("health", __name__, subdomain=EVERY_SITE)


@blp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    platform = get_platform()
    checks: dict[str, str] = {}
    for shard in platform.shards.names:
        try:
            with platform.shards.engine(shard).connect() as conn:
                conn.execute(text("SELECT 1"))
            checks[f"database:{shard}"] = "ok"
        except Exception as exc:  # report, don't crash: that is the point of this route
            checks[f"database:{shard}"] = f"failed: {type(exc).__name__}"
    try:
        redis_connection().ping()
        checks["queue"] = "ok"
    except Exception as exc:
        checks["queue"] = f"failed: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    failed = [k for k, v in checks.items() if v != "ok"]
    return jsonify(
        status="ok" if ready else "unavailable", checks=checks, failed=failed
    ), 200 if ready else 503
