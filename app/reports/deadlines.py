"""Due-soon and overdue lists for leaders (DOMAIN.md §4.2, C2's "Hồ sơ tới hạn / quá hạn").

Over every unit the leader may see, from the platform store only: dossier code, unit, procedure,
the official holding it now and the due date. No applicant data (the store has none).

- overdue: open, not paused now, ``due_at`` already passed (the legal, pause-adjusted date; a form 04
  re-appointment does not clear lateness, the new date is shown beside it);
- due soon: open, not paused, not yet overdue, and due no later than the end of the
  ``within_working_days``-th working day after today. Working days are the *national* calendar
  (weekends, public holidays, make-up Saturdays): a list across many units must not open each
  unit's schema for its own days off, and those rarely differ from the national ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Account
from app.calendar.workcal import VN_TZ, WorkCalendar
from app.reports.models import ReportDossier
from tenants.models import Tenant

LIMIT = 500  # a list longer than this is cut; the page says so


@dataclass(frozen=True)
class DeadlineRow:
    tenant_id: int
    unit_name: str
    dossier_id: int
    code: str | None
    procedure_name: str | None
    holder_account_id: int | None
    holder_name: str | None
    due_at: datetime
    rescheduled_due_at: datetime | None
    step_due_at: datetime | None


def last_due_day(today: date, within_working_days: int, calendar: WorkCalendar | None = None) -> date:
    """The day ``within_working_days`` working days after ``today`` (today itself when 0)."""
    calendar = calendar or WorkCalendar()
    day = today
    for _ in range(max(within_working_days, 0)):
        day = calendar.next_working_day(day)
    return day


def _rows(session: Session, tenant_ids: list[int], *conditions) -> list[DeadlineRow]:
    if not tenant_ids:
        return []
    d = ReportDossier
    found = session.execute(
        select(
            d.tenant_id,
            Tenant.name,
            d.dossier_id,
            d.code,
            d.procedure_name,
            d.current_account_id,
            Account.full_name,
            d.due_at,
            d.rescheduled_due_at,
            d.current_step_due_at,
        )
        .join(Tenant, Tenant.id == d.tenant_id)
        .outerjoin(Account, Account.id == d.current_account_id)
        .where(
            d.tenant_id.in_(list(tenant_ids)),
            d.closed_kind.is_(None),
            d.paused_kind.is_(None),
            d.due_at.is_not(None),
            *conditions,
        )
        .order_by(d.due_at, d.tenant_id, d.dossier_id)
        .limit(LIMIT)
    ).all()
    return [DeadlineRow(*row) for row in found]


def overdue(session: Session, tenant_ids: list[int], now: datetime) -> list[DeadlineRow]:
    """Open dossiers past their due date, oldest due first."""
    return _rows(session, tenant_ids, ReportDossier.due_at < now)


def due_soon(
    session: Session, tenant_ids: list[int], now: datetime, within_working_days: int = 1
) -> list[DeadlineRow]:
    """Open dossiers not yet overdue, due by the end of the ``within_working_days``-th next working day."""
    today = now.astimezone(VN_TZ).date()
    last = last_due_day(today, within_working_days)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=VN_TZ)
    return _rows(session, tenant_ids, ReportDossier.due_at >= now, ReportDossier.due_at < until)
