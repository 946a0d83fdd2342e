"""Tenancy benchmark: create N tenants, migrate-all (no-op and additive), backend memory.

    make -s bench-tenancy                       # 1,000 tenants, one run (-s: only the JSON on stdout)
    .venv/bin/python bench/tenancy.py --tenants 60
    .venv/bin/python bench/tenancy.py --repeat 3  # medians of 3 full runs (fresh database each)

Prints ONE JSON object on stdout (progress on stderr) and keeps a copy in
``bench/results/`` (git-ignored). Uses DATABASE_URL's server when set, else the
embedded PostgreSQL in ``.data/bench``; the database ``motcua_bench`` is dropped and
re-created at the start of every run so runs are comparable. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import NullPool, create_engine, insert, make_url, text  # noqa: E402

from app import create_app  # noqa: E402
from app.catalog.models import Procedure, Sector  # noqa: E402
from app.core import embedded  # noqa: E402
from app.core.config import sqlalchemy_url  # noqa: E402
from app.dossiers.models import Dossier  # noqa: E402
from tenants import registry  # noqa: E402
from tenants.base import PLATFORM_SCHEMA, TenantBase  # noqa: E402
from tenants.migrations import upgrade_platform  # noqa: E402

DB_NAME = "motcua_bench"
DUMMY_REDIS = "redis://127.0.0.1:6379/15"  # create_app wants a URL; nothing here talks to Redis
_KEEP_ALIVE: list = []
PROCEDURE_CODE = "1.001193"
MEM_SQL = "SELECT sum(total_bytes) FROM pg_backend_memory_contexts"
NEW_REVISION = "b3nch0001ref"
REVISION_FILE = '''"""bench: dossiers.portal_ref (nullable) + index

Revision ID: {rev}
Revises: {down}
"""

from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dossiers", sa.Column("portal_ref", sa.String(length=64), nullable=True))
    op.create_index("ix_dossiers_portal_ref", "dossiers", ["portal_ref"])


def downgrade() -> None:
    op.drop_index("ix_dossiers_portal_ref", table_name="dossiers")
    op.drop_column("dossiers", "portal_ref")
'''


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- machine noise


def _cpu_times() -> tuple[int, int, int]:
    """(busy, iowait, total) jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0, 0
    iowait = fields[4] if len(fields) > 4 else 0
    return sum(fields) - fields[3] - iowait, iowait, sum(fields)


def _proc_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from "state" on


def _our_ticks(roots: set[int]) -> int:
    """CPU ticks of ``roots`` and their descendants (reaped ones through cutime/cstime)."""
    procs: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_fields(int(entry.name))):
            procs[int(entry.name)] = fields
    children: dict[int, list[int]] = {}
    for pid, fields in procs.items():
        children.setdefault(int(fields[1]), []).append(pid)
    total, todo, seen = 0, [r for r in roots if r in procs], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        f = procs[pid]
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        todo.extend(children.get(pid, ()))
    return total


class Phases:
    """Wall time of each phase, and how much CPU others used meanwhile (the machine is shared).

    ``foreign_cpu_s`` = machine busy CPU - CPU of this process, its children and the
    PostgreSQL server it measures (a lower bound of what other work took).
    """

    def __init__(self) -> None:
        self.data: dict[str, dict] = {}
        self.roots = {os.getpid()}

    def add_root(self, pid: int | None) -> None:
        if pid:
            self.roots.add(pid)

    @contextmanager
    def phase(self, name: str):
        busy0, iowait0, total0 = _cpu_times()
        ours0 = _our_ticks(self.roots)
        t0 = time.perf_counter()
        log(f"phase {name} ...")
        try:
            yield
        finally:
            wall = time.perf_counter() - t0
            busy1, iowait1, total1 = _cpu_times()
            ours = _our_ticks(self.roots) - ours0
            hz = os.sysconf("SC_CLK_TCK")
            share = (busy1 - busy0) / (total1 - total0) if total1 > total0 else None
            foreign = max(0, (busy1 - busy0) - ours) / hz
            self.data[name] = {
                "wall_s": round(wall, 3),
                "machine_cpu_busy": round(share, 3) if share is not None else None,
                "machine_iowait": round((iowait1 - iowait0) / max(1, total1 - total0), 3),
                "our_cpu_s": round(ours / hz, 2),
                "foreign_cpu_s": round(foreign, 2),
                "foreign_cpu_share": round(foreign / (wall * (os.cpu_count() or 1)), 3) if wall > 0 else None,
                "loadavg_1m_end": round(os.getloadavg()[0], 2),
            }
            log(f"phase {name} done in {wall:.2f} s (foreign CPU {foreign:.1f} s)")


def postmaster_pid(engine) -> int | None:
    """The local server's postmaster (parent of our backend), when it runs on this machine."""
    with engine.connect() as conn:
        backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    fields = _proc_fields(int(backend))
    return int(fields[1]) if fields else None


# --------------------------------------------------------------------------- database


def _admin_engine(admin_url: str):
    url = make_url(sqlalchemy_url(admin_url)).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def fresh_database() -> tuple[str, str]:
    """(sqlalchemy url of a fresh motcua_bench, which server)."""
    admin_url = os.environ.get("DATABASE_URL")
    server = None
    if admin_url:
        where = "DATABASE_URL"
    else:
        server = embedded.start_postgres(ROOT / ".data" / "bench")
        admin_url = embedded.database_url(server, "postgres")
        os.environ.setdefault("PG_BIN", str(embedded.postgres_bin_dir()))
        where = "embedded (.data/bench)"
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{DB_NAME}"')
    engine.dispose()
    if server is not None:
        _KEEP_ALIVE.append(server)  # the embedded server stops when its handle goes away
    url = make_url(sqlalchemy_url(admin_url)).set(database=DB_NAME)
    return url.render_as_string(hide_password=False), where


def drop_database(db_url: str) -> None:
    engine = _admin_engine(db_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    engine.dispose()


def app_config(db_url: str, **overrides) -> dict:
    config = {
        "database_url": db_url,
        "shard_urls": {},
        "redis_url": os.environ.get("REDIS_URL") or DUMMY_REDIS,
        "platform_domain": "localhost",
        "log_format": "plain",
        "log_level": "WARNING",
    }
    config.update(overrides)
    return config


# --------------------------------------------------------------------------- tenants


def unit_code(n: int) -> str:
    """QCVN 102-shaped, unique per n (the city is 0)."""
    return f"{n // 10000:03d}.{n // 100 % 100:02d}.{n % 100:02d}.H99"


def tenant_plan(count: int) -> list[dict]:
    """A city, then ~1 department and ~1 district per 10 units, communes under the latest district."""
    plan = [
        {"name": "Thành phố Bench", "kind": "city", "slug": "bench-city", "unit_code": unit_code(0)},
    ]
    district = None
    for i in range(1, count):
        if i % 10 == 1:
            district = f"quan-{i:04d}"
            plan.append(
                {"name": f"Quận {i:04d}", "kind": "district", "slug": district, "parent": "bench-city"}
            )
        elif i % 10 == 2:
            plan.append(
                {"name": f"Sở {i:04d}", "kind": "department", "slug": f"so-{i:04d}", "parent": "bench-city"}
            )
        else:
            plan.append(
                {"name": f"Phường {i:04d}", "kind": "commune", "slug": f"xa-{i:04d}", "parent": district}
            )
        plan[-1]["unit_code"] = unit_code(i)
    return plan


def create_tenants(platform, plan: list[dict], profile_path: str | None, server_pid: int | None) -> dict:
    """Time each create_tenant call; per block of 100 also the CPU it cost (ours + the server's).

    CPU per tenant is far less sensitive than wall time to other work on a shared machine,
    so it tells growth with the schema count apart from noise.
    """
    head = platform.trees.tenant_head
    times: list[float] = []
    blocks: list[dict] = []
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
    hz = os.sysconf("SC_CLK_TCK")
    server_roots = {server_pid} if server_pid else set()
    block_start = (time.process_time(), _our_ticks(server_roots), len(times))
    for n, spec in enumerate(plan, 1):
        if profiler:
            profiler.enable()
        t0 = time.perf_counter()
        registry.create_tenant(platform.shards, head, **spec)
        times.append(time.perf_counter() - t0)
        if profiler:
            profiler.disable()
        if n % 100 == 0 or n == len(plan):
            cpu0, ticks0, first = block_start
            count = len(times) - first
            block = {
                "tenants": f"{first + 1}-{n}",
                "wall_median_ms": round(statistics.median(times[first:]) * 1000, 1),
                "client_cpu_ms_per_tenant": round((time.process_time() - cpu0) / count * 1000, 1),
            }
            if server_roots:
                server_cpu = (_our_ticks(server_roots) - ticks0) / hz
                block["server_cpu_ms_per_tenant"] = round(server_cpu / count * 1000, 1)
            blocks.append(block)
            log(f"  created {n}/{len(plan)}: {json.dumps(block)}")
            block_start = (time.process_time(), _our_ticks(server_roots), len(times))
    if profiler:
        profiler.dump_stats(profile_path)
        log(f"  cProfile of the create_tenant calls written to {profile_path}")
    return {"times": times, "blocks": blocks}


def seed_dossiers(platform, plan: list[dict], rows: int) -> int:
    """One sector, one procedure and ``rows`` dossiers per tenant (one multi-row INSERT each)."""
    base = datetime(2025, 6, 1, tzinfo=UTC)
    total = 0
    for n, spec in enumerate(plan, 1):
        schema = "t_" + spec["slug"].replace("-", "_")
        with platform.shards.tenant_session("main", schema) as session, session.begin():
            sector_id = session.scalar(insert(Sector).values(code="HT", name="Hộ tịch").returning(Sector.id))
            procedure_id = session.scalar(
                insert(Procedure)
                .values(
                    code=PROCEDURE_CODE,
                    name="Đăng ký khai sinh",
                    sector_id=sector_id,
                    service_level=4,
                    time_value=1,
                    time_unit="working_days",
                )
                .returning(Procedure.id)
            )
            prefix = spec["unit_code"]
            values = [
                {
                    "code": f"{prefix}-250601-{k:04d}",
                    "procedure_id": procedure_id,
                    "applicant_type": "citizen",
                    "applicant_name": f"Nguyễn Văn {k}",
                    "applicant_phone": f"09{k:08d}",
                    "channel": 1 + k % 3,
                    "result_delivery": "counter",
                    "service_level": 4,
                    "status": 2 + k % 4,
                    "received_at": base - timedelta(hours=k),
                    "due_at": base + timedelta(days=k % 15),
                }
                for k in range(rows)
            ]
            session.execute(insert(Dossier).values(values))
        total += rows
        if n % 200 == 0:
            log(f"  seeded {n}/{len(plan)}")
    return total


# --------------------------------------------------------------------------- migrate (CLI)


def flask_env(db_url: str, tenant_dir: Path | None = None) -> dict:
    env = dict(os.environ)
    env.update(FLASK_APP="wsgi.py", DATABASE_URL=db_url, LOG_LEVEL="WARNING", LOG_FORMAT="plain")
    env.setdefault("REDIS_URL", DUMMY_REDIS)
    env.pop("SHARD_URLS", None)
    env.pop("MIGRATE_JOBS", None)  # the command's default --jobs
    env.pop("TENANT_MIGRATIONS_DIR", None)
    if tenant_dir is not None:
        env["TENANT_MIGRATIONS_DIR"] = str(tenant_dir)
    return env


def timed_migrate(db_url: str, tenant_dir: Path | None = None) -> dict:
    """Wall clock of ``flask tenants migrate`` (interpreter start-up included)."""
    flask = Path(sys.executable).with_name("flask")
    cmd = [str(flask) if flask.exists() else "flask", "tenants", "migrate"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=flask_env(db_url, tenant_dir), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    failures = [line for line in proc.stderr.splitlines() if "FAILED" in line or "Error" in line]
    log(f"  exit {proc.returncode}: {summary} ({wall:.2f} s)")
    for line in failures[:5]:
        log(f"    {line}")
    return {
        "wall_s": round(wall, 3),
        "exit_code": proc.returncode,
        "output": summary,
        "errors": failures[:10],
        "errors_total": len(failures),
    }


def write_revision(workdir: Path, head: str) -> Path:
    tenant_dir = workdir / "tenant"
    shutil.copytree(ROOT / "migrations" / "tenant", tenant_dir, ignore=shutil.ignore_patterns("__pycache__"))
    target = tenant_dir / "versions" / f"{NEW_REVISION}_bench_portal_ref.py"
    target.write_text(REVISION_FILE.format(rev=NEW_REVISION, down=head))
    return tenant_dir


def verify_revision(engine, tenants: int) -> dict:
    with engine.connect() as conn:
        schemas = conn.scalars(
            text(f"SELECT schema_name FROM {PLATFORM_SCHEMA}.tenants ORDER BY schema_name")
        ).all()
        columns = conn.scalar(
            text(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'dossiers' AND column_name = 'portal_ref' "
                "AND left(table_schema, 2) = 't_'"
            )
        )
        indexes = conn.scalar(
            text(
                "SELECT count(*) FROM pg_indexes WHERE tablename = 'dossiers' "
                "AND indexname = 'ix_dossiers_portal_ref' AND left(schemaname, 2) = 't_'"
            )
        )
        ledger_behind = conn.scalar(
            text(
                f"SELECT count(*) FROM {PLATFORM_SCHEMA}.tenants WHERE schema_revision IS DISTINCT FROM :head"
            ),
            {"head": NEW_REVISION},
        )
        versions: dict[str, int] = {}
        for start in range(0, len(schemas), 200):
            chunk = schemas[start : start + 200]
            union = " UNION ALL ".join(f'SELECT version_num FROM "{s}".alembic_version' for s in chunk)
            for (version,) in conn.exec_driver_sql(union):
                versions[version] = versions.get(version, 0) + 1
    result = {
        "schemas": len(schemas),
        "with_column": columns,
        "with_index": indexes,
        "ledger_not_at_head": ledger_behind,
        "schema_versions": versions,
    }
    result["ok"] = (
        len(schemas) == tenants
        and columns == tenants
        and indexes == tenants
        and ledger_behind == 0
        and versions == {NEW_REVISION: tenants}
    )
    return result


# --------------------------------------------------------------------------- requests + memory


def _peek_idle_memory(engine) -> tuple[int | None, int | None]:
    """Memory of the pool's idle connection, read without a checkout (no recycling triggered).

    The checkout path may recycle a connection that reached the threshold and then
    read a fresh backend; this reads the backend exactly as the last request left it.
    """
    queue = getattr(getattr(engine.pool, "_pool", None), "queue", None)
    if not queue:
        return None, None
    dbapi = queue[-1].dbapi_connection
    if dbapi is None:
        return None, None
    with dbapi.cursor() as cur:
        cur.execute(f"SELECT pg_backend_pid(), ({MEM_SQL})")
        pid, mem = cur.fetchone()
    dbapi.rollback()
    return pid, int(mem)


def serve_requests(db_url: str, plan: list[dict], every: int, recycle_after: int) -> dict:
    app = create_app(
        app_config(db_url, db_pool_size=1, db_max_overflow=0, db_recycle_after_tenants=recycle_after)
    )
    app.testing = True
    platform = app.extensions["motcua"]
    engine = platform.shards.engine("main")
    client = app.test_client()
    readings: list[dict] = []
    pids: set[int] = set()
    statuses: dict[int, int] = {}
    t0 = time.perf_counter()
    try:
        for n, spec in enumerate(plan, 1):
            resp = client.get("/", headers={"Host": f"{spec['slug']}.localhost"})
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            body = resp.get_data(as_text=True)
            if resp.status_code != 200 or spec["name"] not in body or PROCEDURE_CODE not in body:
                raise SystemExit(f"GET / for {spec['slug']}: {resp.status_code}, not its unit page")
            if n % every == 0 or n == len(plan):
                peek_pid, peek_mem = _peek_idle_memory(engine)
                with engine.connect() as conn:
                    pid, mem = conn.exec_driver_sql(f"SELECT pg_backend_pid(), ({MEM_SQL})").one()
                pids.add(pid)
                readings.append(
                    {
                        "after_tenants": n,
                        "mb": round(int(mem) / 2**20, 2),
                        "pid": pid,
                        "idle_peek_mb": round(peek_mem / 2**20, 2) if peek_mem else None,
                        "idle_peek_pid": peek_pid,
                    }
                )
        wall = time.perf_counter() - t0
    finally:
        platform.shards.dispose()
    peeks = [r["idle_peek_mb"] for r in readings if r["idle_peek_mb"] is not None]
    return {
        "recycle_after_tenants": recycle_after,
        "requests": len(plan),
        "statuses": statuses,
        "wall_s": round(wall, 3),
        "ms_per_request": round(wall / len(plan) * 1000, 2),
        "mem_mb_max": max(r["mb"] for r in readings),
        "idle_peek_mb_max": max(peeks) if peeks else None,
        "backends_seen_at_readings": len(pids),
        "readings": readings,
    }


# --------------------------------------------------------------------------- one run


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _cpu_ratio(blocks: list[dict]) -> float | None:
    if len(blocks) < 2 or "server_cpu_ms_per_tenant" not in blocks[0]:
        return None

    def cost(b):
        return b["server_cpu_ms_per_tenant"] + b["client_cpu_ms_per_tenant"]

    return round(cost(blocks[-1]) / cost(blocks[0]), 3) if cost(blocks[0]) else None


def one_run(args, run_no: int) -> dict:
    phases = Phases()
    with phases.phase("database"):
        db_url, where = fresh_database()
    result: dict = {"run": run_no, "database": where}
    app = create_app(app_config(db_url))
    platform = app.extensions["motcua"]
    plan = tenant_plan(args.tenants)
    try:
        server_pid = postmaster_pid(platform.shards.primary)
        phases.add_root(server_pid)
        with platform.shards.primary.connect() as conn:
            settings = {
                name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in (
                    "server_version",
                    "fsync",
                    "synchronous_commit",
                    "wal_level",
                    "shared_buffers",
                    "max_wal_size",
                    "wal_compression",
                    "checkpoint_timeout",
                )
            }
        with phases.phase("upgrade_platform"):
            upgrade_platform(platform.shards, platform.trees)
        head = platform.trees.tenant_head
        with phases.phase("create"):
            created = create_tenants(platform, plan, args.profile, server_pid)
        times = created["times"]
        _creator_pid, creator_mem = _peek_idle_memory(platform.shards.engine("main"))
        with phases.phase("seed"):
            rows = seed_dossiers(platform, plan, args.rows)
        with platform.shards.primary.connect() as conn:
            db_size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
            relations = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE left(n.nspname, 2) = 't_'"
            ).scalar()
    finally:
        platform.shards.dispose()

    with phases.phase("migrate_noop"):
        noop = timed_migrate(db_url)
    if noop["exit_code"] != 0:
        raise SystemExit(f"no-op flask tenants migrate failed: {noop}")
    verify_engine = create_engine(db_url, poolclass=NullPool)
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        tenant_dir = write_revision(Path(tmp), head)
        with phases.phase("migrate_revision"):
            revision = timed_migrate(db_url, tenant_dir)
    revision["verification"] = verify_revision(verify_engine, len(plan))
    verify_engine.dispose()
    revision["ok"] = revision["exit_code"] == 0 and revision["verification"]["ok"]
    if not revision["ok"]:
        log(f"!! REVISION RUN FAILED: {json.dumps(revision)}")

    with phases.phase("requests_recycle"):
        recycled = serve_requests(db_url, plan, args.mem_every, args.recycle_after)
    no_recycle = None
    if not args.skip_no_recycle:
        with phases.phase("requests_no_recycle"):
            no_recycle = serve_requests(db_url, plan, args.mem_every, 10**9)

    first, last = times[:100], times[-100:]
    result.update(
        {
            "tenants": len(plan),
            "tenant_tables": len(TenantBase.metadata.tables),
            "tenant_relations_per_schema": round(relations / len(plan), 1),
            "create_median_s": round(statistics.median(times), 4),
            "create_p95_s": round(_q(times, 0.95), 4),
            "create_max_s": round(max(times), 4),
            "create_total_s": round(sum(times), 2),
            "create_first100_median_s": round(statistics.median(first), 4),
            "create_last100_median_s": round(statistics.median(last), 4),
            "create_last100_vs_first100": round(statistics.median(last) / statistics.median(first), 3),
            "create_blocks_of_100": created["blocks"],
            "create_server_cpu_last_vs_first_block": _cpu_ratio(created["blocks"]),
            "create_connection_mem_mb_after": round(creator_mem / 2**20, 1) if creator_mem else None,
            "seed_rows": rows,
            "seed_total_s": phases.data["seed"]["wall_s"],
            "migrate_noop_s": noop["wall_s"],
            "migrate_noop": noop,
            "migrate_revision_s": revision["wall_s"],
            "migrate_revision_per_schema_ms": round(revision["wall_s"] / len(plan) * 1000, 2),
            "migrate_revision_ok": revision["ok"],
            "migrate_revision": revision,
            "backend_mem_mb_max": recycled["mem_mb_max"],
            "backend_mem_mb_max_no_recycle": no_recycle["mem_mb_max"] if no_recycle else None,
            "requests_recycle": recycled,
            "requests_no_recycle": no_recycle,
            "database_size_mb_after": round(db_size / 2**20, 1),
            "server_settings": settings,
            "server_version": settings["server_version"],
            "phases": phases.data,
        }
    )
    if not args.keep_db:
        drop_database(db_url)
    return result


# --------------------------------------------------------------------------- report


HEADLINE = (
    "create_median_s",
    "create_p95_s",
    "create_first100_median_s",
    "create_last100_median_s",
    "create_last100_vs_first100",
    "create_server_cpu_last_vs_first_block",
    "migrate_noop_s",
    "migrate_revision_s",
    "backend_mem_mb_max",
    "backend_mem_mb_max_no_recycle",
    "seed_total_s",
)

TARGETS = {
    "create_median_s": ("<=", 0.15),
    "create_last100_vs_first100": ("<=", 1.20),
    "migrate_noop_s": ("<=", 2.0),
    "migrate_revision_s": ("<=", 10.0),
    "backend_mem_mb_max": ("<=", 100.0),
}


def machine_info() -> dict:
    info = {
        "cpus": os.cpu_count(),
        "python": pyplatform.python_version(),
        "kernel": pyplatform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_total_mb"] = int(line.split()[1]) // 1024
                break
    except OSError:
        pass
    return info


def git_info() -> dict:
    def git(*cmd: str) -> str:
        proc = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "app", "tenants")),
    }


def summarise(runs: list[dict], args, started: float) -> dict:
    last = runs[-1]
    out: dict = {"tenants": last["tenants"], "tenant_tables": last["tenant_tables"], "repeat": len(runs)}
    for key in HEADLINE:
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = round(statistics.median(values), 4) if values else None
    out["targets"] = {
        key: {
            "target": f"{op} {limit}",
            "value": out[key],
            "holds": out[key] is not None and out[key] <= limit,
        }
        for key, (op, limit) in TARGETS.items()
    }
    if len(runs) > 1:
        out["per_run"] = {key: [r.get(key) for r in runs] for key in HEADLINE}
    out.update(
        {
            "migrate_revision_ok": all(r["migrate_revision_ok"] for r in runs),
            "seed_rows": last["seed_rows"],
            "migrate_revision_per_schema_ms": round(out["migrate_revision_s"] / out["tenants"] * 1000, 2),
            "migrate_default_jobs": "MIGRATE_JOBS default (Settings.migrate_jobs)",
            "server_settings": last["server_settings"],
            "foreign_cpu_share_by_phase": {
                name: [r["phases"][name]["foreign_cpu_share"] for r in runs]
                for name in last["phases"]
                if name != "database"
            },
            "database": last["database"],
            "options": vars(args),
            "machine": machine_info(),
            "git": git_info(),
            "started_utc": datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "total_wall_s": round(time.time() - started, 1),
            "runs": runs,
        }
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=1000, help="tenants to create (default 1000)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="full runs (fresh database each); medians reported"
    )
    parser.add_argument("--rows", type=int, default=100, help="dossiers per tenant (default 100)")
    parser.add_argument("--mem-every", type=int, default=50, help="read backend memory every N requests")
    parser.add_argument("--recycle-after", type=int, default=40, help="db_recycle_after_tenants (default 40)")
    parser.add_argument("--skip-no-recycle", action="store_true", help="skip the recycling-off request pass")
    parser.add_argument("--keep-db", action="store_true", help="keep motcua_bench after the run")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the create_tenant calls into FILE")
    parser.add_argument("--out", help="also write the JSON here (default bench/results/tenancy-<UTC>.json)")
    args = parser.parse_args(argv)
    if args.tenants < 2:
        parser.error("--tenants must be at least 2")
    started = time.time()
    runs = []
    for run_no in range(1, args.repeat + 1):
        log(f"run {run_no}/{args.repeat}: {args.tenants} tenants")
        runs.append(one_run(args, run_no))
    summary = summarise(runs, args, started)
    text_out = json.dumps(summary, ensure_ascii=False, indent=2, default=str)
    target = (
        Path(args.out)
        if args.out
        else ROOT / "bench" / "results" / f"tenancy-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text_out + "\n")
    log(f"results written to {target}")
    print(text_out)
    if not summary["migrate_revision_ok"]:
        log(
            "!! FAILED: `flask tenants migrate` did not bring every schema to the new revision "
            "(column, index, alembic_version and ledger checked; see runs[].migrate_revision). Exit status 1."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
