"""Vietnamese first, English on request (``?lang=en``, remembered in a cookie)."""

from __future__ import annotations

from flask import Flask, Response, g, request

LANGS = ("vi", "en")
COOKIE = "lang"


def current_lang() -> str:
    return g.get("lang", "vi")


def tr(vi: str, en: str) -> str:
    """Pick the text for the reader's language."""
    return en if current_lang() == "en" else vi


def init_app(app: Flask) -> None:
    @app.before_request
    def _pick_lang() -> None:
        asked = request.args.get("lang") or request.cookies.get(COOKIE) or "vi"
        g.lang = asked if asked in LANGS else "vi"

    @app.after_request
    def _remember_lang(response: Response) -> Response:
        if request.args.get("lang") in LANGS:
            response.set_cookie(COOKIE, request.args["lang"], max_age=365 * 86400, samesite="Lax")
        return response

    app.jinja_env.globals.update(tr=tr, current_lang=current_lang)
