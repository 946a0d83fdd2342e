"""``python -m app.devserver`` end to end: migrate, seed, serve, stop every child on SIGTERM."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import _admin, _recreate_database
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc; Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _get(port: int, host: str, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def fresh_database(services):
    url = _recreate_database(services["database_url"], f"motcua_dev_{uuid.uuid4().hex[:8]}")
    yield url
    _admin(services["database_url"], f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def test_devserver_serves_the_demo_and_stops_its_children(services, fresh_database, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SHARD_URLS", "PG_BIN", "FLASK_APP")}
    env.update(
        PORT=str(port), DATABASE_URL=fresh_database, REDIS_URL=services["redis_url"], LOG_LEVEL="WARNING"
    )
    log = (tmp_path / "devserver.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.devserver"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    output = lambda: (tmp_path / "devserver.log").read_text()  # noqa: E731
    try:
        deadline = time.monotonic() + 180
        while "is running" not in output():
            assert proc.poll() is None, output()
            assert time.monotonic() < deadline, output()
            time.sleep(0.5)
        assert _get(port, f"localhost:{port}", "/healthz")[0] == 200

        status, page = _get(port, f"localhost:{port}")
        assert status == 200 and "Thành phố Hải Phòng" in page and "Quận Ngô Quyền" in page
        status, page = _get(port, f"ngo-quyen.localhost:{port}")
        assert status == 200 and "Quận Ngô Quyền" in page and "2.000720" in page
        for url in (
            f"http://localhost:{port}/",
            f"http://admin.localhost:{port}/",
            f"http://ngo-quyen.localhost:{port}/",
            f"http://so-tu-phap.localhost:{port}/",
        ):
            assert url in output()

        children = _descendants(proc.pid)
        assert len(children) >= 3, output()  # gunicorn master + 2 workers (+ the RQ worker)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert code == 0, output()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], output()
