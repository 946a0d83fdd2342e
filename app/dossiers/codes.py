"""Dossier codes: ``<unit code>-<YYMMDD>-<NNNN>`` (Circular 01/2018, DOMAIN.md §3.1).

One counter row per day in the receiving unit's schema. The upsert takes the row
lock, so concurrent intakes queue on it and each gets the next number; the number
commits or rolls back with the dossier, so there are no gaps and no duplicates.
The sequence grows past 9999 rather than wrapping.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.dossiers.models import DossierCodeCounter


def next_sequence(session: Session, day: date) -> int:
    counter = DossierCodeCounter.__table__
    statement = (
        insert(counter)
        .values(day=day, last_seq=1)
        .on_conflict_do_update(index_elements=[counter.c.day], set_={"last_seq": counter.c.last_seq + 1})
        .returning(counter.c.last_seq)
    )
    return session.execute(statement).scalar_one()


def format_code(unit_code: str, day: date, sequence: int) -> str:
    return f"{unit_code}-{day:%y%m%d}-{sequence:04d}"


def next_code(session: Session, unit_code: str, day: date) -> str:
    """The next dossier code of the unit for ``day`` (a local date in Asia/Ho_Chi_Minh)."""
    return format_code(unit_code, day, next_sequence(session, day))
