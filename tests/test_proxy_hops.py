"""Behind the load balancer (PROXY_HOPS=1) the client's address and https come from its headers;
without it (the default) those headers, which anyone can send, are ignored."""

from __future__ import annotations

from flask import request

from app import create_app
from app.core.sites import CITY
from tests.conftest import app_config

FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def _whoami_app(services, **overrides):
    app = create_app(app_config(services, **overrides))

    @app.get("/_whoami", subdomain=CITY)
    def whoami():
        return {"addr": request.remote_addr, "scheme": request.scheme}

    return app


def test_one_trusted_hop_gives_the_client_address_and_scheme(services):
    app = _whoami_app(services, proxy_hops=1)
    seen = app.test_client().get("/_whoami", headers={"Host": "localhost", **FORWARDED}).json
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


def test_by_default_forwarded_headers_are_ignored(services):
    app = _whoami_app(services)
    seen = app.test_client().get("/_whoami", headers={"Host": "localhost", **FORWARDED}).json
    assert seen == {"addr": "127.0.0.1", "scheme": "http"}
