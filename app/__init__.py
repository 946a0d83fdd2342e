"""Motcua: the leased multi-tenant one-stop-shop platform. ``create_app`` is the composition root."""

from __future__ import annotations

import importlib
from typing import Any


def create_app(config: dict[str, Any] | None = None):
    """Build the application. ``config`` overrides settings by name (tests use it)."""
    from app.auth import api_access, oidc_server
    from app.core import api, db, edge, errors, i18n, logs, sites
    from app.core.config import Settings
    from app.models import load_models

    settings = Settings.from_env()
    for key, value in (config or {}).items():
        setattr(settings, key, value)

    load_models()
    app = sites.MotcuaFlask(__name__, subdomain_matching=True, static_folder=None)
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.url_map.default_subdomain = sites.TENANT  # routes are tenant routes unless they say otherwise
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        # A request may carry one upload at the limit plus its form fields; bigger bodies are refused early.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
    )
    app.json.ensure_ascii = False  # Vietnamese stays readable in API responses
    logs.configure_logging(settings.log_level, settings.log_format)
    app.extensions["motcua"] = db.Platform.from_settings(settings)

    sites.init_app(app)
    logs.init_app(app)
    i18n.init_app(app)
    edge.init_app(app)
    api.init_app(app)
    errors.init_app(app)  # after the Api: our handlers answer HTML pages and JSON alike
    api_access.init_app(app)  # 401s of the API carry the Bearer challenge
    oidc_server.init_app(app, insecure_transport=not settings.session_cookie_secure)
    _register_blueprints(app)
    _register_cli(app)
    for name in settings.extensions:
        importlib.import_module(name).init_app(app)
    return app


def _register_blueprints(app) -> None:
    from app.auth import citizen_views, login_views, oidc_views, rp_views
    from app.auth import views as auth
    from app.backoffice import views as backoffice
    from app.calendar import admin_views as calendar_admin
    from app.catalog import admin_views as catalog_admin
    from app.catalog import standard_views as standard_catalog
    from app.catalog import views as catalog
    from app.console import views as console
    from app.core import health
    from app.dossiers import api as dossiers_api
    from app.dossiers import interop_views
    from app.dossiers import views as dossiers_ui
    from app.federation import admin_views as federation_admin
    from app.federation import views as federation
    from app.feedback import question_views
    from app.feedback import views as ratings
    from app.imports import views as imports_ui
    from app.integrations import dvcqg_views
    from app.officials import api as officials_api
    from app.officials import settings_views, token_views
    from app.officials import views as officials_admin
    from app.portal import lookup_views, my_dossiers_views, online_views
    from app.portal import procedure_views as procedures_portal
    from app.portal import views as portal
    from app.processes import api as processes_api
    from app.processes import views as processes_admin
    from app.reports import console_views as reports_console
    from app.reports import export_views as reports_exports
    from app.reports import leader_views as reports_leader
    from app.reports import public_views as reports_public
    from app.reports import views as reports_ui
    from app.themes import views as themes_ui

    for blueprint in (
        health.blp,
        portal.city_blp,
        portal.tenant_blp,
        procedures_portal.blp,
        lookup_views.blp,
        online_views.blp,
        my_dossiers_views.blp,
        question_views.blp,
        auth.api_blp,
        citizen_views.blp,
        oidc_views.blp,
        login_views.blp,
        federation.blp,
        federation_admin.console_blp,
        federation_admin.backoffice_blp,
        rp_views.tenant_blp,
        rp_views.console_blp,
        backoffice.blp,
        catalog_admin.blp,
        standard_catalog.blp,
        calendar_admin.blp,
        console.blp,
        officials_admin.blp,
        settings_views.blp,
        token_views.blp,
        processes_admin.blp,
        dossiers_ui.blp,
        interop_views.blp,
        ratings.blp,
        themes_ui.public_blp,
        themes_ui.blp,
        dvcqg_views.blp,
        dvcqg_views.console_blp,
        imports_ui.blp,
        reports_ui.blp,
        reports_console.blp,
        reports_exports.blp,
        reports_exports.console_blp,
        reports_leader.blp,
        reports_leader.city_blp,
        reports_public.city_blp,
        reports_public.unit_blp,
    ):
        app.register_blueprint(blueprint)
    for blueprint in (catalog.blp, officials_api.blp, processes_api.blp, dossiers_api.blp):
        app.extensions["motcua.api"].register_blueprint(blueprint)


def _register_cli(app) -> None:
    from app.auth.cli import accounts_cli
    from app.calendar.cli import calendar_cli
    from app.catalog.cli import catalog_cli
    from app.core.jobs_cli import jobs_cli
    from app.demo.cli import demo_cli
    from app.imports.cli import dossiers_cli
    from app.integrations.dvcqg_cli import dvcqg_cli
    from app.reports.cli import reports_cli
    from tenants.cli import db_cli, tenants_cli

    app.cli.add_command(tenants_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(catalog_cli)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(dvcqg_cli)
    app.cli.add_command(dossiers_cli)
    app.cli.add_command(reports_cli)
