"""Structured JSON logs carry the request id and the tenant slug."""

from __future__ import annotations

import io
import json
import logging

from app.core.logs import configure_logging


def test_access_log_is_json_with_request_id_and_tenant(make_tenant, client_for):
    tenant = make_tenant("district")
    buffer = io.StringIO()
    configure_logging("INFO", "json", stream=buffer)
    try:
        response = client_for(tenant).get("/", headers={"X-Request-Id": "req-123"})
        client_for(host="localhost").get("/healthz")
    finally:
        configure_logging("WARNING", "plain")
    assert response.headers["X-Request-Id"] == "req-123"
    records = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    access = [r for r in records if r["name"] == "motcua.request"]
    assert {"request_id": "req-123", "tenant": tenant.slug}.items() <= access[0].items()
    assert access[0]["message"] == "GET / 200"
    assert access[1]["tenant"] is None and access[1]["request_id"]  # city host: no tenant, still an id


def test_link_tokens_do_not_reach_the_access_log(make_tenant, client_for, caplog):
    tenant = make_tenant("district")
    token = "Tok3n_" + "x" * 37
    city = client_for(host="localhost")
    unit = client_for(tenant)
    with caplog.at_level(logging.INFO, logger="motcua.request"):
        for path in (
            f"/dang-ky-don-vi/xac-nhan/{token}",
            f"/dang-ky-don-vi/trang-thai/{token}",
            f"/dang-ky-don-vi/sua/{token}",
        ):
            city.get(path)
            unit.get(path)  # no route on a unit's host (404): still redacted
        unit.get(f"/xac-thuc-email/{token}")
        unit.get(f"/dat-lai-mat-khau/{token}")
        city.get("/dang-ky-don-vi/kiem-tra?slug=abc")
    access = [r.getMessage() for r in caplog.records if r.name == "motcua.request"]
    assert len(access) == 9
    assert not [line for line in access if token in line or "Tok3n" in line]
    assert "GET /dang-ky-don-vi/trang-thai/… 410" in access
    assert any(line.startswith("GET /dat-lai-mat-khau/… ") for line in access)
    assert "GET /dang-ky-don-vi/kiem-tra 200" in access  # other paths are kept as they are


def test_gunicorns_access_log_line_has_no_link_token():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from app.core.gunicorn_logger import RedactingLogger

    token = "Tok3n_" + "x" * 37
    path = f"/dang-ky-don-vi/trang-thai/{token}"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + "?lang=en",
        "PATH_INFO": path,
        "QUERY_STRING": "lang=en",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
    }
    response = SimpleNamespace(status="410 GONE", headers=[], sent=10)
    request = SimpleNamespace(headers=[("Referer", f"http://localhost{path}")])
    logger = RedactingLogger(Config())
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=5))
    line = logger.cfg.access_log_format % atoms
    assert token not in line and "Tok3n" not in str(atoms)
    assert '"GET /dang-ky-don-vi/trang-thai/…?lang=en HTTP/1.1" 410' in line


def test_every_way_of_starting_gunicorn_uses_the_redacting_logger():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("Procfile", "Dockerfile", "infra/terraform/services.tf", "app/devserver.py"):
        text = (root / name).read_text(encoding="utf-8")
        assert "--access-logfile" in text and "app.core.gunicorn_logger.RedactingLogger" in text, name
