"""Dashboard figures for leaders and the city: volume by month and channel, on-time rate per unit,
online share by unit kind, and the age of the open backlog. Platform store only.

Definitions follow the 06 report (design7.md): received by ``received_day`` and channel;
on-time rate = (early + on time) / completed in the period; online share = online / received.
Backlog age = days from the received day to ``today`` of dossiers open now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.reports.models import ReportDaily, ReportDossier
from app.reports.periods import Period
from tenants.models import Tenant

KINDS: dict[str, tuple[str, str]] = {
    "city": ("Thành phố", "City"),
    "department": ("Sở, ban, ngành", "Departments"),
    "district": ("Quận, huyện", "Districts"),
    "commune": ("Xã, phường", "Communes"),
}
# (upper bound in days inclusive or None, vi, en)
AGE_BUCKETS: tuple[tuple[int | None, str, str], ...] = (
    (7, "≤ 7 ngày", "≤ 7 days"),
    (30, "8–30 ngày", "8–30 days"),
    (90, "31–90 ngày", "31–90 days"),
    (None, "> 90 ngày", "> 90 days"),
)


@dataclass(frozen=True)
class MonthVolume:
    month: date  # first day
    counter: int
    online: int
    postal: int

    @property
    def label(self) -> str:
        return f"{self.month:%m/%Y}"


@dataclass(frozen=True)
class UnitRate:
    tenant_id: int
    name: str
    resolved: int
    in_time: int

    @property
    def rate(self) -> float | None:
        return self.in_time / self.resolved if self.resolved else None


@dataclass(frozen=True)
class KindShare:
    kind: str
    received: int
    online: int

    @property
    def share(self) -> float | None:
        return self.online / self.received if self.received else None


def months_back(today: date, count: int = 12) -> Period:
    """The last ``count`` calendar months up to and including today's month."""
    year, month = today.year, today.month - (count - 1)
    while month < 1:
        month += 12
        year -= 1
    return Period(date(year, month, 1), today)


def volume_by_month(session: Session, tenant_ids: list[int], period: Period) -> list[MonthVolume]:
    """Dossiers received per calendar month of the period, by channel (every month listed)."""
    if not tenant_ids:
        return []
    month = func.date_trunc("month", ReportDaily.day)
    found = {
        row[0].date() if hasattr(row[0], "date") else row[0]: row[1:]
        for row in session.execute(
            select(
                month,
                func.sum(ReportDaily.received_counter),
                func.sum(ReportDaily.received_online),
                func.sum(ReportDaily.received_postal),
            )
            .where(
                ReportDaily.tenant_id.in_(list(tenant_ids)), ReportDaily.day.between(period.start, period.end)
            )
            .group_by(month)
        ).all()
    }
    out = []
    cursor = date(period.start.year, period.start.month, 1)
    while cursor <= period.end:
        counter, online, postal = found.get(cursor, (0, 0, 0))
        out.append(MonthVolume(cursor, int(counter or 0), int(online or 0), int(postal or 0)))
        cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
    return out


def on_time_by_unit(session: Session, tenant_ids: list[int], period: Period) -> list[UnitRate]:
    """Per unit: completed in the period and how many early or on time; units with none included."""
    if not tenant_ids:
        return []
    d = ReportDaily
    rows = session.execute(
        select(
            Tenant.id,
            Tenant.name,
            func.coalesce(func.sum(d.completed_early + d.completed_on_time + d.completed_late), 0),
            func.coalesce(func.sum(d.completed_early + d.completed_on_time), 0),
        )
        .select_from(Tenant)
        .outerjoin(d, (d.tenant_id == Tenant.id) & d.day.between(period.start, period.end))
        .where(Tenant.id.in_(list(tenant_ids)))
        .group_by(Tenant.id, Tenant.name)
        .order_by(Tenant.name)
    ).all()
    return [UnitRate(t, name, int(resolved), int(in_time)) for t, name, resolved, in_time in rows]


def online_share_by_kind(session: Session, tenant_ids: list[int], period: Period) -> list[KindShare]:
    """Per kind of unit (department, district, commune …): received in the period and online."""
    if not tenant_ids:
        return []
    d = ReportDaily
    rows = dict(
        (kind, (int(total or 0), int(online or 0)))
        for kind, total, online in session.execute(
            select(
                Tenant.kind,
                func.sum(d.received_counter + d.received_online + d.received_postal),
                func.sum(d.received_online),
            )
            .join(Tenant, Tenant.id == d.tenant_id)
            .where(d.tenant_id.in_(list(tenant_ids)), d.day.between(period.start, period.end))
            .group_by(Tenant.kind)
        ).all()
    )
    kinds = set(session.scalars(select(Tenant.kind).where(Tenant.id.in_(list(tenant_ids))).distinct()))
    return [KindShare(kind, *rows.get(kind, (0, 0))) for kind in KINDS if kind in kinds]


def backlog_ageing(session: Session, tenant_ids: list[int], today: date) -> list[tuple[str, str, int]]:
    """Open dossiers by how long ago they were received: [(vi, en, count)] for each bucket."""
    if not tenant_ids:
        return [(vi, en, 0) for _, vi, en in AGE_BUCKETS]
    age = today - ReportDossier.received_day
    bucket = case(
        *[(age <= bound, i) for i, (bound, _, _) in enumerate(AGE_BUCKETS) if bound is not None],
        else_=len(AGE_BUCKETS) - 1,
    )
    counts = dict(
        session.execute(
            select(bucket, func.count())
            .where(
                ReportDossier.tenant_id.in_(list(tenant_ids)),
                ReportDossier.closed_kind.is_(None),
                ReportDossier.received_day.is_not(None),
            )
            .group_by(bucket)
        ).all()
    )
    return [(vi, en, int(counts.get(i, 0))) for i, (_, vi, en) in enumerate(AGE_BUCKETS)]


# --- public statistics (no personal data: counts only) -----------------------------------

SATISFACTION: dict[int, tuple[str, str]] = {
    5: ("Rất hài lòng", "Very satisfied"),
    4: ("Hài lòng", "Satisfied"),
    3: ("Bình thường", "Neutral"),
    2: ("Không hài lòng", "Not satisfied"),
    1: ("Rất không hài lòng", "Very unsatisfied"),
}


@dataclass(frozen=True)
class LevelRow:
    level: int | None
    received: int
    resolved: int
    pending: int
    early: int
    on_time: int
    late: int

    def share(self, part: int) -> float | None:
        return part / self.resolved if self.resolved else None


@dataclass(frozen=True)
class PublicStats:
    period: Period
    levels: list[LevelRow]
    total: LevelRow
    procedures_by_level: dict[int, int]
    satisfaction: list[tuple[int, int]]  # (rating level, dossiers) for each level that has a label

    @property
    def procedures(self) -> int:
        return sum(self.procedures_by_level.values())

    @property
    def rated(self) -> int:
        return sum(n for _, n in self.satisfaction)


def public_statistics(session: Session, tenant_ids: list[int], period: Period) -> PublicStats:
    """Per service level: received and resolved in the period, pending at its end, early/on time/late;
    the share of active procedures at each level (city catalogue index); ratings of the period's
    completed dossiers by level."""
    from app.catalog.index_models import ProcedureIndex

    d = ReportDossier
    ids = list(tenant_ids) or [-1]
    completed = (d.closed_kind == "completed") & d.closed_day.between(period.start, period.end)
    pending = (d.received_day <= period.end) & (d.closed_day.is_(None) | (d.closed_day > period.end))
    found = session.execute(
        select(
            d.service_level,
            func.count().filter(d.received_day.between(period.start, period.end)),
            func.count().filter(completed),
            func.count().filter(pending),
            func.count().filter(completed & (d.on_time_class == "early")),
            func.count().filter(completed & (d.on_time_class == "on_time")),
            func.count().filter(completed & (d.on_time_class == "late")),
        )
        .where(d.tenant_id.in_(ids))
        .group_by(d.service_level)
        .order_by(d.service_level.nulls_last())
    ).all()
    levels = [LevelRow(row[0], *(int(v) for v in row[1:])) for row in found if any(row[1:])]
    total = LevelRow(
        None, *(sum(getattr(r, f) for r in levels) for f in LevelRow.__dataclass_fields__ if f != "level")
    )
    by_level = dict(
        session.execute(
            select(ProcedureIndex.level, func.count())
            .where(ProcedureIndex.tenant_id.in_(ids), ProcedureIndex.is_active)
            .group_by(ProcedureIndex.level)
        ).all()
    )
    ratings = dict(
        session.execute(
            select(d.rating_level, func.count())
            .where(d.tenant_id.in_(ids), completed, d.rating_level.is_not(None))
            .group_by(d.rating_level)
        ).all()
    )
    return PublicStats(
        period,
        levels,
        total,
        {level: int(by_level.get(level, 0)) for level in (1, 2, 3, 4)},
        [(level, int(ratings.get(level, 0))) for level in SATISFACTION],
    )
