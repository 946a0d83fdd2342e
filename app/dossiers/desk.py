"""Who acts on a dossier, and where: the actor, the unit's session and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.access import Forbidden
from app.auth.roles import role_labels
from app.calendar.workcal import VN_TZ, WorkCalendar, unit_calendar
from app.core.db import Platform, get_platform
from app.core.errors import DomainError
from app.dossiers.status import APPLICANT, STEP, Transition
from app.officials.models import OfficialAssignment
from app.officials.services import officials_for_step
from app.officials.settings import get_setting
from app.processes.models import ProcessStep
from tenants.resolution import TenantRef


@dataclass(frozen=True)
class Actor:
    """An official with their roles in this unit, an applicant, or the system (account_id None)."""

    account_id: int | None
    roles: frozenset[str] = frozenset()
    name: str = ""
    is_applicant: bool = False

    @classmethod
    def official(cls, account_id: int, roles, name: str = "") -> Actor:
        return cls(account_id, frozenset(roles or ()), name)

    @classmethod
    def applicant(cls, account_id: int | None = None, name: str = "") -> Actor:
        return cls(account_id, frozenset(), name, is_applicant=True)


@dataclass
class Desk:
    """The unit's session, the unit itself and "now"; the calendar is loaded once, when first needed."""

    session: Session
    tenant: TenantRef
    now: datetime = field(default_factory=lambda: datetime.now(VN_TZ))
    _calendar: WorkCalendar | None = None
    # The platform (memberships); the app's when None. Scripts and tests without an app pass it.
    platform: Platform | None = None

    def platform_session(self) -> Session:
        return (self.platform or get_platform()).shards.platform_session()

    @property
    def calendar(self) -> WorkCalendar:
        if self._calendar is None:
            self._calendar = unit_calendar(self.session)
        return self._calendar

    def setting(self, key: str):
        return get_setting(self.session, key)


class InvalidAssignee(DomainError):
    status = 422


def check_assignee(desk: Desk, step, account_id: int) -> None:
    """A dossier handed to a named official must go to someone who may take the step, or it would be stuck."""
    with desk.platform_session() as platform_session:
        candidates = officials_for_step(
            platform_session,
            desk.session,
            desk.tenant.id,
            step.role,
            step.division_id,
            step.account_ids or (),
        )
    if account_id not in {c.account_id for c in candidates}:
        raise InvalidAssignee(
            f"Người nhận không phải cán bộ có thể xử lý bước “{step.name}” của đơn vị.",
            f"The receiver is not an official of this unit who may take step “{step.name}”.",
            errors={"to_account_id": {"vi": "không nhận được bước này", "en": "may not take this step"}},
        )


def may_act_on_step(session: Session, actor: Actor, step: ProcessStep, assigned_to: int | None) -> bool:
    """Holds the step's role, sits in its division (if it names one), is named (if it names people)."""
    if actor.account_id is None or step.role not in actor.roles:
        return False
    if assigned_to is not None and assigned_to != actor.account_id:
        return False
    if step.account_ids and actor.account_id not in step.account_ids:
        return False
    if step.division_id is None:
        return True
    placed = session.scalar(
        select(OfficialAssignment.id).where(
            OfficialAssignment.account_id == actor.account_id,
            OfficialAssignment.division_id == step.division_id,
            OfficialAssignment.is_active,
        )
    )
    return placed is not None


def check_actor(
    session: Session,
    actor: Actor,
    transition: Transition,
    step: ProcessStep | None,
    assigned_to: int | None,
    applicant_account_id: int | None,
) -> None:
    """403 unless ``actor`` may take ``transition`` on a dossier at ``step``."""
    if actor.is_applicant:
        if APPLICANT in transition.actors and (
            applicant_account_id is None or applicant_account_id == actor.account_id
        ):
            return
    elif actor.roles & transition.actors or (
        STEP in transition.actors and step is not None and may_act_on_step(session, actor, step, assigned_to)
    ):
        return
    raise _forbidden(transition, step, assigned_to, actor)


def _forbidden(transition: Transition, step: ProcessStep | None, assigned_to: int | None, actor: Actor):
    who = [role_labels(role) for role in sorted(transition.actors - {STEP, APPLICANT})]
    if STEP in transition.actors and step is not None:
        who.append(role_labels(step.role))
        if assigned_to is not None and assigned_to != actor.account_id:
            return Forbidden(
                f"Hồ sơ đang được giao cho cán bộ khác ở bước “{step.name}”.",
                f"The dossier is assigned to another official at step “{step.name}”.",
            )
    names_vi = ", ".join(vi for vi, _ in who) or "người nộp hồ sơ"
    names_en = ", ".join(en for _, en in who) or "the applicant"
    where_vi = f" ở bước “{step.name}”" if step is not None else ""
    where_en = f" at step “{step.name}”" if step is not None else ""
    return Forbidden(
        f"Bạn không thể “{transition.vi}”{where_vi}: cần vai trò {names_vi} "
        "(và thuộc phòng ban của bước, nếu có).",
        f"You may not “{transition.en}”{where_en}: it needs {names_en} (in the step's division, if any).",
    )
