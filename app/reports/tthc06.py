"""The periodic report on handling administrative procedures (form 06 family, Circular 01/2018
and Decree 09/2019): per unit, received / resolved / pending in a period.

``report_06`` reads the daily rollup only (one SQL, sums with FILTER per column, grouped by unit),
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

from sqlalchemy import text

from app.reports.periods import Period

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

_REPORT_SQL = text(
    """
    SELECT tenant_id,
      coalesce(sum(open_delta) FILTER (WHERE day < :start), 0) AS carried,
      coalesce(sum(received_online) FILTER (WHERE day >= :start), 0) AS new_online,
      coalesce(sum(received_counter) FILTER (WHERE day >= :start), 0) AS new_counter,
      coalesce(sum(received_postal) FILTER (WHERE day >= :start), 0) AS new_postal,
      coalesce(sum(completed_early) FILTER (WHERE day >= :start), 0) AS early,
      coalesce(sum(completed_on_time) FILTER (WHERE day >= :start), 0) AS on_time,
      coalesce(sum(completed_late) FILTER (WHERE day >= :start), 0) AS late,
      coalesce(sum(withdrawn) FILTER (WHERE day >= :start), 0) AS withdrawn,
      coalesce(sum(stopped) FILTER (WHERE day >= :start), 0) AS stopped,
      coalesce(sum(open_delta), 0) AS pending,
      coalesce(sum(overdue_delta), 0) AS pending_over,
      coalesce(sum(supplement_delta), 0) AS supplement,
      coalesce(sum(financial_delta), 0) AS financial
    FROM report_daily
    WHERE tenant_id = ANY(:ids) AND day <= :end
    GROUP BY tenant_id
    """
)


def report_06(platform_session, tenant_ids, period: Period) -> dict[int, Row06]:
    """Row06 per unit of ``tenant_ids`` (a unit without any fact gets a row of zeros)."""
    ids = sorted({int(i) for i in tenant_ids})
    result = {tenant_id: Row06() for tenant_id in ids}
    if not ids:
        return result
    rows = platform_session.execute(_REPORT_SQL, {"ids": ids, "start": period.start, "end": period.end})
    for row in rows.mappings():
        result[row["tenant_id"]] = Row06(**{name: int(row[name]) for name in COLUMNS})
    return result


# --- from the dossier facts: the same definitions as conditions ----------------------

_PAUSE_DAY = "((p->>'{end}')::timestamptz AT TIME ZONE 'Asia/Ho_Chi_Minh')::date"
_IN_PAUSE = (
    "(SELECT count(*) FROM jsonb_array_elements(f.pauses) AS p WHERE p->>'kind' = '{kind}'"
    f" AND {_PAUSE_DAY.format(end='start')} <= :end"
    f" AND (p->>'end' IS NULL OR {_PAUSE_DAY.format(end='end')} > :end))"
)
_OPEN_AT_END = "(f.closed_day IS NULL OR f.closed_day > :end)"
_IN_PERIOD = "BETWEEN :start AND :end"
# column -> the condition a fact must meet to count in it (summed as count(*) FILTER).
_FACT_CONDITIONS: dict[str, str] = {
    "carried": "f.received_day < :start AND (f.closed_day IS NULL OR f.closed_day >= :start)",
    "new_online": f"f.received_day {_IN_PERIOD} AND f.channel = 2",
    "new_counter": f"f.received_day {_IN_PERIOD} AND f.channel = 1",
    "new_postal": f"f.received_day {_IN_PERIOD} AND f.channel = 3",
    "early": f"f.closed_kind = 'completed' AND f.on_time_class = 'early' AND f.closed_day {_IN_PERIOD}",
    "on_time": f"f.closed_kind = 'completed' AND f.on_time_class = 'on_time' AND f.closed_day {_IN_PERIOD}",
    "late": f"f.closed_kind = 'completed' AND f.on_time_class = 'late' AND f.closed_day {_IN_PERIOD}",
    "withdrawn": f"f.closed_kind = 'withdrawn' AND f.closed_day {_IN_PERIOD}",
    "stopped": f"f.closed_kind = 'stopped' AND f.closed_day {_IN_PERIOD}",
    "pending": _OPEN_AT_END,
    "pending_over": f"f.overdue_from_day <= :end AND {_OPEN_AT_END}",
}
# Pauses are intervals inside one dossier: summed, not counted.
_PAUSE_SUMS = {
    "supplement": _IN_PAUSE.format(kind="supplement"),
    "financial": _IN_PAUSE.format(kind="financial"),
}

_GROUPING = {
    "unit": ("f.tenant_id", "max(t.name)"),
    "sector": ("coalesce(f.sector_code, '')", "max(f.sector_name)"),
    "procedure": ("coalesce(f.procedure_code, '')", "max(f.procedure_name)"),
    "level": ("coalesce(f.service_level, 0)", "NULL"),
    "channel": ("f.channel", "NULL"),
}


def _breakdown_sql(by: str):
    key, label = _GROUPING[by]
    counts = [f"count(*) FILTER (WHERE {cond}) AS {name}" for name, cond in _FACT_CONDITIONS.items()]
    sums = [
        f"coalesce(sum({expr}) FILTER (WHERE f.received_day <= :end), 0) AS {name}"
        for name, expr in _PAUSE_SUMS.items()
    ]
    return text(
        f"""
        SELECT {key} AS key, {label} AS label, {", ".join(counts + sums)}
        FROM report_dossiers AS f JOIN tenants AS t ON t.id = f.tenant_id
        WHERE f.tenant_id = ANY(:ids) AND f.received_day <= :end
        GROUP BY 1 ORDER BY 1
        """
    )


def _label(by: str, key, label) -> str:
    if by == "channel":
        return CHANNELS.get(key, (str(key), ""))[0]
    if by == "level":
        return f"Mức {key}" if key else "Không rõ"
    if by in ("sector", "procedure"):
        return f"{key} · {label}" if key and label else (label or key or "Không rõ")
    return label or str(key)


def breakdown_06(platform_session, tenant_ids, period: Period, by: str) -> list[tuple[object, str, Row06]]:
    """Row06 per sector / procedure / service level / channel / unit, from the dossier facts.

    A key with nothing in the period is left out; the rows add up to ``report_06``'s total.
    """
    if by not in _GROUPING:
        raise ValueError(f"unknown breakdown {by!r}")
    ids = sorted({int(i) for i in tenant_ids})
    if not ids:
        return []
    rows = platform_session.execute(
        _breakdown_sql(by), {"ids": ids, "start": period.start, "end": period.end}
    )
    result = []
    for row in rows.mappings():
        values = Row06(**{name: int(row[name]) for name in COLUMNS})
        if values == Row06():
            continue
        result.append((row["key"], _label(by, row["key"], row["label"]), values))
    return result
