"""Motcua: the leased multi-tenant one-stop-shop platform. ``create_app`` is the composition root."""

from __future__ import annotations

from typing import Any


def create_app(config: dict[str, Any] | None = None):
    """Build the application. ``config`` overrides settings by name (tests use it)."""
    from app.core import api, db, edge, errors, i18n, logs, sites
    from app.core.config import Settings
    from app.models import load_models

    settings = Settings.from_env()
    for key, value in (config or {}).items():
        setattr(settings, key, value)

    load_models()
    app = sites.MotcuaFlask(__name__, subdomain_matching=True, static_folder=None)
    app.url_map.default_subdomain = sites.TENANT  # routes are tenant routes unless they say otherwise
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
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
    _register_blueprints(app)
    _register_cli(app)
    return app


def _register_blueprints(app) -> None:
    from app.auth import views as auth
    from app.backoffice import views as backoffice
    from app.catalog import views as catalog
    from app.console import views as console
    from app.core import health
    from app.portal import views as portal

    for blueprint in (
        health.blp,
        portal.city_blp,
        portal.tenant_blp,
        auth.api_blp,
        backoffice.blp,
        console.blp,
    ):
        app.register_blueprint(blueprint)
    for blueprint in (catalog.blp,):
        app.extensions["motcua.api"].register_blueprint(blueprint)


def _register_cli(app) -> None:
    from app.auth.cli import accounts_cli
    from app.core.jobs_cli import jobs_cli
    from app.demo.cli import demo_cli
    from tenants.cli import db_cli, tenants_cli

    app.cli.add_command(tenants_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(accounts_cli)
