"""CompiledQuery: one SQL text per tenant schema, qualified by SQLAlchemy's schema_translate_map."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from app.dossiers.models import Dossier
from tenants.compiled import CompiledQuery


def test_text_names_each_schema_and_keeps_parameters(platform):
    query = CompiledQuery(lambda: select(Dossier.id).where(Dossier.code == bindparam("code")))
    with platform.shards.engine("main").connect() as conn:
        a_sql, a_defaults = query.text_for(conn, "t_alpha")
        b_sql, _ = query.text_for(conn, "t_beta")
    assert "t_alpha.dossiers" in a_sql and "t_beta" not in a_sql
    assert "t_beta.dossiers" in b_sql and "t_alpha" not in b_sql
    assert "%(code)s" in a_sql and "code" in a_defaults
    assert "tenant" not in a_sql.replace("t_alpha", "")
