"""Talking to an external OIDC provider over HTTP: discovery and JWKS (cached), the token
exchange, the userinfo call and the ID token check.

Every failure is a ``FederationProblem`` that says in plain words what went wrong, in
Vietnamese and English; the sign-in page shows it and the "test login" report lists it.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from app.core.db import get_platform
from app.core.errors import DomainError
from app.core.secrets import decrypt
from app.federation.models import IdentityProvider

METADATA_TTL = timedelta(hours=1)
HTTP_TIMEOUT = 10  # seconds
ALGORITHMS = ["RS256", "PS256", "ES256"]
CLOCK_LEEWAY = 60  # seconds of clock difference tolerated on exp / iat


class FederationProblem(DomainError):
    """The external sign-in could not be completed; ``code`` names the kind of problem."""

    status = 400
    code = "failed"

    def __init__(self, vi: str, en: str, *, code: str | None = None, status: int | None = None):
        super().__init__(vi, en, status=status)
        if code is not None:
            self.code = code


def _remote_broken(code: str, vi: str, en: str) -> FederationProblem:
    return FederationProblem(vi, en, code=code, status=502)


def _now() -> datetime:
    return datetime.now(UTC)


# --- HTTP -------------------------------------------------------------------


class HostRefused(OSError):
    """A unit-level provider's URL points at an address the platform must not call."""


def refused_host() -> FederationProblem:
    # The same words whatever the reason (internal address, name that does not resolve): a unit
    # admin learns nothing about the platform's network from it.
    return FederationProblem(
        "Địa chỉ của nhà cung cấp định danh không được phép hoặc không phân giải được: nhà cung cấp "
        "của đơn vị phải dùng một địa chỉ công khai trên Internet (không dùng địa chỉ nội bộ).",
        "The identity provider's address is not allowed or does not resolve: a unit's provider must "
        "use a public Internet address (not an internal one).",
        code="host_refused",
        status=400,
    )


def restricted(provider: IdentityProvider) -> bool:
    """Unit-level providers may only reach public addresses (unless the platform allows private ones)."""
    return provider.tenant_id is not None and not get_platform().settings.federation_allow_private_hosts


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _public_addresses(host: str, port: int) -> list[tuple]:
    """Every address ``host`` resolves to, all of them public; ``HostRefused`` otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HostRefused(host) from None
    if not infos or not all(_public(info[4][0]) for info in infos):
        raise HostRefused(host)
    return infos


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HostRefused(url[:200]) from None
    if not parts.hostname:
        raise HostRefused(url[:200])
    _public_addresses(parts.hostname, port)


def _guarded_connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kwargs):
    """``socket.create_connection`` to an address vetted at connect time (no DNS rebinding)."""
    host, port = address
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in _public_addresses(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"cannot connect to {host}")


class _GuardedHTTP(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connect


class _GuardedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connect


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTP, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPS, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx answer comes back as an HTTPError: its status is reported, never followed


# Unit-level providers: public addresses only, checked where the socket connects; no redirects
# (one could lead anywhere); no proxy from the environment (the check must see the real host).
_RESTRICTED = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _GuardedHTTPHandler, _GuardedHTTPSHandler, _NoRedirect
)


def _request(
    url: str, *, data: dict | None = None, headers: dict | None = None, guarded: bool = False
) -> tuple[int, bytes]:
    """One HTTP(S) exchange (never file: or other schemes a hostile discovery document might name).

    ``guarded`` (a unit-level provider): the host must resolve to public addresses only
    (``HostRefused`` otherwise, before anything is sent) and redirects are not followed.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url[:200]}")
    if guarded:
        _check_url(url)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Accept": "application/json", **(headers or {})})
    opener = _RESTRICTED.open if guarded else urllib.request.urlopen
    try:
        with opener(req, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1_000_000)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, HostRefused):
            raise exc.reason from None
        raise


def _get_json(url: str, what_vi: str, what_en: str, code: str, *, guarded: bool = False) -> dict:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise _remote_broken(
            code, f"{what_vi}: địa chỉ không hợp lệ ({url}).", f"{what_en}: invalid URL ({url})."
        )
    try:
        status, body = _request(url, guarded=guarded)
    except HostRefused:
        raise refused_host() from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _remote_broken(
            code,
            f"Không kết nối được tới {what_vi} ({url}): {reason}.",
            f"Could not reach the {what_en} ({url}): {reason}.",
        ) from None
    if status != 200:
        raise _remote_broken(
            code,
            f"{what_vi} ({url}) trả về mã lỗi HTTP {status}.",
            f"The {what_en} ({url}) answered HTTP {status}.",
        )
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise _remote_broken(
            code,
            f"{what_vi} ({url}) không trả về JSON hợp lệ.",
            f"The {what_en} ({url}) did not return JSON.",
        )
    return value


# --- metadata ---------------------------------------------------------------


def provider_metadata(session: Session, provider: IdentityProvider, *, refresh: bool = False) -> dict:
    """``{"discovery": …, "jwks": …}``, from the table while younger than ``METADATA_TTL``.

    A settings change drops the cache (``config.forget_metadata``); ``refresh`` forces a fetch.
    """
    fetched = provider.metadata_fetched_at
    cached = provider.provider_metadata
    if not refresh and cached and fetched is not None and _now() - fetched < METADATA_TTL:
        return cached
    guarded = restricted(provider)
    discovery = _get_json(
        provider.discovery_url,
        "tài liệu khám phá (discovery)",
        "discovery document",
        "discovery",
        guarded=guarded,
    )
    missing = [
        key
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(discovery.get(key), str)
    ]
    if missing:
        raise _remote_broken(
            "discovery",
            f"Tài liệu khám phá thiếu trường: {', '.join(missing)}.",
            f"The discovery document lacks: {', '.join(missing)}.",
        )
    jwks = _get_json(
        discovery["jwks_uri"], "bộ khóa công khai (JWKS)", "key set (JWKS)", "jwks", guarded=guarded
    )
    if not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise _remote_broken("jwks", "Bộ khóa công khai (JWKS) không có khóa nào.", "The JWKS holds no key.")
    provider.provider_metadata = {"discovery": discovery, "jwks": jwks}
    provider.metadata_fetched_at = _now()
    session.flush()
    return provider.provider_metadata


# --- token exchange ---------------------------------------------------------


def _post_token(
    url: str, client_id: str, secret: str | None, method: str, data: dict, *, guarded: bool
) -> tuple[int, bytes]:
    data = dict(data)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if method == "client_secret_basic":
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret or '', safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif method == "client_secret_post":
        data.update(client_id=client_id, client_secret=secret or "")
    else:
        data["client_id"] = client_id
    try:
        return _request(url, data=data, headers=headers, guarded=guarded)
    except HostRefused:
        raise refused_host() from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _remote_broken(
            "token",
            f"Không kết nối được tới điểm cấp mã (token endpoint) {url}: {reason}.",
            f"Could not reach the token endpoint {url}: {reason}.",
        ) from None


def exchange_code(
    provider: IdentityProvider, discovery: dict, *, code: str, redirect_uri: str, verifier: str
) -> dict:
    """The authorization code for tokens at the token endpoint (client_secret_basic or _post)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    secret = decrypt(provider.client_secret) if provider.client_secret else None
    methods = discovery.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if secret is None:
        attempts = ["none"]
    elif "client_secret_basic" in methods:
        # Some providers advertise both but registered the client for _post only: try it next.
        attempts = ["client_secret_basic"] + (
            ["client_secret_post"] if "client_secret_post" in methods else []
        )
    else:
        attempts = ["client_secret_post"]
    guarded = restricted(provider)
    for method in attempts:
        status, body = _post_token(
            discovery["token_endpoint"], provider.client_id, secret, method, data, guarded=guarded
        )
        if status != 401:
            break
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if status != 200:
        # The remote's own words when it gives them (RFC 6749 §5.2); never echo an arbitrary body.
        remote = " — ".join(str(answer[k])[:300] for k in ("error", "error_description") if answer.get(k))
        remote = remote or "không có mô tả / no description"
        raise _remote_broken(
            "token",
            f"Điểm cấp mã từ chối (HTTP {status}): {remote}",
            f"The token endpoint refused (HTTP {status}): {remote}",
        )
    if not isinstance(answer.get("id_token"), str):
        raise _remote_broken(
            "token", "Điểm cấp mã không trả về ID token.", "The token endpoint returned no ID token."
        )
    return answer


# --- ID token -----------------------------------------------------------------


def _decode(id_token: str, jwks: dict):
    return jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=ALGORITHMS)


def verify_id_token(
    session: Session, provider: IdentityProvider, metadata: dict, id_token: str, *, nonce: str
) -> dict:
    """The ID token's claims once its signature (the provider's JWKS), iss, aud, exp and nonce hold."""
    try:
        try:
            token = _decode(id_token, metadata["jwks"])
        except InvalidKeyIdError:
            # The provider may have rotated its keys since we cached them: fetch once more.
            metadata = provider_metadata(session, provider, refresh=True)
            token = _decode(id_token, metadata["jwks"])
    except (BadSignatureError, InvalidKeyIdError):
        raise FederationProblem(
            "Chữ ký của ID token không hợp lệ (không khớp khóa công khai của nhà cung cấp).",
            "The ID token's signature is invalid (it does not match the provider's published keys).",
            code="signature",
        ) from None
    except (JoseError, ValueError) as exc:
        raise FederationProblem(
            f"ID token không đọc được: {exc}.", f"The ID token cannot be read: {exc}.", code="token_format"
        ) from None
    registry = jwt.JWTClaimsRegistry(
        leeway=CLOCK_LEEWAY,
        iss={"essential": True, "value": metadata["discovery"]["issuer"]},
        aud={"essential": True, "value": provider.client_id},
        sub={"essential": True},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except ExpiredTokenError:
        raise FederationProblem("ID token đã hết hạn.", "The ID token has expired.", code="expired") from None
    except MissingClaimError as exc:
        raise FederationProblem(
            f"ID token thiếu trường bắt buộc: {exc.claim}.",
            f"The ID token lacks the required claim: {exc.claim}.",
            code="missing_claim",
        ) from None
    except InvalidClaimError as exc:
        words = {
            "iss": (
                "nơi phát hành (iss) không phải nhà cung cấp này",
                "its issuer (iss) is not this provider",
            ),
            "aud": ("không cấp cho ứng dụng này (aud)", "it was not issued to this client (aud)"),
            "nonce": ("mã nonce không khớp lần đăng nhập này", "its nonce does not match this sign-in"),
        }.get(exc.claim, (f"trường {exc.claim} không hợp lệ", f"its {exc.claim} claim is invalid"))
        raise FederationProblem(
            f"ID token bị từ chối: {words[0]}.", f"The ID token was refused: {words[1]}.", code=exc.claim
        ) from None
    claims = dict(token.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        # OIDC Core §3.1.3.7: a token for several audiences must name us as its authorized party.
        raise FederationProblem(
            "ID token bị từ chối: cấp cho nhiều ứng dụng nhưng không chỉ định ứng dụng này (azp).",
            "The ID token was refused: it has several audiences and does not name this client (azp).",
            code="aud",
        )
    return claims


def fetch_userinfo(discovery: dict, access_token: str | None, subject: str, *, guarded: bool = False) -> dict:
    """Claims from the userinfo endpoint, when the provider has one (DVCQG sends most of them there)."""
    url = discovery.get("userinfo_endpoint")
    if not url or not access_token:
        return {}
    try:
        status, body = _request(url, headers={"Authorization": f"Bearer {access_token}"}, guarded=guarded)
        info = json.loads(body) if status == 200 else None
    except HostRefused:
        raise refused_host() from None
    except (OSError, ValueError):
        info = None
    if not isinstance(info, dict):
        raise _remote_broken(
            "userinfo",
            f"Không lấy được thông tin người dùng từ {url}.",
            f"Could not get the user's information from {url}.",
        )
    if info.get("sub") != subject:
        raise FederationProblem(
            "Thông tin người dùng (userinfo) thuộc về người khác với ID token.",
            "The userinfo answer is about someone other than the ID token's subject.",
            code="userinfo",
        )
    return info
