"""Sign-in through an external provider, on the city host (the platform's identity provider).

``/dang-nhap/ngoai/<slug>`` sends the browser to the provider; the provider sends it
back to ``/dang-nhap/ngoai/<slug>/xong``, which checks everything and signs the
person in with ``finish_sign_in`` (after the TOTP code step when the account has one), or
(a test flow) leaves a report for the admin.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from sqlalchemy import select

from app.auth.sso import NEXT_KEY, finish_sign_in, require_second_factor
from app.core.db import get_platform, platform_db
from app.core.errors import DomainError
from app.core.sites import CITY
from app.federation import config, flow, linking
from app.federation.models import IdentityProvider
from app.federation.remote import FederationProblem
from tenants.models import Tenant

blp = Blueprint("federation", __name__, subdomain=CITY)

STATE_KEY = "federation_state"  # the flow this browser started (binds the callback to it)
TENANT_CLIENT_PREFIX = "tenant:"


@blp.record_once
def _register(state) -> None:
    state.app.jinja_env.globals.update(federation_choices=federation_choices)


def pending_tenant_id() -> int | None:
    """The unit whose portal the pending authorization is for (client id ``tenant:<slug>``), if any."""
    target = session.get(NEXT_KEY) or ""
    client_ids = parse_qs(urlsplit(target).query).get("client_id") or [""]
    client_id = client_ids[0]
    if not client_id.startswith(TENANT_CLIENT_PREFIX):
        return None
    slug = client_id.removeprefix(TENANT_CLIENT_PREFIX)
    return platform_db().scalar(select(Tenant.id).where(Tenant.slug == slug))


def offered_providers() -> list[IdentityProvider]:
    return config.list_offered(platform_db(), tenant_id=pending_tenant_id())


def federation_choices() -> list[dict]:
    """Buttons for the login page: the platform's providers and those of the unit being signed in to."""
    return [
        {
            "slug": p.slug,
            "name_vi": p.name_vi,
            "name_en": p.name_en,
            "kind": p.kind,
            "url": url_for("federation.start", slug=p.slug),
        }
        for p in offered_providers()
    ]


def callback_url(slug: str) -> str:
    """The redirect URI on the city host, whichever host started the flow (console, unit back office)."""
    port = ":" + request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    return f"{request.scheme}://{get_platform().settings.platform_domain}{port}/dang-nhap/ngoai/{slug}/xong"


def problem_page(problem: DomainError, *, provider: IdentityProvider | None = None):
    return (
        render_template(
            "federation/problem.html",
            problem=problem,
            provider=provider,
            login_url="/dang-nhap",  # the provider's login page (app.auth.login_views)
        ),
        problem.status,
    )


def _expired() -> FederationProblem:
    return FederationProblem(
        "Phiên đăng nhập liên kết đã hết hạn hoặc không hợp lệ (quá thời gian, hoặc liên kết đã được dùng). "
        "Vui lòng bắt đầu đăng nhập lại.",
        "This external sign-in has expired or is not valid (it took too long, or the link was already used). "
        "Please start signing in again.",
        code="state",
    )


@blp.get("/dang-nhap/ngoai/<slug>")
def start(slug: str):
    provider = next((p for p in offered_providers() if p.slug == slug), None)
    if provider is None:
        return problem_page(
            FederationProblem(
                "Không có cách đăng nhập này cho trang bạn đang đăng nhập.",
                "This sign-in option is not available for the site you are signing in to.",
                status=404,
            )
        )
    try:
        started, url = flow.start(platform_db(), provider, redirect_uri=callback_url(provider.slug))
    except FederationProblem as problem:
        return problem_page(problem, provider=provider)
    session[STATE_KEY] = started.state
    return redirect(url)


@blp.get("/dang-nhap/ngoai/<slug>/xong")
def callback(slug: str):
    db = platform_db()
    provider = config.find_provider_by_slug(db, slug)
    state = request.args.get("state")
    pending = flow.take_flow(state)
    if provider is None or pending is None or pending.idp_id != provider.id:
        return problem_page(_expired(), provider=provider)
    if pending.test:
        return _finish_test(provider, pending)
    if session.pop(STATE_KEY, None) != state:
        return problem_page(_expired(), provider=provider)
    if not provider.enabled:
        return problem_page(_expired(), provider=provider)
    try:
        identity = flow.complete(db, provider, pending, request.args)
        account = linking.account_for(db, provider, identity)
    except DomainError as problem:
        return problem_page(problem, provider=provider)
    if account.totp_enabled_at is not None:
        # The provider stands in for the password only: the account's own second factor still holds.
        return require_second_factor(account, ["fed"])
    return finish_sign_in(account, ["fed"])


def _finish_test(provider: IdentityProvider, pending: flow.Flow):
    """A test round trip: report what the provider sent, sign nobody in, change nothing."""
    try:
        identity = flow.complete(platform_db(), provider, pending, request.args)
    except FederationProblem as problem:
        flow.save_report(
            pending.state,
            idp_id=provider.id,
            starter_id=pending.starter_id,
            ok=False,
            vi=problem.vi,
            en=problem.en,
        )
    else:
        flow.save_report(
            pending.state,
            idp_id=provider.id,
            starter_id=pending.starter_id,
            ok=True,
            vi="Đăng nhập thử thành công. Các giá trị nhận được:",
            en="Test sign-in succeeded. Values received:",
            values={"sub": identity.subject, **identity.values},
        )
    return redirect(pending.return_to or "/")
