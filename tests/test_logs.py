"""Structured JSON logs carry the request id and the tenant slug."""

from __future__ import annotations

import io
import json

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
