"""The city-wide procedure index (platform schema) and how tenant catalogue writes reach it.

``ProcedureIndex`` holds one row per procedure of every unit (name folded for search,
sector, level, active) so the city portal searches one table instead of opening every
tenant schema. It is derived data: ``app.catalog.index`` fills it.

Any ORM write of a ``Procedure`` (or a ``Sector``'s name) is noted on its session by
mapper events; when that session commits, one ``catalog.procedures_changed`` outbox
event naming the changed ids is added to the *same* transaction. So a catalogue change
and the request to reindex it commit together (or not at all), and the relay delivers
it even if Redis or the workers were down at the time. Nothing at the call sites
(admin edits, standard rollouts, seeding) needs to remember it.
"""

from __future__ import annotations

from datetime import datetime

from flask import has_app_context
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.catalog.models import Procedure, Sector
from app.core.db import get_current_tenant
from app.core.outbox import emit_event
from tenants.base import TENANT_SCHEMA, PlatformBase

CHANGED_TOPIC = "catalog.procedures_changed"
_CHANGES = "motcua.catalog.index.changes"  # session.info key: {schema: {"procedures": set, "sectors": set}}


class ProcedureIndex(PlatformBase):
    """One procedure of one unit, as the city-wide search needs it."""

    __tablename__ = "procedure_index"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 4", name="level_range"),
        Index("ix_procedure_index_active_level", "is_active", "level"),
        Index("ix_procedure_index_name_trigrams", "name_trigrams", postgresql_using="gin"),
        Index(
            "ix_procedure_index_code_search",
            "code_search",
            postgresql_ops={"code_search": "text_pattern_ops"},
        ),
    )

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    procedure_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(40))
    # The code in lower case; collation "C" so that its b-tree index serves LIKE 'prefix%' too.
    code_search: Mapped[str] = mapped_column(String(40, collation="C"))
    name: Mapped[str] = mapped_column(Text)
    # app.catalog.search.fold(name): diacritics removed, lower case.
    name_search: Mapped[str] = mapped_column(Text)
    # app.catalog.search.trigrams(name_search), under a GIN index: narrows the substring search.
    name_trigrams: Mapped[list[str]] = mapped_column(ARRAY(Text))
    sector_id: Mapped[int] = mapped_column(BigInteger)
    sector_name: Mapped[str] = mapped_column(String(255))
    level: Mapped[int] = mapped_column(SmallInteger)
    is_active: Mapped[bool] = mapped_column(Boolean)
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# --- change tracking --------------------------------------------------------------------------


def _note(kind: str, connection, target) -> None:
    schema = (connection.get_execution_options().get("schema_translate_map") or {}).get(TENANT_SCHEMA)
    session = Session.object_session(target)
    if not schema or session is None or target.id is None:
        return
    changes = session.info.setdefault(_CHANGES, {})
    changes.setdefault(schema, {"procedures": set(), "sectors": set()})[kind].add(int(target.id))


def _note_procedure(_mapper, connection, target) -> None:
    _note("procedures", connection, target)


def _note_sector(_mapper, connection, target) -> None:
    _note("sectors", connection, target)


for _name in ("after_insert", "after_update", "after_delete"):
    event.listen(Procedure, _name, _note_procedure)
event.listen(Sector, "after_update", _note_sector)


@event.listens_for(Session, "before_commit")
def _emit_changes(session: Session) -> None:
    if _CHANGES not in session.info and not (session.new or session.dirty or session.deleted):
        return
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit would flush anyway; the mapper events fill the notes now
    changes = session.info.pop(_CHANGES, None)
    if not changes:
        return
    bound = get_current_tenant() if has_app_context() else None
    for schema, ids in sorted(changes.items()):
        emit_event(
            session,
            CHANGED_TOPIC,
            {"schema": schema, "procedures": sorted(ids["procedures"]), "sectors": sorted(ids["sectors"])},
            tenant_id=bound.id if bound is not None and bound.schema_name == schema else None,
        )
