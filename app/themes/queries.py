"""Reads of a unit's theme versions (the session is already scoped to the unit)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.themes.models import DRAFT, PUBLISHED, ThemeVersion


def find_published(session: Session) -> ThemeVersion | None:
    return session.scalar(select(ThemeVersion).where(ThemeVersion.status == PUBLISHED))


def find_draft(session: Session) -> ThemeVersion | None:
    """The draft as the database has it now (another save may have changed it since this session read it)."""
    query = select(ThemeVersion).where(ThemeVersion.status == DRAFT).execution_options(populate_existing=True)
    return session.scalar(query)


def find_version(session: Session, version_id: int) -> ThemeVersion | None:
    if not 0 < version_id < 2**63:
        return None
    return session.get(ThemeVersion, version_id)


def list_versions(session: Session, *, limit: int = 50) -> list[ThemeVersion]:
    """Newest first: the draft, the published version, then the archive."""
    return list(session.scalars(select(ThemeVersion).order_by(ThemeVersion.id.desc()).limit(limit)))
