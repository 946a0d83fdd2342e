"""Console buttons of a unit's lifecycle: each starts a recorded run and goes to its run page.

The forms sit on the console's tenant page (app/templates/console/tenant.html); the
run page with its live progress, resume and rollback belongs to provisioning/run_views.py.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from app.auth.access import check_csrf, current_ops, login_required
from app.core.db import get_platform, platform_db
from app.core.errors import DomainError
from app.core.sites import CONSOLE
from provisioning import lifecycle, pipeline  # noqa: F401  (lifecycle registers the pipelines)
from tenants.models import TenantStatus

blp = Blueprint("lifecycle", __name__, subdomain=CONSOLE)
ops_required = login_required(CONSOLE, "console.login_form", current_ops)

KINDS = ("suspend", "resume", "export", "decommission", "move")


def _params(kind: str, slug: str) -> dict:
    form = request.form
    if kind == "suspend":
        return {"reason": form.get("reason", "")}
    if kind == "move":
        return {"to": form.get("to", "")}
    if kind == "decommission" and form.get("confirm", "").strip() != slug:
        raise DomainError(
            f"Để giải thể, hãy gõ đúng mã đơn vị {slug!r} vào ô xác nhận.",
            f"To decommission, type the unit's slug {slug!r} into the confirmation box.",
        )
    return {}


@blp.post("/tenants/<slug>/lifecycle/<kind>")
@ops_required
def start(ops, slug: str, kind: str):
    """Start ``kind`` for ``slug`` as a run (audited with the operator) and show its progress."""
    check_csrf()
    if kind not in KINDS:
        raise DomainError(f"Không có thao tác {kind!r}", f"no lifecycle operation {kind!r}", status=404)
    session = platform_db()
    run = pipeline.create_run(
        session,
        kind,
        tenant_slug=slug,
        params=_params(kind, slug),
        actor_account_id=ops.id,
        actor_label=ops.email,
    )
    session.commit()
    pipeline.enqueue_run(run.id)  # Redis away: the sweep enqueues it later; the page says pending
    return redirect(url_for("runs.run_detail", run_id=run.id))  # provisioning/run_views.py


@blp.app_context_processor
def _lifecycle_globals() -> dict:
    """What the tenant page needs to draw the lifecycle forms."""

    def lifecycle_actions(tenant) -> dict:
        status = tenant.status
        live = status in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)
        return {
            "suspend": status == TenantStatus.ACTIVE,
            "resume": status == TenantStatus.SUSPENDED,
            "export": live,
            "decommission": live and tenant.kind != "city",
            "move_to": [s for s in get_platform().shards.names if s != tenant.shard] if live else [],
            "retention_days": get_platform().settings.decommission_retention_days,
        }

    return {"lifecycle_actions": lifecycle_actions}


BLUEPRINTS = (blp,)
