"""Officials and units (DOMAIN.md §4.2): per official and per unit, how the steps they held went.

Reads the platform reporting store only (``report_steps``, ``report_dossiers``), so a district
leader's report over its communes never opens a tenant schema. Names come from platform accounts.

Definitions for a period [start, end] (Asia/Ho_Chi_Minh days, both inclusive):
- received: steps that *started* in the period — finished steps by ``started_at`` plus the
  step an open dossier is in now (``current_step_started_at``);
- early / on time / late: finished steps *handed over* in the period, by their class;
- held within / over: open dossiers the official holds *now*; over = the step deadline has passed
  and the dossier is not paused (a paused dossier's clock is stopped);
- average step hours vs budget hours: over steps handed over in the period, the mean of
  handed_over_at - started_at and of due_at - started_at (steps with a deadline only);
- supplements requested: a supplement pause that *started* in the period, attributed to the
  official who held the dossier at that moment (the finished step spanning the pause start,
  else the current step when it started before the pause);
- apologies caused: a form 04 letter has no time in the store, so it is attributed to the holder
  of the dossier's first step finished late (the delay that made the apology necessary), else to
  the current holder of the open dossier; it counts in the period when that late step was handed
  over (or, for the current holder, when the dossier is still open at the end of the period).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Account
from app.calendar.workcal import VN_TZ
from app.reports.models import ReportDossier, ReportStep
from app.reports.periods import Period
from tenants.models import Tenant


@dataclass
class OfficialRow:
    """One official in one unit (``account_id`` None: the unit's total row)."""

    tenant_id: int
    unit_name: str
    account_id: int | None
    name: str
    received: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    unclassified: int = 0  # handed over without a step deadline
    held_within: int = 0
    held_over: int = 0
    supplements: int = 0
    apologies: int = 0
    step_seconds: float = 0.0
    budget_seconds: float = 0.0
    budget_steps: int = 0

    @property
    def done(self) -> int:
        return self.early + self.on_time + self.late + self.unclassified

    @property
    def on_time_rate(self) -> float | None:
        classified = self.early + self.on_time + self.late
        return (self.early + self.on_time) / classified if classified else None

    @property
    def avg_step_hours(self) -> float | None:
        return self.step_seconds / self.done / 3600 if self.done else None

    @property
    def avg_budget_hours(self) -> float | None:
        return self.budget_seconds / self.budget_steps / 3600 if self.budget_steps else None

    def add(self, other: OfficialRow) -> None:
        for name in (
            "received",
            "early",
            "on_time",
            "late",
            "unclassified",
            "held_within",
            "held_over",
            "supplements",
            "apologies",
            "step_seconds",
            "budget_seconds",
            "budget_steps",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    """[first instant, first instant after) of the period's days in Asia/Ho_Chi_Minh."""
    start = datetime.combine(period.start, time(0), tzinfo=VN_TZ)
    return start, datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=VN_TZ)


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def _steps(session: Session, tenant_ids: list[int], start: datetime, end: datetime):
    """Finished steps that started or were handed over in the period (one query)."""
    return session.execute(
        select(
            ReportStep.tenant_id,
            ReportStep.dossier_id,
            ReportStep.account_id,
            ReportStep.started_at,
            ReportStep.due_at,
            ReportStep.handed_over_at,
            ReportStep.on_time_class,
        ).where(
            ReportStep.tenant_id.in_(tenant_ids),
            ((ReportStep.handed_over_at >= start) & (ReportStep.handed_over_at < end))
            | ((ReportStep.started_at >= start) & (ReportStep.started_at < end)),
        )
    ).all()


def _dossiers_with_events(session: Session, tenant_ids: list[int], end: datetime):
    """Open dossiers (who holds what now), and those with supplements or apologies received by the end."""
    return session.execute(
        select(
            ReportDossier.tenant_id,
            ReportDossier.dossier_id,
            ReportDossier.closed_kind,
            ReportDossier.closed_at,
            ReportDossier.paused_kind,
            ReportDossier.pauses,
            ReportDossier.supplements,
            ReportDossier.apologies,
            ReportDossier.current_account_id,
            ReportDossier.current_step_started_at,
            ReportDossier.current_step_due_at,
        ).where(
            ReportDossier.tenant_id.in_(tenant_ids),
            ReportDossier.closed_kind.is_(None)
            | (
                (ReportDossier.received_at < end)
                & ((ReportDossier.supplements > 0) | (ReportDossier.apologies > 0))
            ),
        )
    ).all()


def _all_steps_of(session: Session, keys: set[tuple[int, int]]):
    """Every finished step of the given dossiers, oldest first (attribution of pauses and letters)."""
    by_dossier: dict[tuple[int, int], list] = defaultdict(list)
    if not keys:
        return by_dossier
    tenant_ids = sorted({t for t, _ in keys})
    dossier_ids = sorted({d for _, d in keys})
    rows = session.execute(
        select(
            ReportStep.tenant_id,
            ReportStep.dossier_id,
            ReportStep.account_id,
            ReportStep.started_at,
            ReportStep.handed_over_at,
            ReportStep.on_time_class,
        )
        .where(ReportStep.tenant_id.in_(tenant_ids), ReportStep.dossier_id.in_(dossier_ids))
        .order_by(ReportStep.handed_over_at, ReportStep.started_at)
    ).all()
    for row in rows:
        if (row.tenant_id, row.dossier_id) in keys:
            by_dossier[(row.tenant_id, row.dossier_id)].append(row)
    return by_dossier


def _parse(value) -> datetime | None:
    if not value:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _holder_at(at: datetime, steps: list, dossier) -> int | None:
    """Who held the dossier at ``at``: the finished step spanning it, else the current step."""
    for step in steps:
        if step.started_at is not None and step.started_at <= at <= step.handed_over_at:
            return step.account_id
    started = dossier.current_step_started_at
    if dossier.closed_kind is None and (started is None or started <= at):
        return dossier.current_account_id
    return None


def _apology_holder(steps: list, dossier, start: datetime, end: datetime) -> int | bool | None:
    """The official an apology is attributed to in the period; False when it falls outside it."""
    for step in steps:
        if step.on_time_class == "late":
            return step.account_id if _in(step.handed_over_at, start, end) else False
    open_at_end = dossier.closed_kind is None or (dossier.closed_at is not None and dossier.closed_at >= end)
    if dossier.closed_kind is None and open_at_end:
        return dossier.current_account_id
    return False


def _rows(
    session: Session, tenant_ids: list[int], period: Period, now: datetime
) -> dict[tuple[int, int | None], OfficialRow]:
    start, end = period_bounds(period)
    rows: dict[tuple[int, int | None], OfficialRow] = {}

    def row(tenant_id: int, account_id: int | None) -> OfficialRow:
        key = (tenant_id, account_id)
        if key not in rows:
            rows[key] = OfficialRow(tenant_id, "", account_id, "")
        return rows[key]

    for step in _steps(session, tenant_ids, start, end):
        target = row(step.tenant_id, step.account_id)
        if _in(step.started_at, start, end):
            target.received += 1
        if not _in(step.handed_over_at, start, end):
            continue
        cls = step.on_time_class if step.on_time_class in ("early", "on_time", "late") else "unclassified"
        setattr(target, cls, getattr(target, cls) + 1)
        if step.started_at is not None:
            target.step_seconds += (step.handed_over_at - step.started_at).total_seconds()
            if step.due_at is not None:
                target.budget_seconds += (step.due_at - step.started_at).total_seconds()
                target.budget_steps += 1

    dossiers = _dossiers_with_events(session, tenant_ids, end)
    history = _all_steps_of(
        session, {(d.tenant_id, d.dossier_id) for d in dossiers if d.supplements or d.apologies}
    )
    for d in dossiers:
        if d.closed_kind is None and d.current_account_id is not None:
            holder = row(d.tenant_id, d.current_account_id)
            if _in(d.current_step_started_at, start, end):
                holder.received += 1
            if d.current_step_due_at is not None and d.current_step_due_at < now and d.paused_kind is None:
                holder.held_over += 1
            else:
                holder.held_within += 1
        steps = history.get((d.tenant_id, d.dossier_id), [])
        for pause in d.pauses or []:
            began = _parse(pause.get("start"))
            if pause.get("kind") == "supplement" and _in(began, start, end):
                row(d.tenant_id, _holder_at(began, steps, d)).supplements += 1
        if d.apologies:
            who = _apology_holder(steps, d, start, end)
            if who is not False:
                row(d.tenant_id, who).apologies += d.apologies
    return rows


def officials_report(
    platform_session: Session, tenant_ids: list[int], period: Period, now: datetime | None = None
) -> list[OfficialRow]:
    """Per unit: one row per official, then the unit's total row (``account_id`` None, name "Cả đơn vị").

    Work nobody can be named for (no actor recorded) is in the unit total only.
    """
    if not tenant_ids:
        return []
    now = now or datetime.now(VN_TZ)
    rows = _rows(platform_session, list(tenant_ids), period, now)
    units = dict(
        platform_session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(list(tenant_ids)))).all()
    )
    account_ids = {a for _, a in rows if a is not None}
    names = (
        dict(
            platform_session.execute(
                select(Account.id, Account.full_name).where(Account.id.in_(account_ids))
            ).all()
        )
        if account_ids
        else {}
    )
    by_unit: dict[int, list[OfficialRow]] = defaultdict(list)
    for (tenant_id, _), row in rows.items():
        by_unit[tenant_id].append(row)
    out: list[OfficialRow] = []
    for tenant_id in sorted(units, key=lambda t: units[t]):
        mine = by_unit[tenant_id]
        total = OfficialRow(tenant_id, units[tenant_id], None, "Cả đơn vị / Whole unit")
        named = []
        for r in mine:
            total.add(r)
            if r.account_id is not None:
                r.unit_name = units[tenant_id]
                r.name = names.get(r.account_id, f"#{r.account_id}")
                named.append(r)
        out.extend(sorted(named, key=lambda r: (r.name, r.account_id)))
        out.append(total)
    return out
