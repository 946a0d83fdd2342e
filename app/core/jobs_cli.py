"""``flask jobs ...``: run workers."""

from __future__ import annotations

from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="Background jobs (RQ on Redis).")
