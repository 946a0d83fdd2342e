"""Plugs provisioning into the application: blueprints, CLI commands, job modules.

``create_app`` imports this module by name (settings.extensions), so the dependency
direction of ARCHITECTURE.md holds: provisioning imports app, never the reverse.
"""

from __future__ import annotations

# Modules whose import registers outbox handlers and periodic jobs for workers.
# provisioning.pipeline: the RQ job of a run and the sweep that re-enqueues lost runs;
# the modules after it register their pipelines (register_pipeline) when imported.
JOB_MODULES: tuple[str, ...] = (
    "provisioning.pipeline",
    "provisioning.provision_steps",
    "provisioning.lifecycle",
    "provisioning.onboarding_review",  # follows its runs' statuses (pipeline.on_status_change)
)


def init_app(app) -> None:
    from provisioning import cli, lifecycle_views, request_views, review_views, run_views, seats

    for blueprint in (
        *request_views.BLUEPRINTS,
        *review_views.BLUEPRINTS,
        *run_views.BLUEPRINTS,
        *lifecycle_views.BLUEPRINTS,
    ):
        app.register_blueprint(blueprint)
    # `flask tenants provision|export|decommission|move ...` join the registry's own group.
    tenants_group = app.cli.commands["tenants"]
    for command in cli.TENANT_COMMANDS:
        tenants_group.add_command(command)
    app.extensions.setdefault("motcua.job_modules", []).extend(JOB_MODULES)
    # Billing's contract page shows seats taken as onboarding counts them (billing may not import us).
    app.extensions["motcua.seats_taken"] = seats.seats_taken
    # The console's menu (app/templates/console/_layout.html) lists these endpoints.
    app.config.setdefault("CONSOLE_LINKS", []).extend(CONSOLE_LINKS)


CONSOLE_LINKS = (
    ("onboarding_review.queue", "Yêu cầu đăng ký", "Onboarding requests"),
    ("runs.run_list", "Tiến trình", "Runs"),
)
