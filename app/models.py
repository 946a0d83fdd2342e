"""The list of every model module, imported by the composition root and migrations."""

import importlib

MODEL_MODULES = (
    "tenants.models",
    "app.catalog.models",
    "app.catalog.standard_models",
    "app.catalog.index_models",
    "app.processes.models",
    "app.officials.models",
    "app.calendar.models",
    "app.dossiers.models",
    "app.dossiers.interop_models",
    "app.dossiers.online_models",
    "app.dossiers.citizen_models",
    "app.payments.models",
    "app.delivery.models",
    "app.feedback.models",
    "app.themes.models",
    "app.notifications.models",
    "app.audit.models",
    "app.audit.platform_models",
    "app.auth.models",
    "app.auth.token_models",
    "app.auth.sso_models",
    "app.federation.models",
    "app.auth.citizen_models",
    "app.core.outbox_models",
    "app.core.usage_models",
    "app.reports.models",
    "app.reports.export_models",
    "app.integrations.dvcqg_models",
    "app.imports.models",
    "billing.models",
    "provisioning.pipeline_models",
    "provisioning.onboarding_models",
)


def load_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
