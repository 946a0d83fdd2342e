"""The catalog API's writes: thin wrappers over the unit admin's verbs in ``actions``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.catalog.actions import create_local_procedure, edit_procedure, procedure_spec
from app.catalog.models import Procedure


def create_procedure(session: Session, data: dict[str, Any]) -> Procedure:
    """A procedure of the unit's own; ``data`` is a spec as the API received it."""
    data = dict(data)
    is_active = data.pop("is_active", True)
    return create_local_procedure(session, data, is_active=is_active)


def update_procedure(session: Session, procedure: Procedure, changes: dict[str, Any]) -> Procedure:
    """PATCH: the fields given replace the procedure's (a list replaces the whole list).

    The merged spec goes through the admin's edit, so the catalogue's rules apply
    and a procedure from the standard catalogue that ends up different is marked
    ``is_overridden``.
    """
    changes = dict(changes)
    is_active = changes.pop("is_active", procedure.is_active)
    spec = procedure_spec(session, procedure)
    spec.update(changes)
    return edit_procedure(session, procedure, spec, is_active=is_active)
