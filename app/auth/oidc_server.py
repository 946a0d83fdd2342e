"""The platform's OpenID Connect provider, built on authlib.

Clients are first-party and derived from the registry, not registered by hand:
``tenant:<slug>`` for a unit's portal and back office (its codes may only go to
``/dang-nhap/xong`` on one of the unit's hostnames) and ``console`` for the
provider console. All are public clients: PKCE with S256 is required, nothing
else is accepted. ID and access tokens are RS256 JWTs signed with the rotating
keys of ``app.auth.keys``; refresh tokens rotate on every use.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.models import ClientMixin
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import request
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import delete, select, update

from app.auth.api_tokens import SCOPES
from app.auth.keys import ALGORITHM, signing_key, verification_keys
from app.auth.models import Account
from app.auth.sso_models import AuthorizationCode, RefreshToken, SsoSession
from app.core.db import get_platform, platform_db
from tenants.models import Hostname, Tenant, TenantStatus

CALLBACK_PATH = "/dang-nhap/xong"
CONSOLE_CLIENT = "console"
TENANT_CLIENT_PREFIX = "tenant:"
IDENTITY_SCOPES = ("openid", "profile", "email", "phone", "offline_access")
ACCESS_TOKEN_SECONDS = 600
REFRESH_TOKEN_DAYS = 30
CODE_SECONDS = 120
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068: an ID token can't pass for an access token


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issuer() -> str:
    """The provider's URL: the city host, same scheme and port as this request."""
    settings = get_platform().settings
    port = request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    scheme = "https" if settings.session_cookie_secure else request.scheme
    return f"{scheme}://{settings.platform_domain}{':' + port if port else ''}"


# --- clients ------------------------------------------------------------------


@dataclass(frozen=True)
class Client(ClientMixin):
    client_id: str
    tenant_id: int | None
    hosts: frozenset[str]
    name: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the redirect URI is always given and checked

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(IDENTITY_SCOPES) | (set(SCOPES) if self.tenant_id else set())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        parts = urlsplit(redirect_uri)
        return (
            parts.scheme in ("http", "https")
            and (parts.hostname or "") in self.hosts
            and parts.path == CALLBACK_PATH
            and not parts.query
            and not parts.fragment
            and not parts.username
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # public clients have no secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


def tenant_client_id(slug: str) -> str:
    return TENANT_CLIENT_PREFIX + slug


def find_client(client_id: str | None) -> Client | None:
    """The first-party client with this id: a live unit's site or the console."""
    domain = get_platform().settings.platform_domain
    if client_id == CONSOLE_CLIENT:
        return Client(CONSOLE_CLIENT, None, frozenset({f"admin.{domain}"}), "Provider console")
    if not client_id or not client_id.startswith(TENANT_CLIENT_PREFIX):
        return None
    db = platform_db()
    tenant = db.scalar(select(Tenant).where(Tenant.slug == client_id.removeprefix(TENANT_CLIENT_PREFIX)))
    if tenant is None or tenant.status != TenantStatus.ACTIVE:
        return None  # a suspended unit's site takes no sign-ins
    custom = db.scalars(
        select(Hostname.hostname).where(Hostname.tenant_id == tenant.id, Hostname.is_verified.is_(True))
    )
    return Client(client_id, tenant.id, frozenset({f"{tenant.slug}.{domain}", *custom}), tenant.name)


# --- who is signing in ----------------------------------------------------------


@dataclass(frozen=True)
class SsoUser:
    """The account behind a grant, with the SSO session it came from."""

    account: Account
    sid: str
    methods: tuple[str, ...]
    auth_time: int

    def get_user_id(self) -> str:
        return str(self.account.id)


def sso_user(account_id: int, sid: str) -> SsoUser | None:
    """The account if it and its SSO session are still good."""
    db = platform_db()
    account = db.get(Account, account_id)
    row = db.get(SsoSession, sid)
    if account is None or not account.is_active or row is None or row.account_id != account.id:
        return None
    if row.ended_at is not None or row.expires_at <= _now():
        return None
    return SsoUser(account, row.id, tuple(row.methods), int(row.auth_time.timestamp()))


# --- grants ------------------------------------------------------------------


class _CodeRecord:
    """An authorization code row seen through authlib's interface."""

    def __init__(self, row: AuthorizationCode):
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int | None:
        return None  # taken from the SSO session in the ID token claims

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class S256Only(CodeChallenge):
    """PKCE is mandatory and only S256 counts (plain would give the verifier away)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge with code_challenge_method=S256."
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is accepted.")
        return super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def save_authorization_code(self, code: str, request) -> None:
        user: SsoUser = request.user
        data = request.payload.data
        platform_db().add(
            AuthorizationCode(
                code_hash=_hash(code),
                client_id=request.client.client_id,
                account_id=user.account.id,
                sid=user.sid,
                redirect_uri=request.payload.redirect_uri,
                scope=request.payload.scope or "",
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=_now() + timedelta(seconds=CODE_SECONDS),
            )
        )
        platform_db().flush()

    def query_authorization_code(self, code: str, client: Client):
        # Locked: a second redemption racing this one waits, then finds the code gone.
        row = platform_db().get(AuthorizationCode, _hash(code), with_for_update=True)
        if row is None or row.client_id != client.client_id or row.expires_at <= _now():
            return None
        return _CodeRecord(row)

    def delete_authorization_code(self, authorization_code: _CodeRecord) -> None:
        platform_db().execute(
            delete(AuthorizationCode).where(AuthorizationCode.code_hash == authorization_code.row.code_hash)
        )

    def authenticate_user(self, authorization_code: _CodeRecord) -> SsoUser | None:
        return sso_user(authorization_code.row.account_id, authorization_code.row.sid)


class IdToken(OpenIDCode):
    def resolve_client_private_key(self, client):
        return signing_key(platform_db())

    def get_client_claims(self, client):
        return {"iss": issuer(), "aud": [client.get_client_id()], "exp": int(time.time()) + 3600}

    def get_encode_header(self, client):
        return {"alg": ALGORITHM, "kid": signing_key(platform_db()).kid}

    def get_client_algorithm(self, client):
        return ALGORITHM

    def exists_nonce(self, nonce: str, request) -> bool:
        return (
            platform_db().scalar(select(AuthorizationCode.code_hash).where(AuthorizationCode.nonce == nonce))
            is not None
        )

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        user = sso_user(authorization_code.row.account_id, authorization_code.row.sid)
        if user is not None:
            claims.update(sid=user.sid, amr=list(user.methods), auth_time=user.auth_time)
        return claims

    def generate_user_info(self, user: SsoUser, scope: str) -> UserInfo:
        return user_info(user.account, scope)


def user_info(account: Account, scope: str) -> UserInfo:
    scopes = set((scope or "").split())
    info = UserInfo(sub=str(account.id))
    if "profile" in scopes:
        info["name"] = account.full_name
    if "email" in scopes:
        info["email"] = account.email
        info["email_verified"] = account.email_verified_at is not None
    if "phone" in scopes and account.phone:
        info["phone_number"] = account.phone
    return info


class RotatingRefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str):
        # Locked: a concurrent use of the same token waits, then sees it rotated (and revokes the family).
        row = platform_db().get(
            RefreshToken, _hash(refresh_token), with_for_update=True, populate_existing=True
        )
        if row is None:
            return None
        if row.rotated_at is not None or row.revoked_at is not None:
            if row.rotated_at is not None:
                revoke_family(row.family)  # a rotated token came back: assume it was stolen
            return None
        if row.expires_at <= _now():
            return None
        return _RefreshRecord(row)

    def authenticate_user(self, refresh_token: _RefreshRecord) -> SsoUser | None:
        return sso_user(refresh_token.row.account_id, refresh_token.row.sid)

    def revoke_old_credential(self, refresh_token: _RefreshRecord) -> None:
        refresh_token.row.rotated_at = _now()


class _RefreshRecord:
    def __init__(self, row: RefreshToken):
        self.row = row

    def check_client(self, client: Client) -> bool:
        return self.row.client_id == client.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - _now()).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= _now()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.row.rotated_at is not None


def revoke_family(family: str) -> None:
    """Revoke every token of the family and commit at once: the request that found the replay
    answers 400, which would otherwise roll the revocation back. (Same session: the replayed row
    is locked by it, another connection would wait on it forever.)"""
    db = platform_db()
    db.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    db.commit()


# --- tokens -------------------------------------------------------------------


def generate_tokens(
    grant_type, client: Client, user: SsoUser = None, scope=None, expires_in=None, include_refresh_token=True
):
    """Access token = a signed JWT (RFC 9068 shape) naming the SSO session; refresh token = random."""
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "sub": str(user.account.id),
        "aud": client.client_id,
        "client_id": client.client_id,
        "scope": scope or "",
        "sid": user.sid,
        "amr": list(user.methods),
        "iat": now,
        "exp": now + ACCESS_TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(12),
    }
    key = signing_key(platform_db())
    token = {
        "token_type": "Bearer",
        "access_token": jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": ACCESS_TOKEN_TYPE}, claims, key),
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": scope or "",
    }
    if include_refresh_token and ("offline_access" in (scope or "").split() or grant_type == "refresh_token"):
        token["refresh_token"] = secrets.token_urlsafe(48)
    return token


def save_token(token: dict, request) -> None:
    """Keep the hash of a new refresh token, in the family of the one it replaces."""
    plaintext = token.get("refresh_token")
    if not plaintext:
        return
    previous = getattr(request, "refresh_token", None)
    user: SsoUser = request.user
    platform_db().add(
        RefreshToken(
            token_hash=_hash(plaintext),
            family=previous.row.family if previous is not None else secrets.token_urlsafe(16),
            client_id=request.client.client_id,
            account_id=user.account.id,
            sid=user.sid,
            scope=token.get("scope", ""),
            issued_at=_now(),
            expires_at=_now() + timedelta(days=REFRESH_TOKEN_DAYS),
        )
    )
    platform_db().flush()


def verify_jwt(
    token: str, *, audience: str | None = None, allow_expired: bool = False, token_type: str | None = None
) -> dict:
    """Claims of a token we signed (ID or access token); ``ValueError`` if it is not valid now."""
    keys = verification_keys(platform_db(), get_platform().settings.signing_key_rollover_hours)
    try:
        decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise ValueError(f"token not valid: {exc}") from exc
    claims = decoded.claims
    if token_type is not None and decoded.header.get("typ") != token_type:
        raise ValueError(f"not a {token_type} token")
    now = time.time()
    if claims.get("iss") != issuer():
        raise ValueError("token from another issuer")
    if not isinstance(claims.get("exp"), int | float) or (claims["exp"] <= now and not allow_expired):
        raise ValueError("token expired")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience is not None and audience not in audiences:
        raise ValueError("token for another client")
    return claims


# --- the server ----------------------------------------------------------------


class LoopbackRequest(OAuth2Request):
    """A token request made inside the process by a first-party site (no HTTP round trip)."""

    def __init__(self, uri: str, form: dict[str, str]):
        super().__init__("POST", uri, headers={})
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self):
        return self._form

    @property
    def args(self):
        return {}


class OidcServer(AuthorizationServer):
    def create_oauth2_request(self, given):
        """A first-party site's in-process request as is; otherwise the current HTTP request."""
        return given if isinstance(given, OAuth2Request) else FlaskOAuth2Request(request)


server = OidcServer()


def init_app(app, *, insecure_transport: bool) -> None:
    if insecure_transport:
        # Development and tests run over plain HTTP; production sets SESSION_COOKIE_SECURE (HTTPS only).
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    server.init_app(app, query_client=find_client, save_token=save_token)
    server.register_token_generator("default", generate_tokens)
    server.register_grant(CodeGrant, [IdToken(require_nonce=True), S256Only(required=True)])
    server.register_grant(RotatingRefreshGrant)


def exchange_code(client_id: str, code: str, verifier: str, redirect_uri: str) -> dict:
    """Redeem a code for tokens on behalf of a first-party site; the token endpoint's own checks apply."""
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
    }
    response = server.create_token_response(LoopbackRequest(issuer() + "/oidc/token", form))
    return {"status": response.status_code, **(response.get_json(silent=True) or {})}
