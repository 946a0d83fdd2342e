"""Platform tree: the registry, accounts and ledgers on the primary database."""

from alembic import context

from app.models import load_models
from tenants.alembic_env import run_schema_tree
from tenants.base import PLATFORM_SCHEMA, PlatformBase

load_models()
run_schema_tree(context, PlatformBase.metadata, PLATFORM_SCHEMA)
