"""Talking to an external OIDC provider over HTTP: discovery and JWKS (cached), the token
exchange, the userinfo call and the ID token check.

Every failure is a ``FederationProblem`` that says in plain words what went wrong, in
Vietnamese and English; the sign-in page shows it and the "test login" report lists it.
"""

from __future__ import annotations

import base64
import json
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


def _request(url: str, *, data: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """One HTTP(S) exchange (never file: or other schemes a hostile discovery document might name)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url[:200]}")
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(1_000_000)


def _get_json(url: str, what_vi: str, what_en: str, code: str) -> dict:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise _remote_broken(
            code, f"{what_vi}: địa chỉ không hợp lệ ({url}).", f"{what_en}: invalid URL ({url})."
        )
    try:
        status, body = _request(url)
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
    discovery = _get_json(
        provider.discovery_url, "tài liệu khám phá (discovery)", "discovery document", "discovery"
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
    jwks = _get_json(discovery["jwks_uri"], "bộ khóa công khai (JWKS)", "key set (JWKS)", "jwks")
    if not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise _remote_broken("jwks", "Bộ khóa công khai (JWKS) không có khóa nào.", "The JWKS holds no key.")
    provider.provider_metadata = {"discovery": discovery, "jwks": jwks}
    provider.metadata_fetched_at = _now()
    session.flush()
    return provider.provider_metadata


# --- token exchange ---------------------------------------------------------


def _post_token(url: str, client_id: str, secret: str | None, method: str, data: dict) -> tuple[int, bytes]:
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
        return _request(url, data=data, headers=headers)
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
    for method in attempts:
        status, body = _post_token(discovery["token_endpoint"], provider.client_id, secret, method, data)
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


def fetch_userinfo(discovery: dict, access_token: str | None, subject: str) -> dict:
    """Claims from the userinfo endpoint, when the provider has one (DVCQG sends most of them there)."""
    url = discovery.get("userinfo_endpoint")
    if not url or not access_token:
        return {}
    try:
        status, body = _request(url, headers={"Authorization": f"Bearer {access_token}"})
        info = json.loads(body) if status == 200 else None
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
