"""Tenant tree: applied to each tenant schema under SET LOCAL search_path."""

from alembic import context

from app.models import load_models
from tenants.alembic_env import run_tenant_tree
from tenants.ddl import unqualified_tenant_metadata

load_models()
run_tenant_tree(context, unqualified_tenant_metadata())
