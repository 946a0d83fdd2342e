"""Citizen pages behind sign-in: who is signed in, and where to send someone who is not.

``/dang-nhap?next=…`` signs people in on both kinds of host: on a unit host it starts the
single sign-on flow (``rp.login``), on the city host it is the provider's own form.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from flask import redirect, request

from app.auth.access import SignInRequired, current_account

LOGIN_PATH = "/dang-nhap"


def login_url(next_path: str | None = None) -> str:
    """The sign-in page of this host, coming back to ``next_path`` (the current page by default)."""
    target = next_path or request.full_path.rstrip("?")
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
