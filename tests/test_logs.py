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
