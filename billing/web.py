"""Plugs billing into the application: blueprints, CLI commands, job modules, console links.

``create_app`` imports this module by name (settings.extensions), so the dependency
direction of ARCHITECTURE.md holds: billing imports app, never the reverse.
"""

from __future__ import annotations

# Modules whose import registers periodic jobs and outbox handlers for workers.
JOB_MODULES: tuple[str, ...] = ("billing.aggregate", "billing.invoices")

# The console's menu (app/templates/console/_layout.html) lists these endpoints.
CONSOLE_LINKS: tuple[tuple[str, str, str], ...] = (
    ("billing_audit.usage", "Kiểm toán sử dụng", "Usage audit"),
    ("contracts.contract_list", "Hợp đồng thuê", "Contracts"),
    ("billing_invoices.invoice_list", "Hóa đơn", "Invoices"),
)


def init_app(app) -> None:
    from billing import api, audit_views, cli, contract_views, demo, invoice_views

    blueprints: list = [audit_views.blp, *contract_views.BLUEPRINTS, *invoice_views.BLUEPRINTS]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.extensions["motcua.api"].register_blueprint(api.blp)  # console-session JSON: contracts
    app.extensions.setdefault("motcua.demo_seeders", []).append(demo.seed_billing_demo)  # make run
    app.cli.add_command(cli.billing_group)
    app.extensions.setdefault("motcua.job_modules", []).extend(JOB_MODULES)
    app.config.setdefault("CONSOLE_LINKS", []).extend(CONSOLE_LINKS)
