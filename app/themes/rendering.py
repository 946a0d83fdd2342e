"""Drawing portal pages in the unit's theme: the template loader, theme static files, the preview.

``portal/_layout.html`` extends ``portal_theme().layout``: the published
version's theme, or — for the signed-in unit admin of this unit only — the
version being previewed (``?xem-truoc=<id>``, remembered in the session until
``?xem-truoc=tat``). Anyone else, and any other host, sees the published theme;
the city portal (no tenant) wears the default theme with its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, abort, current_app, g, request, send_from_directory, session, url_for
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from markupsafe import Markup

from app.auth.access import SignInRequired, csrf_token, current_account, current_official
from app.auth.models import Account
from app.auth.roles import UNIT_ADMIN
from app.core.db import get_current_tenant, tenant_db
from app.core.errors import DomainError
from app.core.i18n import tr
from app.core.sites import CITY, EVERY_SITE, TENANT
from app.themes import queries
from app.themes.actions import effective_tokens
from app.themes.manifest import THEMES_DIR, Theme, default_theme, find_theme
from app.themes.tokens import css_color

PREVIEW_ARG = "xem-truoc"
PREVIEW_OFF = "tat"
PREVIEW_KEY = "theme_preview"
_G_KEY = "motcua_theme"

# (endpoint, vi, en) of the unit portal's menu; an entry shows once its endpoint exists.
UNIT_LINKS = (
    ("unit.unit_home", "Trang chủ", "Home"),
    ("procedures_portal.procedure_list", "Thủ tục hành chính", "Procedures"),
    ("lookup.page", "Tra cứu hồ sơ", "Dossier lookup"),
    ("questions.public_list", "Hỏi đáp", "Questions"),
)
CITY_LINKS = (("city.city_home", "Trang chủ", "Home"),)


@dataclass(frozen=True)
class PortalTheme:
    """What a portal page is drawn with: the theme, its full tokens, and whether this is a preview."""

    theme: Theme
    tokens: dict[str, str]
    version_id: int | None = None
    preview_status: str | None = None  # draft / published / archived when previewing

    @property
    def layout(self) -> str:
        return self.theme.layout

    @property
    def is_preview(self) -> bool:
        return self.preview_status is not None

    def css_variables(self) -> Markup:
        """``:root{--primary:#…;…}``: colour tokens only, each re-checked as ``#rrggbb``."""
        parts = []
        for key in self.theme.keys_of("color"):
            value = css_color(self.tokens.get(key, ""), self.theme.tokens[key].default)
            parts.append(f"--{key.replace('_', '-')}:{value}")
        return Markup(":root{" + ";".join(parts) + "}")

    def stylesheet_url(self) -> str:
        return url_for("theme_static", theme=self.theme.name, filename=self.theme.stylesheet)

    def static_url(self, filename: str) -> str:
        return url_for("theme_static", theme=self.theme.name, filename=filename)

    def image_url(self, key: str) -> str | None:
        name = self.tokens.get(key) or ""
        if not name or get_current_tenant() is None:
            return None
        return url_for("theme_public.image", name=name)

    def text(self, key: str) -> str:
        return self.tokens.get(key) or ""

    def phone_href(self) -> str:
        digits = "".join(ch for ch in self.text("contact_phone") if ch.isdigit() or ch == "+")
        return f"tel:{digits}" if digits else ""


def _is_unit_admin() -> bool:
    try:
        official = current_official(TENANT)
    except DomainError:
        return False
    return UNIT_ADMIN in (official.membership.roles or [])


def _preview_version_id(tenant_id: int) -> int | None:
    """The version this reader asked to preview, if any; the caller still checks they may."""
    asked = request.args.get(PREVIEW_ARG)
    if asked == PREVIEW_OFF:
        session.pop(PREVIEW_KEY, None)
        return None
    if asked is not None:
        return int(asked) if asked.isascii() and asked.isdigit() and len(asked) < 19 else None
    remembered = session.get(PREVIEW_KEY)
    if isinstance(remembered, dict) and remembered.get("tenant_id") == tenant_id:
        version_id = remembered.get("version_id")
        return version_id if isinstance(version_id, int) else None
    return None


def resolve_portal_theme() -> PortalTheme:
    tenant = get_current_tenant()
    if tenant is None:
        theme = default_theme()
        return PortalTheme(theme, theme.defaults())
    wanted = _preview_version_id(tenant.id)
    if wanted is not None and _is_unit_admin():
        version = queries.find_version(tenant_db(), wanted)
        if version is not None:
            if request.args.get(PREVIEW_ARG):
                session[PREVIEW_KEY] = {"tenant_id": tenant.id, "version_id": version.id}
            theme, tokens = effective_tokens(version)
            return PortalTheme(theme, tokens, version.id, version.status)
    published = queries.find_published(tenant_db())
    theme, tokens = effective_tokens(published)
    return PortalTheme(theme, tokens, published.id if published is not None else None)


def portal_theme() -> PortalTheme:
    """The theme of the current page, resolved once per request."""
    if _G_KEY not in g:
        setattr(g, _G_KEY, resolve_portal_theme())
    return g.get(_G_KEY)


def portal_links() -> list[tuple[str, str, bool]]:
    """(url, label, is current page) for the portal menu of this site."""
    links = UNIT_LINKS if get_current_tenant() is not None else CITY_LINKS
    return [
        (url_for(endpoint), tr(vi, en), request.endpoint == endpoint)
        for endpoint, vi, en in links
        if endpoint in current_app.view_functions
    ]


def portal_account() -> Account | None:
    """Who is signed in on this portal (city or unit host), for the sign-in / sign-out corner."""
    site = TENANT if get_current_tenant() is not None else CITY
    try:
        return current_account(site)
    except SignInRequired:
        return None


def _theme_static(theme: str, filename: str):
    if find_theme(theme) is None:
        abort(404)
    return send_from_directory(THEMES_DIR / theme / "static", filename, max_age=3600)


def init_app(app: Flask) -> None:
    """Theme templates load as ``themes/<name>/templates/…``; theme files are served on every site."""
    app.jinja_env.loader = ChoiceLoader(
        [app.jinja_env.loader, PrefixLoader({"themes": FileSystemLoader(str(THEMES_DIR))})]
    )
    app.jinja_env.globals.update(
        portal_theme=portal_theme,
        portal_links=portal_links,
        portal_account=portal_account,
        # Pages pass their own ``csrf_token`` string; the account corner needs the function.
        portal_csrf_token=csrf_token,
        preview_arg=PREVIEW_ARG,
        preview_off=PREVIEW_OFF,
    )
    app.add_url_rule(
        "/themes/<theme>/static/<path:filename>",
        endpoint="theme_static",
        view_func=_theme_static,
        subdomain=EVERY_SITE,
    )
