"""Citizen pages behind sign-in: who is signed in, and where to send someone who is not.

The SSO login endpoint is ``rp.login`` once it exists; until then (or if it is not
registered on this site) people are sent to ``/dang-nhap?next=…``, the path the SSO
work serves on unit and city hosts.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from flask import redirect, request, url_for
from werkzeug.routing import BuildError

from app.auth.access import SignInRequired, current_account

LOGIN_ENDPOINT = "rp.login"
LOGIN_PATH = "/dang-nhap"


def login_url(next_path: str | None = None) -> str:
    """The sign-in page of this host, coming back to ``next_path`` (the current page by default)."""
    target = next_path or request.full_path.rstrip("?")
    try:
        return url_for(LOGIN_ENDPOINT, next=target)
    except BuildError:
        return f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def citizen_required(site: str):
    """Decorator: call the view with the signed-in account first; without one, go to sign in."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                account = current_account(site)
            except SignInRequired:
                if request.method != "GET":
                    raise
                return redirect(login_url())
            return view(account, *args, **kwargs)

        return wrapper

    return decorate
