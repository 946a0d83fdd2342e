"""Who is calling the API: a unit's API token (``Authorization: Bearer``) or a back-office session.

A token is looked up in the current tenant's schema only, so a token of unit A
sent to unit B's host finds nothing (401). It acts with the creator's *current*
roles in this unit. A session caller has every scope but, for unsafe methods,
must echo its CSRF token in the ``X-CSRF-Token`` header (a token caller needs none:
browsers never attach it on their own).
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from flask import Flask, Response, g, request, session
from sqlalchemy.exc import SQLAlchemyError

from app.auth import second_factor
from app.auth.access import CSRF_KEY, CsrfFailed, Forbidden, SignInRequired, current_official, same_secret
from app.auth.api_tokens import SCOPES, find_token, scope_labels, token_status
from app.auth.oidc_server import ACCESS_TOKEN_TYPE, sso_user, tenant_client_id, verify_jwt
from app.auth.queries import find_account, find_membership
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.errors import DomainError, error_response
from app.core.sites import TENANT
from app.core.usage import record_usage

CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CHALLENGE = 'Bearer realm="motcua"'
_METERED = "metered_api_token"  # g key: (tenant id, token id) of a call by a unit's API token

log = logging.getLogger(__name__)


class Unauthorized(DomainError):
    """No usable credentials: answered 401 with a ``WWW-Authenticate: Bearer`` challenge."""

    status = 401


@dataclass(frozen=True)
class Principal:
    account_id: int
    roles: frozenset[str]
    scopes: frozenset[str] | None  # None: a session, which has every scope
    kind: Literal["token", "session"]
    token_id: int | None = None

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


def _refused(vi: str, en: str) -> Unauthorized:
    return Unauthorized(vi, en)


def _bearer() -> str | None:
    """The token of an ``Authorization: Bearer`` header, None without the header; 401 if malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _refused(
            "Tiêu đề Authorization phải có dạng 'Bearer <khóa API>'.",
            "The Authorization header must read 'Bearer <API token>'.",
        )
    return value.strip()


def _token_principal(plaintext: str) -> Principal:
    tenant = get_current_tenant()
    invalid = _refused(
        "Khóa API không hợp lệ cho đơn vị này. Kiểm tra lại khóa hoặc tạo khóa mới.",
        "The API token is not valid for this unit. Check it or create a new one.",
    )
    if tenant is None:
        raise invalid
    token = find_token(tenant_db(), plaintext)
    if token is None:
        raise invalid
    status = token_status(token)
    if status == "revoked":
        raise _refused("Khóa API đã bị thu hồi.", "The API token has been revoked.")
    if status == "expired":
        raise _refused(
            "Khóa API đã hết hạn. Hãy tạo khóa mới.", "The API token has expired. Create a new one."
        )
    account = find_account(platform_db(), token.account_id)
    membership = find_membership(platform_db(), token.account_id, tenant.id)
    if account is None or not account.is_active or membership is None or not membership.roles:
        raise _refused(
            "Người tạo khóa API không còn quyền tại đơn vị này, nên khóa không còn hiệu lực.",
            "The token's creator no longer has access to this unit, so the token no longer works.",
        )
    g.setdefault(_METERED, (tenant.id, token.id))  # metered when the request succeeds
    return Principal(
        account_id=account.id,
        roles=frozenset(membership.roles),
        scopes=frozenset(token.scopes or ()),
        kind="token",
        token_id=token.id,
    )


def _check_csrf_header() -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    expected = session.get(CSRF_KEY, "")
    if not sent or not expected or not same_secret(sent, expected):
        raise CsrfFailed(
            f"Thiếu hoặc sai mã bảo mật: gửi tiêu đề {CSRF_HEADER} bằng mã CSRF của phiên đăng nhập.",
            f"Missing or wrong security token: send the {CSRF_HEADER} header with the session's CSRF token.",
        )


def _session_principal() -> Principal:
    try:
        official = current_official(TENANT)
    except SignInRequired as exc:
        raise _refused(exc.vi, exc.en) from None
    if request.method in UNSAFE_METHODS:
        _check_csrf_header()
    return Principal(
        account_id=official.account.id,
        roles=frozenset(official.membership.roles),
        scopes=None,
        kind="session",
    )


def _sso_principal(access_token: str) -> Principal:
    """An access token from the platform's identity provider, issued to this unit's portal.

    A token issued to another unit's client is refused outright; one issued here acts
    with the account's *current* roles in this unit, narrowed to the token's scopes.
    """
    tenant = get_current_tenant()
    invalid = _refused(
        "Mã truy cập không hợp lệ, đã hết hạn hoặc được cấp cho đơn vị khác.",
        "The access token is not valid, has expired or was issued for another unit.",
    )
    if tenant is None:
        raise invalid
    try:
        claims = verify_jwt(
            access_token, audience=tenant_client_id(tenant.slug), token_type=ACCESS_TOKEN_TYPE
        )
        user = sso_user(int(claims["sub"]), str(claims.get("sid", "")))
    except (ValueError, KeyError):
        raise invalid from None
    if user is None:
        raise invalid  # signed out everywhere, or the account was disabled
    membership = find_membership(platform_db(), user.account.id, tenant.id)
    if membership is None or not membership.roles:
        raise Forbidden("Tài khoản không có quyền tại đơn vị này.", "The account has no role in this unit.")
    if "otp" not in user.methods and second_factor.required_here(user.account.id):
        raise Forbidden(
            "Đơn vị yêu cầu cán bộ đăng nhập bằng xác thực hai bước; mã truy cập này được cấp khi chưa có.",
            "This unit requires two-step sign-in for officials; this token was issued without it.",
        )
    return Principal(
        account_id=user.account.id,
        roles=frozenset(membership.roles),
        scopes=frozenset(str(claims.get("scope", "")).split()) & frozenset(SCOPES),
        kind="token",
    )


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2


def current_principal() -> Principal:
    """The caller of this API request; raises ``Unauthorized`` (401) or ``Forbidden`` (403)."""
    plaintext = _bearer()
    if plaintext is not None:
        if _looks_like_jwt(plaintext):
            return _sso_principal(plaintext)
        return _token_principal(plaintext)
    return _session_principal()


def require_scope(principal: Principal, scope: str) -> None:
    if principal.has_scope(scope):
        return
    vi, en = scope_labels(scope)
    raise Forbidden(
        f"Khóa API này không có phạm vi {scope} ({vi}).",
        f"This API token lacks the {scope} scope ({en}).",
    )


def api_auth(scope: str | None = None):
    """Decorator: authenticate, check ``scope``, and pass ``principal=`` to the view.

    Works on plain view functions and on flask-smorest ``MethodView`` methods.
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if scope is not None:
                require_scope(principal, scope)
            return view(*args, principal=principal, **kwargs)

        return wrapper

    return decorate


def meter_api_call(response: Response) -> Response:
    """One ``api.call`` usage event for a successful request by a unit's API token (issue #6).

    Written in the request's own tenant transaction (the token was looked up in it), before
    the edge commits it, inside a savepoint: metering an API call never fails the request, a
    problem is logged and the request goes on (the savepoint costs two round trips). The event
    id is made here, never taken from the client (a repeated X-Request-Id must not hide calls).
    """
    metered = g.pop(_METERED, None)
    if metered is None or response.status_code >= 400:
        return response
    tenant_id, token_id = metered
    db = tenant_db()
    db.flush()  # the request's own rows first: their errors are the request's, not metering's
    connection = db.connection()
    try:
        # A savepoint of the connection, not of the session: releasing it must not count as a
        # commit of the session (whose hooks write the request's own usage events at its commit).
        with connection.begin_nested():
            record_usage(
                db,
                tenant_id=tenant_id,
                source="api.call",
                event_id=uuid.uuid4().hex,
                metric="api_calls",
                occurred_at=datetime.now(UTC),
                subject=str(token_id),
            )
    except (SQLAlchemyError, ValueError):
        log.exception("api call of token %s not metered", token_id)
    return response


def init_app(app: Flask) -> None:
    """Answer ``Unauthorized`` in the one error shape, with the Bearer challenge; meter token calls.

    Registered after ``app.core.edge``: after-request hooks run in reverse order, so the
    API call is recorded before the edge commits the request's transaction.
    """
    app.after_request(meter_api_call)

    @app.errorhandler(Unauthorized)
    def _unauthorized(exc: Unauthorized):
        body, status = error_response(exc.status, exc.vi, exc.en, exc.errors)
        response = app.make_response((body, status))
        response.headers["WWW-Authenticate"] = _CHALLENGE
        return response
