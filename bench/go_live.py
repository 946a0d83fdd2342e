"""Provisioning benchmark (issue #5): from an approval to the new portal answering 200 on its host.

    make -s bench-provisioning                                   # 1,000 tenants, one run
    .venv/bin/python bench/go_live.py --tenants 50          # quick check
    .venv/bin/python bench/go_live.py --repeat 3            # medians of 3 runs (fresh database each)

Setup, in a fresh database ``motcua_bench_provisioning`` on DATABASE_URL's server (else the
embedded one; dropped at the start and the end unless ``--keep-db``): the platform migrated,
``--tenants`` tenants created the fast way (bench/tenancy.py's plan: a city, districts,
departments, communes) and the demo's standard catalogues published (app/demo/seed.py), so
the pipeline's seed step copies a real commune catalogue. Then ``gunicorn wsgi:app`` with
``--workers`` sync workers (bench/portal.py's wrapper) and ONE ``flask jobs worker
--with-scheduler`` process (what ``make worker`` runs), both on this machine and on the same
database and Redis (REDIS_URL, default redis://127.0.0.1:6379/0: its RQ queues are emptied at
the start, and the run refuses to start when another worker is registered there).

1. **Sequential.** ``--approvals`` onboarding requests for new communes are submitted and
   confirmed through provisioning/onboarding.py (tests/onboarding_support.submitted_request),
   each choosing the commune catalogue. Once the worker is idle, each is approved with
   ``onboarding_review.approve_request`` (the console's service) in its own transaction, one
   at a time. The clock starts when the approval's ``commit()`` is called (the commit enqueues
   the run) and stops at the first ``HTTP 200`` for ``GET http://127.0.0.1:<port>/`` with
   ``Host: <slug>.<PLATFORM_DOMAIN>``, polled every ``--poll-ms`` ms (404 while it is being
   built is expected). The next approval waits until the worker is idle again. Reported:
   median, p95, max, and from the run's step rows (provisioning/pipeline_models.py) each
   step's time, the wait before the worker picked the run up, and the time from the run's
   last step to the first 200 (the web workers' host cache).
2. **Concurrent.** ``--approvals`` more requests, approved at once by as many threads (each
   its own session; approvals take one advisory lock, so they commit one after another);
   each thread then polls its own host. Reported: errors (approval exceptions, answers other
   than 200/404, portals not answering within ``--timeout`` s, runs not done), each
   approval→200 time, the wall time from the start to the last 200, the runs' final statuses.

Targets (issue #5): median ≤ 3 s, p95 ≤ 6 s (sequential), 0 errors for 20 at once. Export and
re-import of a unit with 10,000 dossiers are measured by bench/lifecycle.py (``make
bench-lifecycle``); its latest result in bench/results/ is quoted, not re-measured.
Prints ONE JSON object on stdout (progress on stderr) and keeps a copy in
``bench/results/provisioning-<UTC>.json`` (git-ignored). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "bench", ROOT):  # the project, and bench/ (tenancy.py, portal.py)
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from portal import Gunicorn  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Worker  # noqa: E402
from sqlalchemy import NullPool, create_engine, make_url, select  # noqa: E402
from tenancy import (  # noqa: E402
    Phases,
    app_config,
    create_tenants,
    git_info,
    log,
    machine_info,
    postmaster_pid,
    tenant_plan,
)

from app import create_app  # noqa: E402
from app.catalog import standard  # noqa: E402
from app.catalog.specs import AUDIENCE  # noqa: E402
from app.core import embedded  # noqa: E402
from app.core.config import sqlalchemy_url  # noqa: E402
from app.core.jobs import QUEUES, get_queue, redis_connection  # noqa: E402
from app.demo.data import standard_catalogue  # noqa: E402
from provisioning import onboarding_review  # noqa: E402
from provisioning.pipeline_models import ProvisioningRun  # noqa: E402
from tenants.migrations import upgrade_platform  # noqa: E402
from tests.onboarding_support import submitted_request  # noqa: E402

DB_NAME = "motcua_bench_provisioning"
DOMAIN = "motcua.test"
TARGET_MEDIAN_S = 3.0
TARGET_P95_S = 6.0
IDLE_TIMEOUT_S = 60.0
_KEEP_ALIVE: list = []


# --------------------------------------------------------------------------- database


def _admin(url: str, statement: str) -> None:
    engine = create_engine(
        make_url(sqlalchemy_url(url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def fresh_database() -> tuple[str, str]:
    """(url of a fresh motcua_bench_provisioning, which server)."""
    admin_url, where = os.environ.get("DATABASE_URL"), "DATABASE_URL"
    if not admin_url:
        server = embedded.start_postgres(ROOT / ".data" / "bench")
        _KEEP_ALIVE.append(server)  # the embedded server stops when its handle goes away
        admin_url, where = embedded.database_url(server, "postgres"), "embedded (.data/bench)"
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    _admin(admin_url, f'CREATE DATABASE "{DB_NAME}"')
    url = make_url(sqlalchemy_url(admin_url)).set(database=DB_NAME)
    return url.render_as_string(hide_password=False), where


def drop_database(db_url: str) -> None:
    _admin(db_url, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def publish_commune_catalogue(platform) -> tuple[int, int]:
    """The demo's commune catalogue published (offered to no one): what a new commune seeds from.

    As tests/provisioning_fixtures.publish_district_catalogue; the audiences are cleared
    because the demo's unit slugs do not exist here. Returns (version number, procedures).
    """
    with platform.shards.platform_session() as session, session.begin():
        draft = standard.create_draft(session, "commune", actor_id=None, copy_latest=False)
        for raw in standard_catalogue("commune"):
            standard.put_procedure(session, draft, {**raw, AUDIENCE: []})
        standard.publish_version(session, draft, actor_id=None, offer=False)
        return draft.number, len(draft.procedures)


# --------------------------------------------------------------------------- the worker process


class RQWorker:
    """ONE ``flask jobs worker --with-scheduler`` process (stopped by its own pid)."""

    def __init__(self, env: dict, log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.redis = Redis.from_url(env["REDIS_URL"])
        self.cmd = [str(ROOT / ".venv" / "bin" / "flask"), "jobs", "worker", "--with-scheduler"]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> RQWorker:
        self.log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=self.log_file, stderr=self.log_file
        )
        deadline = time.monotonic() + 60
        while Worker.count(connection=self.redis) < 1:  # registered: it listens
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not register within 60 s")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def prepare_queues() -> None:
    """Refuse to share the Redis database with another worker; empty leftovers of earlier runs."""
    others = Worker.count(connection=redis_connection())
    if others:
        raise SystemExit(
            f"{others} RQ worker(s) already listen on REDIS_URL's database: they would take this "
            "benchmark's jobs. Point REDIS_URL at a database of its own (e.g. redis://127.0.0.1:6379/5)."
        )
    for name in QUEUES:
        get_queue(name).empty()


def queues_busy() -> int:
    return sum(get_queue(n).count + get_queue(n).started_job_registry.count for n in QUEUES)


def wait_idle(app) -> float:
    """Wait until nothing is queued or running (mails of earlier steps included); seconds waited."""
    t0 = time.perf_counter()
    with app.app_context():
        while queues_busy():
            if time.perf_counter() - t0 > IDLE_TIMEOUT_S:
                log(f"  !! the worker is still busy after {IDLE_TIMEOUT_S:.0f} s; going on")
                break
            time.sleep(0.05)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- requests, approval, polling


def make_requests(app, platform, parents: list[str], catalog: str, prefix: str, count: int) -> list[dict]:
    """``count`` confirmed requests for new communes, through the onboarding verbs."""
    out = []
    for i in range(count):
        slug = f"{prefix}-{i + 1:03d}"
        request = submitted_request(
            app, platform, parents[i % len(parents)], kind="commune", catalog=catalog, slug=slug
        )
        out.append({"slug": slug, "request_id": request.id, "host": f"{slug}.{DOMAIN}"})
    return out


def approve(app, platform, item: dict) -> None:
    """The console's approval in its own transaction; stamps the moment its commit is issued."""
    with app.app_context(), platform.shards.platform_session() as session:
        session.begin()
        t0 = time.perf_counter()
        run = onboarding_review.approve_request(
            session, item["request_id"], actor_account_id=None, actor_label="bench ops"
        )
        item["run_id"] = run.id
        item["approve_call_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        item["committed_at"] = time.perf_counter()
        item["committed_wall"] = time.time()
        session.commit()  # after_commit enqueues the run (and the approval mail)
        item["commit_ms"] = round((time.perf_counter() - item["committed_at"]) * 1000, 1)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, never a proxy


def status_of(url: str, host: str) -> int:
    request = urllib.request.Request(url + "/", headers={"Host": host})
    try:
        with _DIRECT.open(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return -1  # no answer at all: counted as an error


def poll_until_200(url: str, item: dict, *, poll_s: float, timeout_s: float) -> None:
    """Poll the unit's host until its portal answers 200; fills to_200_s and the answers seen."""
    answers: Counter = Counter()
    deadline = item["committed_at"] + timeout_s
    while True:
        status = status_of(url, item["host"])
        answers[status] += 1
        if status == 200:
            item["first_200_wall"] = time.time()
            item["to_200_s"] = round(time.perf_counter() - item["committed_at"], 3)
            break
        if time.perf_counter() > deadline:
            item["to_200_s"] = None
            break
        time.sleep(poll_s)
    item["answers"] = {str(k): v for k, v in sorted(answers.items())}


# --------------------------------------------------------------------------- step rows


def _seconds(start, end) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def attach_runs(platform, items: list[dict]) -> None:
    """Each item's run: status, attempts, per-step seconds, pickup wait, and last step -> first 200."""
    with platform.shards.platform_session() as session:
        for item in items:
            if item.get("run_id") is None:
                continue
            run = session.get(ProvisioningRun, item["run_id"])
            item["run_status"] = run.status
            item["run_error"] = run.error
            item["steps"] = {s.name: _seconds(s.started_at, s.finished_at) for s in run.steps}
            item["step_attempts"] = {s.name: s.attempts for s in run.steps if s.attempts != 1}
            committed = datetime.fromtimestamp(item["committed_wall"], UTC)
            item["pickup_s"] = _seconds(committed, run.started_at)
            activate = next((s for s in run.steps if s.name == "activate"), None)
            item["run_to_activate_s"] = _seconds(run.started_at, activate.finished_at if activate else None)
            if item.get("first_200_wall") and activate and activate.finished_at:
                first_200 = datetime.fromtimestamp(item["first_200_wall"], UTC)
                item["activate_to_200_s"] = _seconds(activate.finished_at, first_200)
            item["run_s"] = _seconds(run.started_at, run.finished_at)


def wait_runs_finished(platform, run_ids: list[int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with platform.shards.platform_session() as session:
            statuses = session.scalars(
                select(ProvisioningRun.status).where(ProvisioningRun.id.in_(run_ids))
            ).all()
        if all(s in ("done", "failed", "rolled_back") for s in statuses):
            return
        time.sleep(0.2)


# --------------------------------------------------------------------------- figures


def _q(values: list[float], q: float) -> float:
    """Nearest-rank quantile (p95 of 20 values is the 19th)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _dist(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "p95": round(_q(values, 0.95), 3),
        "max": round(max(values), 3),
        "min": round(min(values), 3),
    }


def step_table(items: list[dict]) -> dict:
    """Per step (and the waits around the steps) the distribution of seconds over the approvals."""
    names: list[str] = []
    for item in items:
        names += [n for n in item.get("steps", {}) if n not in names]
    table = {n: _dist([i["steps"][n] for i in items if i.get("steps", {}).get(n) is not None]) for n in names}
    for key in ("pickup_s", "run_to_activate_s", "activate_to_200_s", "run_s"):
        table[key] = _dist([i[key] for i in items if i.get(key) is not None])
    return table


def slowest_step(table: dict, items: list[dict]) -> dict:
    steps = {n: d["median"] for n, d in table.items() if d.get("n") and n in (items[0].get("steps") or {})}
    if not steps:
        return {}
    name = max(steps, key=steps.get)
    return {"step": name, "median_s": steps[name], "share_of_run_to_activate": _share(steps[name], table)}


def _share(value: float, table: dict) -> float | None:
    total = table.get("run_to_activate_s", {}).get("median")
    return round(value / total, 2) if total else None


def _clean(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("committed_at", "committed_wall", "first_200_wall")}


# --------------------------------------------------------------------------- phases


def answer_errors(items: list[dict], timeout: float) -> list[str]:
    """Answers other than 200/404, portals that never answered 200, runs that did not finish done."""
    errors = []
    for item in items:
        if item.get("run_id") is None:
            continue  # its approval failed: already reported
        odd = {k: v for k, v in item.get("answers", {}).items() if k not in ("200", "404")}
        if odd:
            errors.append(f"{item['slug']}: answers other than 200/404: {odd}")
        if item.get("to_200_s") is None:
            errors.append(f"{item['slug']}: no 200 within {timeout:.0f} s")
        if item.get("run_status") != "done":
            errors.append(f"{item['slug']}: run {item.get('run_status')}: {item.get('run_error')}")
    return errors


def sequential(app, platform, url: str, items: list[dict], args) -> dict:
    errors: list[str] = []
    for n, item in enumerate(items, 1):
        wait_idle(app)
        try:
            approve(app, platform, item)
        except Exception as exc:  # reported, and the next approval goes on
            errors.append(f"{item['slug']}: approval {type(exc).__name__}: {exc}")
            continue
        poll_until_200(url, item, poll_s=args.poll_ms / 1000, timeout_s=args.timeout)
        wait_runs_finished(platform, [item["run_id"]], args.timeout)
        log(f"  {n}/{len(items)} {item['slug']}: {item['to_200_s']} s to 200 ({item['answers']})")
    attach_runs(platform, items)
    errors += answer_errors(items, args.timeout)
    times = [i["to_200_s"] for i in items if i.get("to_200_s") is not None]
    table = step_table(items)
    return {
        "approvals": len(items),
        "answered_200": len(times),
        "errors": len(errors),
        "error_list": errors[:50],
        "to_200_s": _dist(times),
        "steps_s": table,
        "slowest_step": slowest_step(table, items),
        "run_statuses": dict(Counter(i.get("run_status") for i in items)),
        "items": [_clean(i) for i in items],
    }


def concurrent(app, platform, url: str, items: list[dict], args) -> dict:
    wait_idle(app)
    barrier = threading.Barrier(len(items))
    errors: list[str] = []
    lock = threading.Lock()

    def one(item: dict) -> None:
        barrier.wait()
        try:
            approve(app, platform, item)
        except Exception as exc:  # every failure is a reported error, never a crash of the bench
            with lock:
                errors.append(f"{item['slug']}: approval {type(exc).__name__}: {exc}")
            return
        poll_until_200(url, item, poll_s=args.poll_ms / 1000, timeout_s=args.timeout)

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    run_ids = [i["run_id"] for i in items if i.get("run_id") is not None]
    wait_runs_finished(platform, run_ids, args.timeout)
    attach_runs(platform, items)
    errors += answer_errors(items, args.timeout)
    times = [i["to_200_s"] for i in items if i.get("to_200_s") is not None]
    log(f"  {len(times)}/{len(items)} answered 200 in {wall:.2f} s, {len(errors)} errors")
    return {
        "approvals": len(items),
        "answered_200": len(times),
        "errors": len(errors),
        "error_list": errors[:50],
        "wall_s": round(wall, 3),
        "to_200_s": _dist(times),
        "steps_s": step_table(items),
        "run_statuses": dict(Counter(i.get("run_status") for i in items)),
        "items": [_clean(i) for i in items],
    }


# --------------------------------------------------------------------------- one run


def service_env(db_url: str, redis_url: str, mail_dir: Path) -> dict:
    """What the web and worker processes get: the bench database and Redis, mails into files."""
    return {
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": db_url,
        "SHARD_URLS": "",
        "REDIS_URL": redis_url,
        "PLATFORM_DOMAIN": DOMAIN,
        "SECRET_KEY": "bench-provisioning",
        "MAIL_SMTP_HOST": "",
        "MAIL_DIR": str(mail_dir),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "plain",
        "PYTHONPATH": str(ROOT),
    }


def one_run(args, run_no: int, redis_url: str) -> dict:
    phases = Phases()
    db_url, where = fresh_database()
    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-provisioning-"))
    env = service_env(db_url, redis_url, folder / "mail")
    overrides = {
        "platform_domain": DOMAIN,
        "redis_url": redis_url,
        "mail_smtp_host": "",
        "mail_dir": str(folder / "mail"),
        "db_pool_size": args.approvals + 2,  # the concurrent approvals stand for that many ops people
    }
    app = create_app(app_config(db_url, **overrides))
    platform = app.extensions["motcua"]
    result: dict = {"run": run_no, "database": where, "logs": str(folder)}
    try:
        server_pid = postmaster_pid(platform.shards.primary)
        phases.add_root(server_pid)
        with phases.phase("setup_tenants"):
            upgrade_platform(platform.shards, platform.trees)
            plan = tenant_plan(args.tenants)
            create_tenants(platform, plan, None, server_pid)
        with phases.phase("setup_catalogue"), app.app_context():
            number, result["commune_catalogue_procedures"] = publish_commune_catalogue(platform)
        parents = [p["slug"] for p in plan if p["kind"] == "district"]
        with app.app_context():
            prepare_queues()
        with (
            Gunicorn(db_url, args.workers, env, folder / "gunicorn.log") as web,
            RQWorker({**os.environ, **env}, folder / "worker.log") as worker,
        ):
            phases.add_root(web.proc.pid)
            phases.add_root(worker.proc.pid)
            log(f"gunicorn on {web.url}, worker pid {worker.proc.pid}, logs in {folder}")
            with phases.phase("requests"):
                seq_items = make_requests(
                    app, platform, parents, f"commune:{number}", "moi-a", args.approvals
                )
                con_items = make_requests(
                    app, platform, parents, f"commune:{number}", "moi-b", args.approvals
                )
            with phases.phase("sequential"):
                result["sequential"] = sequential(app, platform, web.url, seq_items, args)
            with phases.phase("concurrent"):
                result["concurrent"] = concurrent(app, platform, web.url, con_items, args)
        result["tenants_present"] = len(plan)
    finally:
        platform.shards.dispose()
        if not args.keep_db:
            drop_database(db_url)
    result["noise"] = phases.data
    return result


# --------------------------------------------------------------------------- report


def run_headline(run: dict) -> dict:
    seq, con = run["sequential"], run["concurrent"]
    return {
        "median_s": seq["to_200_s"].get("median"),
        "p95_s": seq["to_200_s"].get("p95"),
        "max_s": seq["to_200_s"].get("max"),
        "sequential_answered": f"{seq['answered_200']}/{seq['approvals']}",
        "sequential_errors": seq["errors"],
        "slowest_step": seq["slowest_step"],
        "concurrent_errors": con["errors"],
        "concurrent_wall_s": con["wall_s"],
        "concurrent_median_s": con["to_200_s"].get("median"),
        "concurrent_max_s": con["to_200_s"].get("max"),
        "concurrent_run_statuses": con["run_statuses"],
    }


def headline(runs: list[dict]) -> dict:
    heads = [run_headline(r) for r in runs]

    def median(key: str) -> float | None:
        values = [h[key] for h in heads if h[key] is not None]
        return round(statistics.median(values), 3) if values else None

    out = {
        "median_s": median("median_s"),
        "p95_s": median("p95_s"),
        "max_s": max((h["max_s"] for h in heads if h["max_s"] is not None), default=None),
        "targets": {"median_s": TARGET_MEDIAN_S, "p95_s": TARGET_P95_S, "concurrent_errors": 0},
        "concurrent_errors": sum(h["concurrent_errors"] for h in heads),
        "sequential_errors": sum(h["sequential_errors"] for h in heads),
        "concurrent_wall_s": median("concurrent_wall_s"),
        "concurrent_median_s": median("concurrent_median_s"),
        "concurrent_all_done": all(
            h["concurrent_run_statuses"] == {"done": r["concurrent"]["approvals"]}
            for h, r in zip(heads, runs, strict=True)
        ),
        "slowest_step": heads[-1]["slowest_step"],
        "runs": len(runs),
    }
    if len(runs) > 1:
        out["per_run"] = heads
    out["median_holds"] = out["median_s"] is not None and out["median_s"] <= TARGET_MEDIAN_S
    out["p95_holds"] = out["p95_s"] is not None and out["p95_s"] <= TARGET_P95_S
    out["holds"] = (
        out["median_holds"]
        and out["p95_holds"]
        and out["sequential_errors"] == 0
        and out["concurrent_errors"] == 0
        and out["concurrent_all_done"]
    )
    return out


def lifecycle_figures() -> dict:
    """Export / re-import of a unit with 10,000 dossiers: the latest bench/lifecycle.py result, quoted."""
    found = sorted((ROOT / "bench" / "results").glob("lifecycle-*.json"))
    if not found:
        return {"source": None, "note": "not measured here: run `make -s bench-lifecycle`"}
    data = json.loads(found[-1].read_text())
    return {
        "source": str(found[-1].relative_to(ROOT)),
        "note": "measured by bench/lifecycle.py (make bench-lifecycle), quoted here",
        "dossiers": data.get("dossiers"),
        "export_s": data.get("export_s"),
        "reimport_s": data.get("reimport_s"),
        "export_plus_reimport_s": data.get("export_plus_reimport_s"),
        "git": data.get("git"),
    }


def build_report(runs: list[dict], args, redis_url: str, started: float, git: dict) -> dict:
    return {
        "benchmark": "provisioning",
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "headline": headline(runs),
        "export_reimport": lifecycle_figures(),
        "setup": {
            "tenants_present": runs[-1]["tenants_present"],
            "web": f"gunicorn wsgi:app, {args.workers} sync workers, 127.0.0.1",
            "worker": "one `flask jobs worker --with-scheduler` process (RQ, same machine)",
            "redis_url": redis_url,
            "platform_domain": DOMAIN,
            "clock": "from the approval's commit() to the first 200 on GET / with Host: <slug>.<domain>",
        },
        "runs": runs,
        "options": vars(args),
        "machine": machine_info(),
        "git": git,  # at the start: the shared checkout may move during a long sitting
        "wall_s": round(time.time() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenants present before the approvals")
    parser.add_argument("--approvals", type=int, default=20, help="per phase (sequential, concurrent)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--poll-ms", type=int, default=50)
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds a portal may take to answer 200"
    )
    parser.add_argument("--repeat", type=int, default=1, help="full runs, fresh database each (medians)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--out", help="write the JSON here (default bench/results/provisioning-<UTC>.json)")
    args = parser.parse_args(argv)
    if args.tenants < 20:
        parser.error("--tenants must be at least 20 (the plan needs districts to hang communes under)")
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    started, git = time.time(), git_info()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = Path(args.out) if args.out else ROOT / "bench" / "results" / f"provisioning-{stamp}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    for n in range(1, args.repeat + 1):
        log(f"run {n}/{args.repeat}: {args.tenants} tenants, {args.approvals} approvals per phase")
        runs.append(one_run(args, n, redis_url))
        log(f"run {n}: {json.dumps(run_headline(runs[-1]), ensure_ascii=False)}")
        report = build_report(runs, args, redis_url, started, git)
        report["complete"] = n == args.repeat  # the file is rewritten after every run
        text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
        target.write_text(text + "\n")
    log(f"results written to {target}")
    print(text)
    head = report["headline"]
    return 0 if head["concurrent_errors"] == 0 and head["sequential_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
