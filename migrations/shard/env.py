"""Shard tree: the shard-local schema (outbox) present on every shard database."""

from alembic import context

from app.models import load_models
from tenants.alembic_env import run_schema_tree
from tenants.base import SHARD_SCHEMA, ShardBase

load_models()
run_schema_tree(context, ShardBase.metadata, SHARD_SCHEMA)
