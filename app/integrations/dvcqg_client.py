"""HTTP to the national portal (through the provincial LGSP): one envelope per call.

``POST {endpoint}`` with header ``dstcode`` and body ``{"session", "madonvi", "service",
"isUpdating": "True|False", "data": [...]}``; success is ``error_code`` 0 / "00". Every failure
(refused, 5xx, timeout, unreadable answer) comes back as a ``Reply`` with ok=False and a short
"code: message" the status page shows; nothing here raises for a remote problem.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

SUCCESS_CODES = {"0", "00"}
MAX_ERROR = 500  # characters of the remote's message kept


@dataclass(frozen=True)
class Connection:
    endpoint_url: str
    madonvi: str
    dstcode: str | None
    session_token: str
    timeout_seconds: float = 10


@dataclass(frozen=True)
class Reply:
    ok: bool
    error: str | None = None  # "<code>: <message>" when not ok


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is reported as the failure it is, never followed


_opener = urllib.request.build_opener(_NoRedirect)


def envelope(conn: Connection, service: str, items: list[dict[str, Any]], *, is_updating: bool) -> dict:
    return {
        "session": conn.session_token,
        "madonvi": conn.madonvi,
        "service": service,
        "isUpdating": "True" if is_updating else "False",
        "data": items,
    }


def post(conn: Connection, service: str, items: list[dict[str, Any]], *, is_updating: bool) -> Reply:
    """Send one envelope; the portal's verdict (never raises for network or remote errors)."""
    if not conn.endpoint_url.startswith(("http://", "https://")):
        return Reply(False, "config: endpoint must be an http(s) URL")
    body = json.dumps(envelope(conn, service, items, is_updating=is_updating), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    if conn.dstcode:
        headers["dstcode"] = conn.dstcode
    request = urllib.request.Request(conn.endpoint_url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=conn.timeout_seconds) as response:
            raw = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        return Reply(False, f"http {exc.code}: {_short(_body_message(exc))}")
    except TimeoutError:
        return Reply(False, f"timeout: no answer within {conn.timeout_seconds:g} s")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            return Reply(False, f"timeout: no answer within {conn.timeout_seconds:g} s")
        return Reply(False, f"network: {_short(str(reason))}")
    return read_reply(raw)


def check(conn: Connection) -> Reply:
    """ "Test connection": a read-only ``TraCuuHoSo`` lookup (nothing is published)."""
    return post(conn, "TraCuuHoSo", [{"MaHoSo": "KIEM-TRA-KET-NOI"}], is_updating=False)


def read_reply(raw: bytes) -> Reply:
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Reply(False, f"invalid: unreadable answer {_short(raw[:200].decode('utf-8', 'replace'))}")
    if not isinstance(answer, dict):
        return Reply(False, "invalid: the answer is not a JSON object")
    code = str(answer.get("error_code", "")).strip()
    if code in SUCCESS_CODES:
        return Reply(True)
    message = answer.get("message") or answer.get("error_message") or ""
    return Reply(False, f"{code or '?'}: {_short(str(message))}")


def _body_message(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(2000).decode("utf-8", "replace") or str(exc.reason)
    except Exception:
        return str(exc.reason)


def _short(text: str) -> str:
    return " ".join(text.split())[:MAX_ERROR]
