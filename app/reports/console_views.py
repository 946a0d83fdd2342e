"""The 06 report on the console (``/reports``): every unit of the city, for the city auditor
and provider ops. Each view is written to the platform audit trail like the audit console's.
"""

from __future__ import annotations

import functools

from flask import Blueprint, redirect, request, url_for

from app.audit.platform import record
from app.auth.access import SignInRequired, csrf_token, current_auditor
from app.core.db import platform_db
from app.core.sites import CONSOLE
from app.reports import scope
from app.reports.views import page_06, render_06, report_links

blp = Blueprint("reports_console", __name__, subdomain=CONSOLE, url_prefix="/reports")

AUDIT_ENTITY = "reports_console"
LINKS_KEY = "REPORTS_CONSOLE_LINKS"
CONSOLE_LINK = ("reports_console.tthc06", "Báo cáo TTHC", "Procedure reports")


def _register(state) -> None:
    config = state.app.config
    config.setdefault("CONSOLE_LINKS", []).append(CONSOLE_LINK)
    config.setdefault("CONSOLE_AUDITOR_LINKS", []).append(CONSOLE_LINK[0])
    config.setdefault(LINKS_KEY, []).append(
        (20, CONSOLE_LINK[0], "Báo cáo 06 (giải quyết TTHC)", "Report 06")
    )


blp.record_once(_register)


def console_report_links() -> list[tuple[str, str, str]]:
    return report_links(LINKS_KEY)


def _clean(value: str) -> str:
    """JSONB cannot hold U+0000; the audit row keeps it visible instead of failing."""
    return value.replace("\x00", "\\x00")[:500]


def to_console_login():
    """Send someone not signed in to the console's sign-in, back here afterwards."""
    return redirect(url_for("console.login_form", next=request.full_path.rstrip("?")))


def auditor_required(view):
    """City auditor or provider ops; others 403, anonymous people go to the console's sign-in."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            auditor = current_auditor(CONSOLE)
        except SignInRequired:
            return to_console_login()
        session = platform_db()
        record(
            session,
            entity=AUDIT_ENTITY,
            entity_id=(request.endpoint or "")[:64],
            action="view",
            actor_account_id=auditor.id,
            actor_label=auditor.email,
            data={
                "path": _clean(request.path),
                "params": {_clean(k): [_clean(v) for v in vs] for k, vs in request.args.lists()},
            },
        )
        session.commit()
        return view(auditor, *args, **kwargs)

    return wrapper


@blp.get("/")
@auditor_required
def tthc06(auditor):
    session = platform_db()
    page = page_06(session, scope.every_tenant_id(session), request.args, "city")
    html = render_06(
        "reports/tthc06_console.html",
        page,
        console_report_links(),
        "reports_exports_console.index",
        ops=auditor,
        csrf_token=csrf_token(),
    )
    return html
