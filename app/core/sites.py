"""Which site a request is for, chosen from its Host before URL matching.

Motcua serves three sites from one application: the city portal
(``<PLATFORM_DOMAIN>``), the provider console (``admin.<PLATFORM_DOMAIN>``) and
the tenant sites (``<slug>.<PLATFORM_DOMAIN>`` or a verified custom domain).
The resolved site is bound as the URL adapter's *subdomain*, so each blueprint
declares ``subdomain=CITY|CONSOLE|TENANT`` and the same path can mean different
pages on different sites. Rules declared with ``subdomain="<site>"`` answer on
every host (health checks, static files).
"""

from __future__ import annotations

from flask import Flask, Request, request
from werkzeug.routing import IntegerConverter, MapAdapter

from tenants.resolution import CITY, CONSOLE, TENANT, UNKNOWN, Resolution

__all__ = ["CITY", "CONSOLE", "EVERY_SITE", "TENANT", "UNKNOWN", "MotcuaFlask", "resolution_of"]

EVERY_SITE = "<site>"
UNAVAILABLE = "unavailable"
_ENV_KEY = "motcua.resolution"


class _SiteMapAdapter(MapAdapter):
    def get_host(self, domain_part: str | None) -> str:
        # Links within the current site keep the request's own host.
        return self.server_name


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes: ids fit a bigint, so a longer number is a 404, not a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


class MotcuaFlask(Flask):
    def create_url_adapter(self, request: Request | None):
        if request is None:
            return super().create_url_adapter(request)
        resolution = self._resolve(request)
        adapter = self.url_map.bind_to_environ(
            request.environ, server_name=request.host, subdomain=resolution.kind
        )
        adapter.__class__ = _SiteMapAdapter
        return adapter

    def _resolve(self, request: Request) -> Resolution:
        if _ENV_KEY not in request.environ:
            try:
                resolution = self.extensions["motcua"].resolver.resolve(request.host)
            except Exception:  # the registry is unreachable; /readyz will say so
                self.logger.exception("host resolution failed")
                resolution = Resolution(UNAVAILABLE)
            request.environ[_ENV_KEY] = resolution
        return request.environ[_ENV_KEY]


def resolution_of(request: Request) -> Resolution:
    return request.environ.get(_ENV_KEY) or Resolution(UNKNOWN)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter  # before any rule is added

    @app.url_defaults
    def _add_site(endpoint: str, values: dict) -> None:
        if "site" not in values and app.url_map.is_endpoint_expecting(endpoint, "site"):
            values["site"] = resolution_of(request).kind

    @app.url_value_preprocessor
    def _drop_site(endpoint: str | None, values: dict | None) -> None:
        if values:
            values.pop("site", None)

    app.static_folder = "static"
    app.add_url_rule(
        "/static/<path:filename>",
        endpoint="static",
        view_func=app.send_static_file,
        subdomain=EVERY_SITE,
    )
