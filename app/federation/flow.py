"""One round trip to an external provider: authorization code with PKCE (S256), state and nonce.

A flow is kept in Redis under its ``state`` for ``FLOW_SECONDS`` and taken exactly
once by the callback. A sign-in flow is also bound to the browser that started it
(the state sits in its session on the city host); a test flow (the "test login"
button of the settings pages) signs nobody in and leaves a report for the admin
who started it.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy.orm import Session

from app.core.jobs import redis_connection
from app.federation import remote
from app.federation.config import REQUIRED_FIELDS, claim_map_of
from app.federation.models import CITIZEN, IdentityProvider
from app.federation.remote import FederationProblem

FLOW_SECONDS = 600
REPORT_SECONDS = 900
_FLOW_KEY = "motcua:federation:flow:"
_REPORT_KEY = "motcua:federation:report:"
_PERSONAL_ID = re.compile(r"^[0-9]{9,12}$")


@dataclass
class Flow:
    state: str
    idp_id: int
    nonce: str
    verifier: str
    redirect_uri: str
    test: bool = False
    starter_id: int | None = None  # who pressed "test login"
    return_to: str | None = None  # where the test report is shown


@dataclass
class Identity:
    """What the provider says about the person, after mapping to local fields."""

    subject: str
    values: dict[str, str] = field(default_factory=dict)
    email_verified: bool = False  # the provider says it checked the email (OIDC ``email_verified``)


def start(
    session: Session,
    provider: IdentityProvider,
    *,
    redirect_uri: str,
    test: bool = False,
    starter_id: int | None = None,
    return_to: str | None = None,
) -> tuple[Flow, str]:
    """Record a new flow and return it with the provider's authorization URL to send the browser to."""
    metadata = remote.provider_metadata(session, provider, refresh=test)
    flow = Flow(
        state=secrets.token_urlsafe(32),
        idp_id=provider.id,
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        redirect_uri=redirect_uri,
        test=test,
        starter_id=starter_id,
        return_to=return_to,
    )
    redis_connection().set(_FLOW_KEY + flow.state, json.dumps(asdict(flow)), ex=FLOW_SECONDS)
    endpoint = metadata["discovery"]["authorization_endpoint"]
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": provider.scopes,
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": create_s256_code_challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
    )
    return flow, f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def set_return_to(flow: Flow, url: str) -> None:
    """Where a test flow's report is shown (known once the flow has its state)."""
    flow.return_to = url
    redis_connection().set(_FLOW_KEY + flow.state, json.dumps(asdict(flow)), keepttl=True)


def take_flow(state: str | None) -> Flow | None:
    """The flow of ``state``, removed so it cannot be used twice; None when unknown or expired."""
    if not state or len(state) > 200:
        return None
    raw = redis_connection().getdel(_FLOW_KEY + state)
    return Flow(**json.loads(raw)) if raw else None


def complete(session: Session, provider: IdentityProvider, flow: Flow, args) -> Identity:
    """Finish the round trip from the callback's query ``args``: tokens, ID token check, claims."""
    if args.get("error"):
        raise remote_refusal(args.get("error", ""), args.get("error_description", ""))
    code = args.get("code")
    if not code:
        raise FederationProblem(
            "Nhà cung cấp không trả về mã xác thực.",
            "The provider returned no authorization code.",
            code="no_code",
        )
    metadata = remote.provider_metadata(session, provider)
    tokens = remote.exchange_code(
        provider, metadata["discovery"], code=code, redirect_uri=flow.redirect_uri, verifier=flow.verifier
    )
    claims = remote.verify_id_token(session, provider, metadata, tokens["id_token"], nonce=flow.nonce)
    userinfo = remote.fetch_userinfo(
        metadata["discovery"], tokens.get("access_token"), claims["sub"], guarded=remote.restricted(provider)
    )
    return map_claims(provider, {**userinfo, **claims})


def remote_refusal(error: str, description: str) -> FederationProblem:
    if error == "access_denied":
        return FederationProblem(
            "Bạn đã từ chối hoặc hủy đăng nhập tại nhà cung cấp định danh, nên chưa đăng nhập được.",
            "You declined or cancelled the sign-in at the identity provider, so you are not signed in.",
            code="access_denied",
        )
    detail = f"{error[:100]}{' — ' + description[:300] if description else ''}"
    return FederationProblem(
        f"Nhà cung cấp định danh báo lỗi: {detail}", f"The identity provider reported an error: {detail}"
    )


def map_claims(provider: IdentityProvider, claims: dict) -> Identity:
    """Local fields from the provider's claims, by the provider's claim mapping."""
    mapping = claim_map_of(provider)
    values = {}
    for local, claim in mapping.items():
        value = claims.get(claim)
        if value is not None and str(value).strip():
            values[local] = str(value).strip()
    missing = [mapping.get(local, local) for local in REQUIRED_FIELDS[provider.kind] if local not in values]
    if missing:
        raise FederationProblem(
            f"Nhà cung cấp không gửi trường bắt buộc: {', '.join(missing)}.",
            f"The provider did not send the required claim(s): {', '.join(missing)}.",
            code="missing_claim",
        )
    if provider.kind == CITIZEN and not _PERSONAL_ID.match(values["personal_id"]):
        raise FederationProblem(
            f"Số định danh cá nhân '{values['personal_id'][:20]}' không hợp lệ (cần 9–12 chữ số).",
            f"The personal ID number '{values['personal_id'][:20]}' is invalid (9–12 digits expected).",
            code="personal_id",
        )
    verified = claims.get("email_verified")
    return Identity(
        subject=str(claims["sub"]),
        values=values,
        # Some providers send the string "true"; anything else (absent, false, "false") is not proof.
        email_verified=verified is True or (isinstance(verified, str) and verified.lower() == "true"),
    )


# --- reports of test logins ----------------------------------------------------


def save_report(
    key: str, *, idp_id: int, starter_id: int | None, ok: bool, vi: str, en: str, values=None
) -> None:
    report = {
        "idp_id": idp_id,
        "starter_id": starter_id,
        "ok": ok,
        "vi": vi,
        "en": en,
        "values": values or {},
    }
    redis_connection().set(_REPORT_KEY + key, json.dumps(report), ex=REPORT_SECONDS)


def load_report(key: str | None, *, idp_id: int, viewer_id: int) -> dict | None:
    """A test report, only for the provider it is about and the admin who ran the test."""
    if not key or len(key) > 200:
        return None
    raw = redis_connection().get(_REPORT_KEY + key)
    if not raw:
        return None
    report = json.loads(raw)
    if report.get("idp_id") != idp_id or report.get("starter_id") != viewer_id:
        return None
    return report
