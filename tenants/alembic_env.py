"""What each tree's ``env.py`` calls: one place that knows how the trees run.

The runner hands the connection in ``config.attributes["connection"]``; for the
tenant tree it has already opened the schema's transaction with
``SET LOCAL search_path``. Offline (``sql=True``) renders the SQL that the
migrate-all runner then executes in every schema.
"""

from __future__ import annotations

from sqlalchemy import MetaData


def run_schema_tree(context, metadata: MetaData, schema: str) -> None:
    """Platform and shard trees: one fixed schema, version table inside it."""

    def include_name(name, type_, parent_names):
        if type_ == "schema":
            return name == schema
        return True

    conn = context.config.attributes["connection"]
    context.configure(
        connection=conn,
        target_metadata=metadata,
        include_schemas=True,
        include_name=include_name,
        version_table_schema=schema,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_tenant_tree(context, metadata: MetaData) -> None:
    """Tenant tree: names unqualified; the schema comes from search_path."""
    if context.is_offline_mode():
        context.configure(
            dialect_name="postgresql",
            target_metadata=metadata,
            literal_binds=True,
            transactional_ddl=False,  # the runner owns the transaction
        )
    else:
        context.configure(
            connection=context.config.attributes["connection"],
            target_metadata=metadata,
            compare_type=True,
            compare_server_default=True,
        )
    with context.begin_transaction():
        context.run_migrations()
