"""Settings pages of identity providers: provider ops on the console (platform level) and unit
admins in their back office (their unit's own). Same form, same rules, different scope.

The client secret is never shown back: the form says whether one is set and takes a
replacement. "Test login" runs the whole round trip in test mode and shows a report.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, redirect, render_template, request, url_for

from app.auth.access import check_csrf, csrf_token
from app.backoffice.views import admin_required
from app.console.views import ops_required
from app.core.db import get_current_tenant, platform_db
from app.core.errors import DomainError
from app.core.sites import CONSOLE, TENANT
from app.federation import config, flow
from app.federation.models import IdentityProvider
from app.federation.remote import FederationProblem
from app.federation.views import callback_url

console_blp = Blueprint("federation_console", __name__, subdomain=CONSOLE, url_prefix="/federation")
backoffice_blp = Blueprint(
    "federation_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/federation"
)


class _Scope:
    """Where the pages run: the console (platform-level providers) or a unit's back office."""

    def __init__(self, blueprint: str, layout: str, who, tenant_id: int | None, account_id: int):
        self.blueprint = blueprint
        self.layout = layout
        self.who = who
        self.tenant_id = tenant_id
        self.account_id = account_id

    def context(self) -> dict:
        extra = (
            {"ops": self.who, "csrf_token": csrf_token()} if self.blueprint == "federation_console" else {}
        )
        return {
            "layout": self.layout,
            "bp": self.blueprint,
            "official": self.who,
            "tenant": get_current_tenant(),
            "csrf": csrf_token(),
            **extra,
        }


def _console(ops) -> _Scope:
    return _Scope("federation_console", "console/_layout.html", ops, None, ops.id)


def _backoffice(official) -> _Scope:
    return _Scope(
        "federation_admin", "backoffice/_layout.html", official, get_current_tenant().id, official.account.id
    )


def _form_input() -> config.ProviderInput:
    form = request.form
    return config.ProviderInput(
        slug=form.get("slug", ""),
        name_vi=form.get("name_vi", ""),
        name_en=form.get("name_en", ""),
        kind=form.get("kind", ""),
        client_id=form.get("client_id", ""),
        client_secret=form.get("client_secret", ""),
        discovery_url=form.get("discovery_url", ""),
        scopes=form.get("scopes", ""),
        claim_map={field: form.get(f"claim_{field}", "") for field in config.FIELDS},
        enabled=form.get("enabled") == "1",
    )


def _list(scope: _Scope):
    rows = config.list_providers(platform_db(), tenant_id=scope.tenant_id)
    return render_template(
        "federation/admin_list.html", providers=rows, kinds=config.KIND_LABELS, **scope.context()
    )


def _form(
    scope: _Scope, provider: IdentityProvider | None, *, values=None, error=None, report=None, status=200
):
    if values is None:
        values = {
            "kind": provider.kind if provider else config.CITIZEN,
            "slug": provider.slug if provider else "",
            "name_vi": provider.name_vi if provider else "",
            "name_en": provider.name_en if provider else "",
            "client_id": provider.client_id if provider else "",
            "discovery_url": provider.discovery_url if provider else "",
            "scopes": provider.scopes if provider else "",
            "enabled": provider.enabled if provider else False,
            "claims": config.claim_map_of(provider) if provider else {},
        }
    kind = values.get("kind") or config.CITIZEN
    return (
        render_template(
            "federation/admin_form.html",
            provider=provider,
            values=values,
            fields=config.FIELDS,
            defaults=config.DEFAULT_CLAIMS,
            default_for=config.DEFAULT_CLAIMS.get(kind, {}),
            kinds=config.KIND_LABELS,
            error=error,
            field_errors=(error.errors if error is not None else {}),
            report=report,
            redirect_uri=callback_url(provider.slug if provider else "<ma>"),
            **scope.context(),
        ),
        status,
    )


def _posted_values() -> dict:
    data = _form_input()
    return {
        "kind": data.kind,
        "slug": data.slug,
        "name_vi": data.name_vi,
        "name_en": data.name_en,
        "client_id": data.client_id,
        "discovery_url": data.discovery_url,
        "scopes": data.scopes,
        "enabled": data.enabled,
        "claims": data.claim_map,
    }


def _create(scope: _Scope):
    try:
        row = config.create_provider(platform_db(), _form_input(), tenant_id=scope.tenant_id)
    except DomainError as exc:
        return _form(scope, None, values=_posted_values(), error=exc, status=exc.status)
    return redirect(url_for(f"{scope.blueprint}.edit", provider_id=row.id))


def _edit(scope: _Scope, provider_id: int):
    provider = config.get_provider(platform_db(), provider_id, tenant_id=scope.tenant_id)
    report = flow.load_report(request.args.get("report"), idp_id=provider.id, viewer_id=scope.account_id)
    return _form(scope, provider, report=report)


def _save(scope: _Scope, provider_id: int):
    provider = config.get_provider(platform_db(), provider_id, tenant_id=scope.tenant_id)
    try:
        config.update_provider(platform_db(), provider, _form_input())
    except DomainError as exc:
        return _form(scope, provider, values=_posted_values(), error=exc, status=exc.status)
    return redirect(url_for(f"{scope.blueprint}.edit", provider_id=provider.id))


def _test(scope: _Scope, provider_id: int):
    """Start a test round trip; problems found before leaving (discovery) are reported at once."""
    provider = config.get_provider(platform_db(), provider_id, tenant_id=scope.tenant_id)
    key = secrets.token_urlsafe(32)
    try:
        started, url = flow.start(
            platform_db(),
            provider,
            redirect_uri=callback_url(provider.slug),
            test=True,
            starter_id=scope.account_id,
            return_to="",
        )
    except FederationProblem as problem:
        flow.save_report(
            key, idp_id=provider.id, starter_id=scope.account_id, ok=False, vi=problem.vi, en=problem.en
        )
        return redirect(url_for(f"{scope.blueprint}.edit", provider_id=provider.id, report=key))
    flow.set_return_to(
        started,
        url_for(f"{scope.blueprint}.edit", provider_id=provider.id, report=started.state, _external=True),
    )
    return redirect(url)


# --- the console (provider ops) ------------------------------------------------


@console_blp.get("/")
@ops_required
def index(ops):
    return _list(_console(ops))


@console_blp.get("/new")
@ops_required
def new(ops):
    return _form(_console(ops), None)


@console_blp.post("/new")
@ops_required
def create(ops):
    check_csrf()
    return _create(_console(ops))


@console_blp.get("/<int:provider_id>")
@ops_required
def edit(ops, provider_id: int):
    return _edit(_console(ops), provider_id)


@console_blp.post("/<int:provider_id>")
@ops_required
def save(ops, provider_id: int):
    check_csrf()
    return _save(_console(ops), provider_id)


@console_blp.post("/<int:provider_id>/test")
@ops_required
def test_login(ops, provider_id: int):
    check_csrf()
    return _test(_console(ops), provider_id)


# --- a unit's back office (unit admin) ------------------------------------------------


@backoffice_blp.get("/", endpoint="index")
@admin_required
def bo_index(official):
    return _list(_backoffice(official))


@backoffice_blp.get("/new", endpoint="new")
@admin_required
def bo_new(official):
    return _form(_backoffice(official), None)


@backoffice_blp.post("/new", endpoint="create")
@admin_required
def bo_create(official):
    return _create(_backoffice(official))


@backoffice_blp.get("/<int:provider_id>", endpoint="edit")
@admin_required
def bo_edit(official, provider_id: int):
    return _edit(_backoffice(official), provider_id)


@backoffice_blp.post("/<int:provider_id>", endpoint="save")
@admin_required
def bo_save(official, provider_id: int):
    return _save(_backoffice(official), provider_id)


@backoffice_blp.post("/<int:provider_id>/test", endpoint="test_login")
@admin_required
def bo_test_login(official, provider_id: int):
    return _test(_backoffice(official), provider_id)
