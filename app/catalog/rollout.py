"""Applying a published standard version to one unit's catalogue.

For each procedure the version offers (or the unit holds from an earlier version):

- *changed* means the version's spec differs from the spec of the version the
  unit's copy came from (``Procedure.standard_version``), not merely from the
  previous version: a unit that missed a version still sees every change;
- not overridden and changed: **applied** (created, updated, deactivated);
- overridden and not changed: **kept**; overridden and changed: **conflicted**
  (the unit's copy stays, ``pending_standard_version`` flags it for review);
- otherwise **unchanged**.

The results are written to the unit's ledger (``applied_standard_versions``) in
the same transaction as the changes, so a rerun reports them again and changes
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from app.catalog.actions import apply_spec
from app.catalog.models import AppliedStandardVersion, Procedure
from app.catalog.specs import applies_to, tenant_view
from app.catalog.standard_models import (
    APPLIED,
    CONFLICTED,
    DONE,
    FAILED,
    KEPT,
    PUBLISHED,
    RESULTS,
    UNCHANGED,
    StandardProcedure,
    StandardRollout,
    StandardVersion,
)


class PublishedSpecs:
    """Specs of a catalogue's published versions as one unit sees them, loaded on demand."""

    def __init__(self, platform_session: Session, catalog_id: int, slug: str) -> None:
        self.session, self.catalog_id, self.slug = platform_session, catalog_id, slug
        self._cache: dict[int, dict[str, dict[str, Any]]] = {}

    def __call__(self, number: int | None) -> dict[str, dict[str, Any]]:
        if number is None:
            return {}
        if number not in self._cache:
            rows = self.session.execute(
                select(StandardProcedure.code, StandardProcedure.spec)
                .join(StandardVersion, StandardVersion.id == StandardProcedure.version_id)
                .where(
                    StandardVersion.catalog_id == self.catalog_id,
                    StandardVersion.number == number,
                    StandardVersion.status == PUBLISHED,
                )
            )
            self._cache[number] = {
                code: tenant_view(spec) for code, spec in rows if applies_to(spec, self.slug)
            }
        return self._cache[number]


# Rows read after the lock are taken as the database has them, not as this session last saw them.
_FRESH = {"populate_existing": True}


def lock_unit(session: Session, slug: str) -> None:
    """Wait for, then hold until commit, the unit's rollout lock (a key stable across processes)."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"motcua.catalog.rollout:{slug}"},
    )


def _entry(code: str, name: str, result: str, action: str) -> dict[str, str]:
    return {"code": code, "name": name, "result": result, "action": action}


def apply_standard_version(
    session: Session, specs: PublishedSpecs, number: int
) -> tuple[list[dict[str, str]], str | None]:
    """Apply version ``number`` to the unit behind ``session``; returns (results, note).

    Rollouts of one unit run one at a time (a transaction-level advisory lock on
    the unit), so two versions never interleave; the ledger is read only once the
    lock is held, and the procedures it may change are locked against the admin's
    edits until the commit.
    """
    lock_unit(session, specs.slug)
    recorded = session.get(AppliedStandardVersion, number, populate_existing=True)
    if recorded is not None:
        return list(recorded.results), None
    newest = session.scalar(select(func.max(AppliedStandardVersion.version)))
    if newest is not None and newest > number:
        note = f"Đơn vị đã áp dụng phiên bản {newest} mới hơn / superseded by version {newest}"
        return [], note

    target = specs(number)
    mine = select(Procedure).where(or_(Procedure.code.in_(target), Procedure.standard_version.is_not(None)))
    procedures = {p.code: p for p in session.scalars(mine.with_for_update(), execution_options=_FRESH)}
    codes = sorted(set(target) | {c for c, p in procedures.items() if p.standard_version is not None})
    results: list[dict[str, str]] = []
    for code in codes:
        new, procedure = target.get(code), procedures.get(code)
        if procedure is None:
            apply_spec(session, None, new).standard_version = number
            results.append(_entry(code, new["name"], APPLIED, "created"))
        elif procedure.standard_version is None:
            # The unit's own procedure holds a code the standard now offers: the unit decides.
            procedure.pending_standard_version = number
            results.append(_entry(code, procedure.name, CONFLICTED, "flagged"))
        else:
            results.append(
                _reconcile(session, procedure, specs(procedure.standard_version).get(code), new, number)
            )
    session.add(AppliedStandardVersion(version=number, results=results))
    session.flush()
    return results, None


def _reconcile(
    session: Session, procedure: Procedure, base: dict | None, new: dict | None, number: int
) -> dict[str, str]:
    changed = base != new
    code, name = procedure.code, procedure.name
    if procedure.is_overridden and changed:
        procedure.pending_standard_version = number
        return _entry(code, name, CONFLICTED, "flagged")
    # Any other outcome settles the procedure at this version: an older flag would
    # otherwise survive, and accepting "the standard" would apply that older version.
    procedure.pending_standard_version = None
    if procedure.is_overridden:
        procedure.standard_version = number
        return _entry(code, name, KEPT, "none")
    if not changed:
        procedure.standard_version = number
        return _entry(code, name, UNCHANGED, "none")
    procedure.standard_version = number
    if new is None:
        procedure.is_active = False
        return _entry(code, name, APPLIED, "deactivated")
    action = "updated" if procedure.is_active else "reactivated"
    apply_spec(session, procedure, new)
    procedure.is_active = True
    return _entry(code, new["name"], APPLIED, action)


def perform_rollout(
    tenant_session: Session, platform_session: Session, rollout: StandardRollout, slug: str
) -> None:
    """Run one rollout and record its outcome on the rollout row (both sessions, no commit).

    A failure rolls the unit's changes back and records the error: the rollout is
    ``failed`` and can be retried; other units are not affected.
    """
    version = rollout.version
    rollout.attempts += 1
    try:
        specs = PublishedSpecs(platform_session, version.catalog_id, slug)
        results, note = apply_standard_version(tenant_session, specs, version.number)
        tenant_session.flush()
    except Exception as exc:  # any failure of this unit is reported on its row
        tenant_session.rollback()
        rollout.status = FAILED
        rollout.error = f"{type(exc).__name__}: {exc}"[:2000]
        rollout.finished_at = datetime.now(UTC)
        return
    counts = {result: 0 for result in RESULTS}
    for entry in results:
        counts[entry["result"]] += 1
    rollout.results = results
    rollout.applied, rollout.kept = counts[APPLIED], counts[KEPT]
    rollout.conflicted, rollout.unchanged = counts[CONFLICTED], counts[UNCHANGED]
    rollout.status = DONE
    rollout.error = note
    rollout.finished_at = datetime.now(UTC)
