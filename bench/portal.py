"""Portal benchmark (issue #4): procedure search over 200 units, and the public status lookup vs the peer.

    make -s bench-portal                                   # everything, peer included (~6-10 min)
    .venv/bin/python bench/portal.py --units 40 --dossiers 300 --duration 5 --peer skip   # quick check
    .venv/bin/python bench/portal.py --peer /tmp/peer-bench/results.json   # peer figures of an earlier run

1. **Search.** ``--units`` units (bench/tenancy.py's plan: a city, ~10 % districts and
   departments, communes) with ``--procedures`` active procedures each, 10 sectors, names
   built from real procedure words (so many units share names, as with the standard
   catalogue). The city index is rebuilt with ``app.catalog.index.reindex`` (timed). Then
   ``--repeat`` runs of ``--search-requests`` GETs each through the real routes with Flask's
   test client: the unit portal search ``/thu-tuc?q=…`` on a random unit's host, and the city
   portal ``/?q=…`` (search + statistics teaser + unit list: the whole page). Per run p50 and
   p95; the medians of the runs are the figures (target p95 ≤ 30 ms).
2. **Status lookup, the peer's workload.** ``--lookup-tenants`` of those units get
   ``--dossiers`` dossiers each (bench/onestop_data.py's shape and status mix, ~5 actions
   each). gunicorn ``wsgi:app`` with ``--workers`` sync workers on 127.0.0.1, the same tool
   as the peer (wrk, one thread, ``--connections``, Host rotating over the seeded units,
   ``--warmup`` s discarded then ``--duration`` s):

   - ``mixed``: the peer's alternation. The peer's list (20 dossiers of one status by due
     date) is our ``GET /api/v1/dossiers?status=4&page_size=20`` with a unit API token
     (``dossiers:read``): we have no anonymous list of a unit's dossiers, so ours also checks
     a token and counts the total (X-Pagination). The peer's detail by code is our public
     ``GET /api/v1/lookup?ma=<code>&xac_thuc=<phone>`` (status, steps in plain language,
     due date and its explanation, what is asked of the applicant).
   - ``lookup``: only the public lookup, same rotation and codes. This is the issue's
     "public status lookup" (p99 ≤ 25 ms and ≥ 2× the peer's req/s).
   - ``lookup_1conn``: the lookup with one connection: latency without queueing.
   - ``lookup_limiter_on``: the lookup with the rate limiter counting every request (a
     second gunicorn without ``LOOKUP_EXEMPT_IPS`` and limits too high to refuse): its cost
     is the difference with ``lookup``.

   After the load, a Host-based leak check (every list code carries the unit's code prefix,
   another unit's code is not found through this host, an unknown host is a 404).
3. **Peer.** Unless ``--peer skip``: ``run.sh --skip-clone`` of a copy of
   ../shared/peer-bench (``--peer-dir``, copied if missing) right after ours, and its
   ``results.json`` headline; or ``--peer FILE`` reads an earlier results.json.

Prints ONE JSON object on stdout (progress on stderr) and keeps a copy in
``bench/results/portal-<UTC>.json``. Database: DATABASE_URL's server (else the embedded one),
its own database ``motcua_bench_portal``, dropped at the start and the end (``--keep-db``).
Redis (the limiter): REDIS_URL, default redis://127.0.0.1:6379/0. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from onestop_data import LoadedUnit, bulk_load, dossier_rows  # noqa: E402
from sqlalchemy import create_engine, insert, make_url, select  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from tenancy import Phases, git_info, log, machine_info, postmaster_pid, tenant_plan  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.api_tokens import create_token  # noqa: E402
from app.calendar.workcal import VN_TZ  # noqa: E402
from app.catalog import index  # noqa: E402
from app.catalog.models import Procedure, Sector  # noqa: E402
from app.catalog.search import fold  # noqa: E402
from app.core import embedded  # noqa: E402
from app.core.config import sqlalchemy_url  # noqa: E402
from app.portal import lookup  # noqa: E402
from tenants import registry  # noqa: E402
from tenants.migrations import upgrade_platform  # noqa: E402
from tests.dossier_fixtures import build_unit  # noqa: E402

DB_NAME = "motcua_bench_portal"
DOMAIN = "egov.test"  # the peer's; the search phase (test client) uses localhost
TARGET_SEARCH_P95_MS = 30.0
TARGET_LOOKUP_P99_MS = 25.0
TARGET_PEER_RATIO = 2.0
CODE_FIELD = 0  # dossier_rows' tuple: code, …, applicant_phone at 13
PHONE_FIELD = 13
SAMPLE_CODES = 50  # per unit, like the peer
_KEEP_ALIVE: list = []

VERBS = (
    "Cấp",
    "Cấp lại",
    "Cấp đổi",
    "Đăng ký",
    "Đăng ký lại",
    "Gia hạn",
    "Điều chỉnh",
    "Xác nhận",
    "Thẩm định",
    "Thu hồi",
)
OBJECTS = (
    "khai sinh",
    "khai tử",
    "kết hôn",
    "giám hộ",
    "thay đổi, cải chính hộ tịch",
    "giấy phép xây dựng nhà ở riêng lẻ",
    "giấy phép xây dựng công trình",
    "giấy chứng nhận quyền sử dụng đất",
    "biến động đất đai",
    "hộ kinh doanh",
    "giấy phép kinh doanh rượu",
    "giấy chứng nhận an toàn thực phẩm",
    "chứng thực bản sao từ bản chính",
    "chứng thực chữ ký",
    "giấy phép lao động",
    "phiếu lý lịch tư pháp",
    "tình trạng hôn nhân",
    "trợ cấp xã hội hằng tháng",
    "thẻ bảo hiểm y tế",
    "giấy phép lái xe",
    "đăng ký xe máy chuyên dùng",
    "hoạt động khuyến nông",
    "giấy phép khai thác nước mặt",
    "giấy phép xả thải",
    "tổ chức lễ hội",
    "biểu diễn nghệ thuật",
    "thành lập trường mầm non",
    "chuyển trường học sinh",
    "hành nghề khám bệnh, chữa bệnh",
    "cơ sở bán lẻ thuốc",
)
SECTORS = (
    "Hộ tịch",
    "Đất đai",
    "Hoạt động xây dựng",
    "Hộ kinh doanh",
    "Chứng thực",
    "Lao động",
    "Bảo trợ xã hội",
    "Giao thông",
    "Văn hóa",
    "Y tế",
)
QUERIES = (
    "dang ky khai sinh",
    "Đăng ký kết hôn",
    "giay phep xay dung",
    "CẤP LẠI",
    "ho kinh doanh",
    "chung thuc ban sao",
    "quyen su dung dat",
    "thu hoi giay phep lao dong",
    "xac nhan tinh trang hon nhan",
    "khai",
    "B.0007.0042",  # an exact code
    "khong co thu tuc nao nhu vay",
)


# --------------------------------------------------------------------------- database


def _admin_engine(url: str):
    return create_engine(
        make_url(sqlalchemy_url(url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )


def fresh_database() -> tuple[str, str]:
    admin_url, where = os.environ.get("DATABASE_URL"), "DATABASE_URL"
    if not admin_url:
        server = embedded.start_postgres(ROOT / ".data" / "bench")
        _KEEP_ALIVE.append(server)
        admin_url, where = embedded.database_url(server, "postgres"), "embedded (.data/bench)"
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{DB_NAME}"')
    engine.dispose()
    return make_url(sqlalchemy_url(admin_url)).set(database=DB_NAME).render_as_string(
        hide_password=False
    ), where


def drop_database(db_url: str) -> None:
    engine = _admin_engine(db_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    engine.dispose()


def run_sql(db_url: str, statement: str) -> None:
    engine = create_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def server_settings(db_url: str) -> dict:
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.connect() as conn:
        names = ("server_version", "shared_buffers", "fsync", "synchronous_commit", "max_wal_size", "jit")
        return {n: conn.exec_driver_sql(f"SHOW {n}").scalar() for n in names}


# --------------------------------------------------------------------------- helpers


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _stats(values_ms: list[float]) -> dict:
    return {
        "p50": round(statistics.median(values_ms), 2),
        "p95": round(_q(values_ms, 0.95), 2),
        "p99": round(_q(values_ms, 0.99), 2),
        "max": round(max(values_ms), 2),
        "n": len(values_ms),
    }


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


# --------------------------------------------------------------------------- setup


def create_units(platform, count: int) -> list:
    head = platform.trees.tenant_head
    tenants = []
    for n, spec in enumerate(tenant_plan(count), 1):
        tenants.append(registry.create_tenant(platform.shards, head, **spec))
        if n % 50 == 0:
            log(f"  {n}/{count} units")
    return tenants


def seed_procedures(platform, tenants: list, per_unit: int) -> int:
    """``per_unit`` procedures per unit, bulk (Core INSERT: no outbox events; the index is rebuilt after)."""
    combos = [(v, o) for v in VERBS for o in OBJECTS]
    total = 0
    for t_no, tenant in enumerate(tenants):
        rng = random.Random(1000 + t_no)
        picked = rng.sample(combos, min(per_unit, len(combos)))
        with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
            base = len(session.scalars(select(Sector.id)).all())
            sector_ids = list(
                session.scalars(
                    insert(Sector).returning(Sector.id),
                    [
                        {"code": f"S{i:02d}", "name": name, "sort_order": base + i}
                        for i, name in enumerate(SECTORS)
                    ],
                )
            )
            rows = []
            for p_no, (verb, obj) in enumerate(picked):
                name = f"{verb} {obj}"
                if p_no % 7 == 0:
                    name += f" ({tenant.name})"  # some units word theirs their own way
                rows.append(
                    {
                        "code": f"B.{t_no:04d}.{p_no:04d}",
                        "name": name,
                        "name_search": fold(name),
                        "sector_id": sector_ids[p_no % len(sector_ids)],
                        "service_level": 1 + p_no % 4,
                        "time_value": Decimal(5),
                        "time_unit": "working_days",
                        "is_active": p_no % 25 != 24,
                    }
                )
            session.execute(insert(Procedure), rows)
            total += len(rows)
    return total


def seed_lookup_units(platform, tenants: list, dossiers: int) -> list[dict]:
    """build_unit's shape, ``dossiers`` dossiers and an API token per unit; what the load script needs."""
    today = datetime.now(VN_TZ).date()
    out = []
    for n, tenant in enumerate(tenants):
        unit = build_unit(platform, lambda _kind, t=tenant: t, time_value="5")
        loaded = LoadedUnit(unit)
        for name, account in unit.accounts.items():
            loaded.staff[name] = [account.id]
        loaded.staff["counter_extra"] = loaded.staff["counter"]
        loaded.staff["case_extra"] = loaded.staff["officer"] + loaded.staff["officer2"]
        loaded.staff["head_div_extra"] = loaded.staff["head_div"]
        rows = dossier_rows(loaded, dossiers, today, seed=20261127 + n)
        bulk_load(loaded, rows)
        with unit.session() as session, session.begin():
            _row, secret = create_token(
                session, name="bench", scopes=["dossiers:read"], account_id=unit.accounts["head"].id
            )
        sample = random.Random(n).sample(rows, min(SAMPLE_CODES, len(rows)))
        out.append(
            {
                "slug": tenant.slug,
                "host": f"{tenant.slug}.{DOMAIN}",
                "unit_code": tenant.unit_code,
                "token": secret,
                "codes": [[r[CODE_FIELD], r[PHONE_FIELD]] for r in sample],
            }
        )
        log(f"  lookup unit {n + 1}/{len(tenants)}: {tenant.slug}, {len(rows)} dossiers")
    return out


# --------------------------------------------------------------------------- search


def measure_search(app, tenants: list, requests: int, warmup: int, seed: int) -> dict:
    """Unit-portal and city-portal search through the real routes (Flask test client)."""
    rng = random.Random(seed)
    client = app.test_client()
    timings: dict[str, list[float]] = {"unit": [], "city": []}
    found: dict[str, int] = {"unit": 0, "city": 0}
    for i in range(warmup + requests):
        query = QUERIES[i % len(QUERIES)]
        tenant = rng.choice(tenants)
        for kind, base, path in (
            ("unit", f"http://{tenant.slug}.localhost", "/thu-tuc"),
            ("city", "http://localhost", "/"),
        ):
            started = time.perf_counter()
            response = client.get(path, query_string={"q": query}, base_url=base)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{kind} search {query!r} answered {response.status_code}")
            if i >= warmup:
                timings[kind].append(elapsed)
                found[kind] += "/thu-tuc/" in response.get_data(as_text=True)
    return {kind: {**_stats(values), "pages_with_hits": found[kind]} for kind, values in timings.items()}


def check_search(app, tenants: list) -> dict:
    """The ranking is right on this data: the exact code comes first, diacritics are ignored."""
    with app.app_context():
        platform = app.extensions["motcua"]
        with platform.shards.platform_session() as session:
            code_hit = index.search_city(session, "b.0007.0042")
            folded = index.search_city(session, "dang ky khai sinh")
            accented = index.search_city(session, "ĐĂNG KÝ KHAI SINH")
    return {
        "exact_code_first": bool(code_hit) and code_hit[0].code == "B.0007.0042",
        "diacritics_ignored": [h.procedure_id for h in folded] == [h.procedure_id for h in accented]
        and bool(folded),
    }


# --------------------------------------------------------------------------- the limiter's own cost


def measure_limiter(app, calls: int, repeat: int) -> dict:
    """What the lookup's limiter adds per lookup, in process: ``check_limits`` counting (an INCR+EXPIRE
    pipeline and a GET on Redis) against the exempt path, ``calls`` each, alternated ``repeat`` times."""
    settings = app.extensions["motcua"].settings
    exempt = dataclasses.replace(settings, lookup_exempt_ips="198.51.100.7")
    counting = dataclasses.replace(settings, lookup_limit_per_ip=10**9, lookup_limit_per_code=10**9)
    per_call: dict[str, list[float]] = {"exempt": [], "counting": []}
    with app.app_context():
        for _ in range(repeat):
            for name, chosen in (("exempt", exempt), ("counting", counting)):
                started = time.perf_counter()
                for n in range(calls):
                    if lookup.check_limits(chosen, 1, "198.51.100.7", f"BENCH-{n % 50}") is not None:
                        raise RuntimeError("the limiter refused a benchmark lookup")
                per_call[name].append((time.perf_counter() - started) * 1000 / calls)
    counting_ms = statistics.median(per_call["counting"])
    return {
        "calls_per_run": calls,
        "runs": repeat,
        "exempt_ms_per_lookup": round(statistics.median(per_call["exempt"]), 4),
        "counting_ms_per_lookup": round(counting_ms, 4),
        "cost_ms_per_lookup": round(counting_ms - statistics.median(per_call["exempt"]), 4),
        "note": "a failed lookup also counts its code (one more INCR+EXPIRE); benchmark lookups all succeed",
    }


# --------------------------------------------------------------------------- HTTP (gunicorn + wrk)

LUA = r"""
local tenants = {
__TENANTS__
}
local mode = "__MODE__"
local counter = 0
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   counter = 0
   ok = 0
   non200 = 0
   codes = 0
   found = 0
end

function request()
   counter = counter + 1
   local half = math.floor(counter / 2)
   local n = counter
   if mode == "mixed" then n = half end
   local t = tenants[(n % #tenants) + 1]
   if mode == "mixed" and counter % 2 == 0 then
      return wrk.format("GET", "/api/v1/dossiers?status=4&page_size=20",
                        { Host = t.host, Authorization = "Bearer " .. t.token })
   end
   local pick = t.codes[(math.floor(n / #tenants) % #t.codes) + 1]
   return wrk.format("GET", "/api/v1/lookup?ma=" .. pick[1] .. "&xac_thuc=" .. pick[2], { Host = t.host })
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      return
   end
   ok = ok + 1
   if string.find(body, '"found":true', 1, true) then found = found + 1 end
   for _ in string.gmatch(body, '"code":"[^"]+"') do codes = codes + 1 end
end

function done(summary, latency, requests)
   local agg = { ok = 0, non200 = 0, codes = 0, found = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(agg) do agg[k] = agg[k] + (thread:get(k) or 0) end
   end
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"duration_us": %d, "requests": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
      '"status": %d, "timeout": %d}, "latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, ' ..
      '"p95": %d, "p99": %d, "p999": %d}, "lua": {"ok": %d, "non200": %d, "codes": %d, "found": %d}}\n',
      summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency:percentile(99.9), agg.ok, agg.non200, agg.codes, agg.found))
end
"""


def lua_script(units: list[dict], mode: str, folder: Path) -> Path:
    rows = []
    for u in units:
        codes = ", ".join(f'{{"{c}", "{p}"}}' for c, p in u["codes"])
        rows.append(f'  {{ host = "{u["host"]}", token = "{u["token"]}", codes = {{ {codes} }} }},')
    path = folder / f"load-{mode}.lua"
    path.write_text(LUA.replace("__TENANTS__", "\n".join(rows)).replace("__MODE__", mode))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """``gunicorn wsgi:app`` with ``workers`` sync workers on 127.0.0.1 (stopped by its own pid)."""

    def __init__(self, db_url: str, workers: int, env: dict, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "SHARD_URLS": "",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "PLATFORM_DOMAIN": DOMAIN,
            "SECRET_KEY": "bench-portal",
            **env,
        }
        self.cmd = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            *("--workers", str(workers), "--worker-class", "sync"),
            *("--bind", f"127.0.0.1:{self.port}", "--chdir", str(ROOT)),
            "wsgi:app",
        ]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self.log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self.log_file, stderr=self.log_file)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def wrk(url: str, script: Path, *, connections: int, seconds: int) -> dict:
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 60)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    raw = json.loads(line[len("WRKJSON ") :])
    seconds_run = raw["duration_us"] / 1e6
    lat = {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()}
    errors = sum(raw["errors"].values())
    return {
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "latency_ms": lat,
        "errors": raw["errors"],
        "error_total": errors,
        "checks": raw["lua"],
    }


def load(url: str, script: Path, *, connections: int, warmup: int, seconds: int, db_url: str) -> dict:
    run_sql(db_url, "CHECKPOINT")
    wrk(url, script, connections=connections, seconds=warmup)  # discarded
    return wrk(url, script, connections=connections, seconds=seconds)


def _get(url: str, host: str, path: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url + path, headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def verify_tenancy(url: str, units: list[dict]) -> dict:
    """Host-based leak check after the load: lists, own and foreign codes, an unknown host."""
    problems: list[str] = []
    checked = 0
    for i, unit in enumerate(units):
        status, body = _get(
            url,
            unit["host"],
            "/api/v1/dossiers?status=4&page_size=20",
            {"Authorization": f"Bearer {unit['token']}"},
        )
        codes = [row["code"] for row in body] if status == 200 and isinstance(body, list) else []
        if status != 200 or len(codes) != 20 or any(not c.startswith(unit["unit_code"] + "-") for c in codes):
            problems.append(f"list {unit['slug']}: {status}, {len(codes)} codes")
        code, phone = unit["codes"][0]
        status, body = _get(url, unit["host"], f"/api/v1/lookup?ma={code}&xac_thuc={phone}")
        if status != 200 or not body.get("found") or body.get("code") != code:
            problems.append(f"lookup {unit['slug']} own code: {status}")
        other = units[(i + 1) % len(units)]
        code, phone = other["codes"][0]
        status, body = _get(url, unit["host"], f"/api/v1/lookup?ma={code}&xac_thuc={phone}")
        if status != 200 or body.get("found") is not False:
            problems.append(f"lookup {unit['slug']} found {other['slug']}'s code")
        status, _ = _get(
            url, unit["host"], "/api/v1/dossiers?status=4", {"Authorization": f"Bearer {other['token']}"}
        )
        if status != 401:
            problems.append(f"{other['slug']}'s token accepted on {unit['slug']}: {status}")
        checked += 4
    status, _ = _get(url, f"no-such-unit.{DOMAIN}", "/api/v1/lookup?ma=X&xac_thuc=Y")
    if status != 404:
        problems.append(f"unknown host: {status}")
    return {"requests": checked + 1, "problems": problems, "passed": not problems}


def measure_http(args, db_url: str, units: list[dict], folder: Path) -> dict:
    scripts = {mode: lua_script(units, mode, folder) for mode in ("mixed", "lookup")}
    common = {
        "connections": args.connections,
        "warmup": args.warmup,
        "seconds": args.duration,
        "db_url": db_url,
    }
    out: dict = {"runs": []}
    exempt = {"LOOKUP_EXEMPT_IPS": "127.0.0.1"}
    limited = {"LOOKUP_LIMIT_PER_IP": "1000000000", "LOOKUP_LIMIT_PER_CODE": "1000000000"}
    for rep in range(args.http_repeats):
        run: dict = {}
        with Gunicorn(db_url, args.workers, exempt, folder / "gunicorn.log") as server:
            log(f"http {rep + 1}/{args.http_repeats}: mixed (list + lookup), {args.duration} s")
            run["mixed"] = load(server.url, scripts["mixed"], **common)
            log("  lookup only")
            run["lookup"] = load(server.url, scripts["lookup"], **common)
            log("  lookup, one connection")
            run["lookup_1conn"] = load(server.url, scripts["lookup"], **{**common, "connections": 1})
            if rep == 0:
                out["tenancy_verification"] = verify_tenancy(server.url, units)
        with Gunicorn(db_url, args.workers, limited, folder / "gunicorn.log") as server:
            log("  lookup, limiter counting every request")
            run["lookup_limiter_on"] = load(server.url, scripts["lookup"], **common)
        out["runs"].append(run)
    # The run with the median lookup throughput is reported (like the peer's --http-repeats).
    by_rate = sorted(out["runs"], key=lambda r: r["lookup"]["requests_per_s"])
    out["reported"] = by_rate[len(by_rate) // 2]
    return out


# --------------------------------------------------------------------------- peer


PEER_PG_PORT = 55432  # run.sh's private PostgreSQL; it refuses to start while the port is taken


def wait_for_port(port: int, timeout: float = 120.0) -> None:
    """Wait until ``port`` can be bound on 127.0.0.1.

    Our load runs open a new TCP connection per request, so the ephemeral ports cycle and
    one of them may be the peer's port, held in TIME-WAIT for up to a minute.
    """
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # run.sh says what is wrong
        log(f"port {port} is still held (TIME-WAIT of our load); waiting")
        time.sleep(5)


def peer_figures(args) -> dict | None:
    if args.peer == "skip":
        return None
    if args.peer != "run":
        path = Path(args.peer)
        return _peer_summary(json.loads(path.read_text()), str(path), ran_now=False)
    folder = Path(args.peer_dir)
    if not (folder / "run.sh").exists():
        shutil.copytree(ROOT.parent / "shared" / "peer-bench", folder)
    env = dict(os.environ)
    if "PG_BIN" not in env and not Path("/usr/local/bin/postgres").exists():
        for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
            env["PG_BIN"] = str(candidate)
            break
    wait_for_port(PEER_PG_PORT)
    log(f"peer: {folder}/run.sh {args.peer_args} (PG_BIN={env.get('PG_BIN', '/usr/local/bin')})")
    started = time.time()
    proc = subprocess.run(
        ["./run.sh", *args.peer_args.split()],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (Path(tempfile.gettempdir()) / "motcua-bench-portal-peer.log").write_text(proc.stderr[-20000:])
    results = folder / "results.json"
    if proc.returncode != 0 or not results.exists() or results.stat().st_mtime < started:
        log(f"peer run failed (exit {proc.returncode}); its stderr tail:\n{proc.stderr[-2000:]}")
        return {"error": f"run.sh exit {proc.returncode}", "stderr_tail": proc.stderr[-1000:]}
    return _peer_summary(json.loads(results.read_text()), str(results), ran_now=True)


def _peer_summary(data: dict, source: str, *, ran_now: bool) -> dict:
    head, http = data.get("headline", {}), data.get("http", {})
    return {
        "source": source,
        "ran_in_this_sitting": ran_now,
        "started_at": data.get("started_at"),
        "tool": http.get("tool") or http.get("load_tool"),
        "requests_per_s": head.get("http_requests_per_s"),
        "p50_ms": head.get("http_p50_ms"),
        "p99_ms": head.get("http_p99_ms"),
        "errors": head.get("http_errors"),
        "worker_ms_per_request": http.get("worker_ms_per_request"),
        "quiet_run": head.get("quiet_run"),
        "tenancy_verification_passed": head.get("tenancy_verification_passed"),
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--procedures", type=int, default=150, help="per unit")
    parser.add_argument("--search-requests", type=int, default=300, help="per kind and run")
    parser.add_argument("--search-warmup", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="search runs (medians reported)")
    parser.add_argument("--lookup-tenants", type=int, default=20)
    parser.add_argument("--dossiers", type=int, default=2000, help="per lookup unit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk discarded before each run")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--http-repeats", type=int, default=1)
    parser.add_argument("--peer", default="run", help="run | skip | a peer results.json")
    parser.add_argument("--peer-dir", default="/tmp/peer-bench")
    parser.add_argument("--peer-args", default="--skip-clone")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--out", help="write the JSON here (default bench/results/portal-<UTC>.json)")
    args = parser.parse_args(argv)
    if args.lookup_tenants > args.units - 1:
        parser.error("--lookup-tenants must be below --units")
    if not args.skip_http and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk), or pass --skip-http")
    started = time.time()
    phases = Phases()
    db_url, where = fresh_database()
    phases.add_root(postmaster_pid(create_engine(db_url, poolclass=NullPool)))
    log(f"database {DB_NAME} on {where}")
    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-portal-"))
    app = create_app(
        {
            "database_url": db_url,
            "shard_urls": {},
            "redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "platform_domain": "localhost",
            "log_format": "plain",
            "log_level": "WARNING",
        }
    )
    platform = app.extensions["motcua"]
    result: dict = {"benchmark": "portal", "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        upgrade_platform(platform.shards, platform.trees)
        with phases.phase("create_units"):
            log(f"creating {args.units} units")
            tenants = create_units(platform, args.units)
        with phases.phase("seed_procedures"):
            procedures = seed_procedures(platform, tenants, args.procedures)
        with app.app_context(), phases.phase("reindex"):
            t0 = time.perf_counter()
            index.reindex()
            reindex_s = time.perf_counter() - t0
        lookup_tenants = [t for t in tenants if t.kind == "commune"][: args.lookup_tenants]
        with phases.phase("seed_dossiers"):
            units = seed_lookup_units(platform, lookup_tenants, args.dossiers)
        run_sql(db_url, "VACUUM (ANALYZE)")
        result["setup"] = {
            "units": len(tenants),
            "procedures": procedures,
            "reindex_s": round(reindex_s, 2),
            "lookup_units": len(units),
            "dossiers_per_lookup_unit": args.dossiers,
            "server": where,
            "server_settings": server_settings(db_url),
        }
        with phases.phase("search"):
            runs = []
            for rep in range(args.repeat):
                log(f"search run {rep + 1}/{args.repeat}: {args.search_requests} unit + city searches")
                runs.append(measure_search(app, tenants, args.search_requests, args.search_warmup, seed=rep))
        result["search"] = {
            "queries": list(QUERIES),
            "runs": runs,
            "unit_p50_ms": _median([r["unit"]["p50"] for r in runs]),
            "unit_p95_ms": _median([r["unit"]["p95"] for r in runs]),
            "city_p50_ms": _median([r["city"]["p50"] for r in runs]),
            "city_p95_ms": _median([r["city"]["p95"] for r in runs]),
            "checks": check_search(app, tenants),
        }
        with phases.phase("limiter"):
            result["limiter"] = measure_limiter(app, calls=2000, repeat=5)
        if not args.skip_http:
            with phases.phase("http"):
                result["http"] = measure_http(args, db_url, units, folder)
        with phases.phase("peer"):
            result["peer"] = peer_figures(args)
    finally:
        platform.shards.dispose()
        if not args.keep_db:
            drop_database(db_url)
    result["noise"] = phases.data
    result["options"] = vars(args)
    result["headline"] = headline(result)
    result["machine"] = machine_info()
    result["git"] = git_info()
    result["wall_s"] = round(time.time() - started, 1)
    text_out = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    target = (
        Path(args.out)
        if args.out
        else ROOT / "bench" / "results" / f"portal-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text_out + "\n")
    log(f"results written to {target} (gunicorn log and wrk scripts in {folder})")
    print(text_out)
    return 0


def headline(result: dict) -> dict:
    search = result.get("search", {})
    out: dict = {
        "limiter_cost_ms_per_lookup": result.get("limiter", {}).get("cost_ms_per_lookup"),
        "search_unit_p95_ms": search.get("unit_p95_ms"),
        "search_city_p95_ms": search.get("city_p95_ms"),
        "search_target_p95_ms": TARGET_SEARCH_P95_MS,
        "search_holds": bool(search)
        and max(search["unit_p95_ms"], search["city_p95_ms"]) <= TARGET_SEARCH_P95_MS,
    }
    http = result.get("http")
    if http:
        rep = http["reported"]
        out.update(
            {
                "lookup_requests_per_s": rep["lookup"]["requests_per_s"],
                "lookup_p50_ms": rep["lookup"]["latency_ms"]["p50"],
                "lookup_p99_ms": rep["lookup"]["latency_ms"]["p99"],
                "lookup_1conn_p99_ms": rep["lookup_1conn"]["latency_ms"]["p99"],
                "lookup_1conn_requests_per_s": rep["lookup_1conn"]["requests_per_s"],
                "mixed_requests_per_s": rep["mixed"]["requests_per_s"],
                "mixed_p99_ms": rep["mixed"]["latency_ms"]["p99"],
                "limiter_on_requests_per_s": rep["lookup_limiter_on"]["requests_per_s"],
                "limiter_http_cost_ms_per_request": round(
                    1000 * args_workers(result) / rep["lookup_limiter_on"]["requests_per_s"]
                    - 1000 * args_workers(result) / rep["lookup"]["requests_per_s"],
                    3,
                ),
                "http_errors": sum(
                    r[k]["error_total"] + r[k]["checks"]["non200"] for r in http["runs"] for k in r
                ),
                "tenancy_verification_passed": http["tenancy_verification"]["passed"],
                "lookup_p99_target_ms": TARGET_LOOKUP_P99_MS,
            }
        )
    peer = result.get("peer")
    if peer and peer.get("requests_per_s") and http:
        out["peer_requests_per_s"] = peer["requests_per_s"]
        out["peer_p99_ms"] = peer["p99_ms"]
        out["ratio_lookup_vs_peer"] = round(out["lookup_requests_per_s"] / peer["requests_per_s"], 2)
        out["ratio_mixed_vs_peer"] = round(out["mixed_requests_per_s"] / peer["requests_per_s"], 2)
        out["ratio_target"] = TARGET_PEER_RATIO
    return out


def args_workers(result: dict) -> int:
    return result["options"]["workers"]


if __name__ == "__main__":
    sys.exit(main())
