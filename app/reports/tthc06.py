"""The periodic report on handling administrative procedures (form 06 family, Circular 01/2018
and Decree 09/2019): per unit, received / resolved / pending in a period.

``report_06`` reads the daily rollup only (one query, sums with FILTER per column, grouped by unit),
so a city-wide quarter is a few thousand rows' read. ``breakdown_06`` reads the dossier facts and
groups them another way (sector, procedure, level, channel, unit) using the same definitions,
written as conditions on the facts' days, so its totals equal the report's (tests hold it).

Definitions for a period [start, end] (days in Asia/Ho_Chi_Minh, both ends inclusive):
carried = open at the end of start-1; new_* = received in the period by channel;
early/on_time/late = completed in the period by class; withdrawn/stopped = closed that way in the
period; pending = open at the end of ``end``; pending_over = over its deadline then; supplement /
financial = in such a pause then. total = carried + new = resolved + withdrawn + stopped + pending.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta

from sqlalchemy import DateTime, and_, cast, column, func, literal, literal_column, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB

from app.calendar.workcal import VN_TZ
from app.reports.models import ReportDaily, ReportDossier
from app.reports.periods import Period
from tenants.models import Tenant

CHANNELS = {
    1: ("Trực tiếp", "At the counter"),
    2: ("Trực tuyến", "Online"),
    3: ("Qua BCCI", "By post (BCCI)"),
}
BY = {
    "unit": ("Đơn vị", "Unit"),
    "sector": ("Lĩnh vực", "Sector"),
    "procedure": ("Thủ tục", "Procedure"),
    "level": ("Mức độ dịch vụ", "Service level"),
    "channel": ("Kênh tiếp nhận", "Channel"),
}


@dataclass
class Row06:
    carried: int = 0
    new_online: int = 0
    new_counter: int = 0
    new_postal: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    withdrawn: int = 0
    stopped: int = 0
    pending: int = 0
    pending_over: int = 0
    supplement: int = 0
    financial: int = 0

    @property
    def new(self) -> int:
        return self.new_online + self.new_counter + self.new_postal

    @property
    def total(self) -> int:
        return self.carried + self.new

    @property
    def resolved(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def pending_within(self) -> int:
        return self.pending - self.pending_over

    @property
    def on_time_rate(self) -> float | None:
        return (self.early + self.on_time) / self.resolved if self.resolved else None

    @property
    def online_rate(self) -> float | None:
        return self.new_online / self.new if self.new else None

    def __add__(self, other: Row06) -> Row06:
        return Row06(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> dict[str, int | float | None]:
        """Every stored column and every derived one (JSON, exports)."""
        values: dict[str, int | float | None] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("new", "total", "resolved", "pending_within", "on_time_rate", "online_rate"):
            values[name] = getattr(self, name)
        return values


COLUMNS = tuple(f.name for f in fields(Row06))


def total_of(rows) -> Row06:
    result = Row06()
    for row in rows:
        result = result + row
    return result


# --- from the daily rollup -----------------------------------------------------------


def _rollup_columns(start, end):
    """Row06's columns as sums over report_daily rows up to ``end`` (FILTER by day where it matters)."""
    d = ReportDaily
    in_period = d.day >= start

    def total(col, where=None):
        summed = func.sum(col) if where is None else func.sum(col).filter(where)
        return func.coalesce(summed, 0)

    return {
        "carried": total(d.open_delta, d.day < start),
        "new_online": total(d.received_online, in_period),
        "new_counter": total(d.received_counter, in_period),
        "new_postal": total(d.received_postal, in_period),
        "early": total(d.completed_early, in_period),
        "on_time": total(d.completed_on_time, in_period),
        "late": total(d.completed_late, in_period),
        "withdrawn": total(d.withdrawn, in_period),
        "stopped": total(d.stopped, in_period),
        "pending": total(d.open_delta),
        "pending_over": total(d.overdue_delta),
        "supplement": total(d.supplement_delta),
        "financial": total(d.financial_delta),
    }


def report_06(platform_session, tenant_ids, period: Period) -> dict[int, Row06]:
    """Row06 per unit of ``tenant_ids`` (a unit without any fact gets a row of zeros)."""
    ids = sorted({int(i) for i in tenant_ids})
    result = {tenant_id: Row06() for tenant_id in ids}
    if not ids:
        return result
    columns = _rollup_columns(period.start, period.end)
    query = (
        select(ReportDaily.tenant_id, *(c.label(name) for name, c in columns.items()))
        .where(ReportDaily.tenant_id.in_(ids), ReportDaily.day <= period.end)
        .group_by(ReportDaily.tenant_id)
    )
    for row in platform_session.execute(query).mappings():
        result[row["tenant_id"]] = Row06(**{name: int(row[name]) for name in COLUMNS})
    return result


# --- from the dossier facts: the same definitions as conditions ----------------------


def _pause_sums(key, start, end):
    """Per ``key``: the pauses of each kind running at the end of ``end`` (the rollup's rule).

    Pauses are intervals inside a fact, so they are summed over a lateral unnesting of the paused
    facts only. A pause's local start day is <= ``end`` exactly when it began before the next local
    midnight, which spares a time-zone conversion per pause.
    """
    midnight = datetime.combine(end + timedelta(days=1), time(0), tzinfo=VN_TZ)
    p = func.jsonb_array_elements(ReportDossier.pauses).table_valued(column("value", JSONB)).lateral("p")
    began, ended = p.c.value["start"].astext, p.c.value["end"].astext
    running = and_(
        cast(began, DateTime(timezone=True)) < midnight,
        or_(ended.is_(None), cast(ended, DateTime(timezone=True)) >= midnight),
    )
    kind = p.c.value["kind"].astext
    f = ReportDossier
    # Open past its due day but paused at the end: not over (the rollup cuts pauses out of overdue).
    paused_over = and_(running, f.overdue_from_day <= end, or_(f.closed_day.is_(None), f.closed_day > end))
    return select(
        key.label("key"),
        *(
            func.count().filter(and_(running, kind == name)).label(name)
            for name in ("supplement", "financial")
        ),
        func.count().filter(paused_over).label("paused_over"),
    ).select_from(ReportDossier.__table__.join(p, true())), _relevant(start, end)


# The empty array written out: a bound "[]" goes through JSONB's encoder and becomes the JSON
# string '"[]"', which every fact differs from (then every fact looked paused).
_HAS_PAUSES = ReportDossier.pauses != literal_column("'[]'::jsonb")


def _relevant(start, end):
    """Facts that can count in the period: received by its end; open at its start, closed later, or paused.

    A fact closed before the period only matters through a pause left running (the rollup counts it).
    """
    f = ReportDossier
    return and_(f.received_day <= end, or_(f.closed_day.is_(None), f.closed_day >= start, _HAS_PAUSES))


def _fact_columns(start, end):
    """Row06's columns as counts of facts meeting the same definitions as the rollup's sums."""
    f = ReportDossier
    received_in = f.received_day.between(start, end)
    closed_in = f.closed_day.between(start, end)
    open_at_end = or_(f.closed_day.is_(None), f.closed_day > end)

    def completed(cls):
        return and_(f.closed_kind == "completed", f.on_time_class == cls, closed_in)

    conditions = {
        "carried": and_(f.received_day < start, or_(f.closed_day.is_(None), f.closed_day >= start)),
        "new_online": and_(received_in, f.channel == 2),
        "new_counter": and_(received_in, f.channel == 1),
        "new_postal": and_(received_in, f.channel == 3),
        "early": completed("early"),
        "on_time": completed("on_time"),
        "late": completed("late"),
        "withdrawn": and_(f.closed_kind == "withdrawn", closed_in),
        "stopped": and_(f.closed_kind == "stopped", closed_in),
        "pending": open_at_end,
        "pending_over": and_(f.overdue_from_day <= end, open_at_end),
    }
    return {name: func.count().filter(cond) for name, cond in conditions.items()}


_COUNTED = tuple(name for name in COLUMNS if name not in ("supplement", "financial"))


def _grouping(by: str):
    f = ReportDossier
    return {
        "unit": (f.tenant_id, func.max(Tenant.name)),
        "sector": (func.coalesce(f.sector_code, ""), func.max(f.sector_name)),
        "procedure": (func.coalesce(f.procedure_code, ""), func.max(f.procedure_name)),
        "level": (func.coalesce(f.service_level, 0), literal(None)),
        "channel": (f.channel, literal(None)),
    }[by]


@dataclass(frozen=True)
class Label:
    """A breakdown row's name: Vietnamese, and English where there is one (not for sector names)."""

    vi: str
    en: str = ""

    @property
    def text(self) -> str:
        """ "vi / en" as the pages and exports show it, or the Vietnamese alone."""
        return f"{self.vi} / {self.en}" if self.en and self.en != self.vi else self.vi

    def __str__(self) -> str:
        return self.text


UNKNOWN = Label("Không rõ", "Unknown")


def _label(by: str, key, label) -> Label:
    if by == "channel":
        return Label(*CHANNELS[key]) if key in CHANNELS else Label(str(key))
    if by == "level":
        return Label(f"Mức {key}", f"Level {key}") if key else UNKNOWN
    if by in ("sector", "procedure"):
        if not key and not label:
            return UNKNOWN
        return Label(f"{key} · {label}" if key and label else (label or key))
    return Label(label or str(key))


def breakdown_06(platform_session, tenant_ids, period: Period, by: str) -> list[tuple[object, Label, Row06]]:
    """(key, Label, Row06) per sector / procedure / service level / channel / unit, from the dossier facts.

    A key with nothing in the period is left out; the rows add up to ``report_06``'s total.
    """
    if by not in BY:
        raise ValueError(f"unknown breakdown {by!r}")
    ids = sorted({int(i) for i in tenant_ids})
    if not ids:
        return []
    key, label = _grouping(by)
    columns = _fact_columns(period.start, period.end)
    query = (
        select(key.label("key"), label.label("label"), *(c.label(name) for name, c in columns.items()))
        .select_from(ReportDossier)
        .join(Tenant, Tenant.id == ReportDossier.tenant_id)
        .where(ReportDossier.tenant_id.in_(ids), _relevant(period.start, period.end))
        .group_by(key)
    )
    counted = {row["key"]: row for row in platform_session.execute(query).mappings()}
    pauses, relevant = _pause_sums(key, period.start, period.end)
    paused = platform_session.execute(
        pauses.where(ReportDossier.tenant_id.in_(ids), relevant, _HAS_PAUSES).group_by(key)
    ).mappings()
    in_pause = {row["key"]: row for row in paused}
    result = []
    for key_value, row in sorted(counted.items()):
        values = Row06(**{name: int(row[name]) for name in _COUNTED})
        extra = in_pause.get(key_value)
        if extra is not None:
            values.supplement, values.financial = int(extra["supplement"]), int(extra["financial"])
            values.pending_over -= int(extra["paused_over"])
        if values == Row06():
            continue
        result.append((key_value, _label(by, key_value, row["label"]), values))
    return result
