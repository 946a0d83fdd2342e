"""Structured JSON logs carrying the request id and the tenant slug."""

from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, Response, g, has_app_context, request
from pythonjsonlogger.json import JsonFormatter


class ScopeFilter(logging.Filter):
    """Adds ``request_id`` and ``tenant`` to every record made inside a scope."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_app_context():
            record.request_id = g.get("request_id")
            tenant = g.get("tenant")
            record.tenant = tenant.slug if tenant else None
        else:
            record.request_id = None
            record.tenant = None
        return True


def configure_logging(level: str, fmt: str, stream=None) -> None:
    """Install Motcua's handler on the root logger (replacing a previous one of ours)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name("motcua")
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s")
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(tenant)s] %(name)s: %(message)s")
        )
    handler.addFilter(ScopeFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "motcua"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


# Link tokens travel in the path (a mailed link is a GET): the access log keeps the route, never the
# token. Any view argument named ``token`` or ``*_token`` is redacted, and so are the segments after
# the words that lead our token links, for requests no route matched (a 404 on another host).
TOKEN_SEGMENT = re.compile(
    r"(/(?:dang-ky-don-vi/(?:xac-nhan|trang-thai|sua)|xac-thuc-email|dat-lai-mat-khau)/)[^/?#\s\"]+"
)
REDACTED = "…"


def redact_path(path: str) -> str:
    """Any path or URL with the segments after our token links' words replaced by ``…``."""
    return TOKEN_SEGMENT.sub(r"\1" + REDACTED, path)


def loggable_path() -> str:
    """``request.path`` with link tokens replaced by ``…``."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if (name == "token" or name.endswith("_token")) and isinstance(value, str) and value:
            path = path.replace(value, REDACTED)
    return redact_path(path)


def init_app(app: Flask) -> None:
    log = logging.getLogger("motcua.request")

    @app.before_request
    def _request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex

    @app.after_request
    def _access_log(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        log.info(
            "%s %s %s",
            request.method,
            loggable_path(),
            response.status_code,
            extra={"host": request.host, "status": response.status_code},
        )
        return response
