"""``flask billing verify``: recompute the ledger's hash chain and name the first altered record.

Level by level (billing/ledger.py defines every hash):

1. every usage event's ``row_hash`` from its columns (``app.core.usage.usage_hash``);
2. every daily fact's ``content_hash`` from its stored values, and its values and
   ``events_digest`` from the events of its key recorded before its ``computed_at``: an
   event deleted, inserted with an earlier time, or moved out of the fact's key shows up
   as the fact's digest no longer matching;
3. events recorded before the shard's last complete aggregation that have no fact at all
   (the fact was deleted);
4. the finalized invoices' chain (``billing.invoice_chain.verify_invoices``).

Events recorded after their fact was computed are *pending* (the next aggregation counts
them); they are reported as a number, not as a problem. Events are read per tenant with a
server-side cursor, so a shard of millions of events runs in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select, text

from app.core.db import get_platform
from app.core.usage import usage_hash
from billing import ledger
from billing.aggregate import _previous_cutoff
from billing.invoice_chain import verify_invoices
from billing.models import DailyFact, Invoice
from tenants.models import Tenant

BATCH = 5000
MAX_PROBLEMS = 100
# An event is stamped when it is inserted (clock_timestamp()); one "recorded" later than this
# after the shard's now was altered: aggregation would leave it out until then (hidden usage).
FUTURE_MARGIN = "1 minute"


@dataclass
class VerifyResult:
    ok: bool
    first_problem: str | None
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS: events, facts, invoices
    notes: list[str] = field(default_factory=list)  # e.g. "invoices: not checked"


EVENTS, FACTS, INVOICES = 0, 1, 2  # the chain's levels, bottom up


class _Report:
    """Problems by level of the chain: an altered event is named before the facts it upsets
    (e.g. an event moved to a later day also upsets the fact of its earlier day, checked
    first in day order), a fact before the invoices; within a level, in the order checked."""

    def __init__(self) -> None:
        self.levels: dict[int, list[str]] = {EVENTS: [], FACTS: [], INVOICES: []}
        self.count = 0

    def add(self, problem: str, level: int = FACTS) -> None:
        self.count += 1
        if len(self.levels[level]) < MAX_PROBLEMS:
            self.levels[level].append(problem)

    @property
    def problems(self) -> list[str]:
        return [p for level in sorted(self.levels) for p in self.levels[level]][:MAX_PROBLEMS]


EVENTS_SQL = text(
    f"""
SELECT e.id, e.tenant_id, e.source, e.event_id, e.metric, e.dimension, e.quantity, e.subject,
       e.occurred_at, e.recorded_at, e.row_hash, {ledger.DAY_SQL} AS day,
       e.recorded_at > statement_timestamp() + interval '{FUTURE_MARGIN}' AS in_future
FROM shard.usage_events e
WHERE e.tenant_id = :tenant_id
ORDER BY day, e.metric, e.dimension, e.id
"""
)


def _groups(rows) -> Iterator[tuple[tuple[date, str, str], list]]:
    """Consecutive rows of the same (day, metric, dimension)."""
    key, group = None, []
    for row in rows:
        row_key = (row.day, row.metric, row.dimension)
        if row_key != key and group:
            yield key, group
            group = []
        key = row_key
        group.append(row)
    if group:
        yield key, group


def _event_name(row, slug: str) -> str:
    return f"usage event {row.id} (tenant {slug}, {row.source}/{row.event_id})"


def _fact_name(fact: DailyFact, slug: str) -> str:
    dimension = f"/{fact.dimension}" if fact.dimension else ""
    return f"daily fact {fact.id} (tenant {slug}, {fact.day.isoformat()}, {fact.metric}{dimension})"


def _check_fact(fact: DailyFact, counted: list, slug: str, report: _Report) -> None:
    name = _fact_name(fact, slug)
    if ledger.fact_row_hash(fact) != fact.content_hash:
        report.add(f"{name}: its stored values no longer match its content hash (the fact row was altered)")
        return
    digest = ledger.events_digest(row.row_hash for row in counted)
    subjects = {row.subject for row in counted if row.subject is not None}
    values = (
        len(counted),
        sum(row.quantity for row in counted),
        max((row.quantity for row in counted), default=0),
        len(subjects),
    )
    stored = (fact.event_count, fact.quantity_sum, fact.quantity_max, fact.distinct_subjects)
    if digest != fact.events_digest:
        report.add(
            f"{name}: its events no longer match its digest ({len(counted)} events now,"
            f" {fact.event_count} when computed: an event was deleted, inserted or changed)"
        )
    elif values != stored:
        report.add(f"{name}: count, sum, max, distinct {stored} but its events give {values}")


def _verify_tenant(conn, tenant: Tenant, facts: dict, cutoff, report: _Report, counts: dict) -> None:
    rows = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
        EVENTS_SQL, {"tenant_id": tenant.id}
    )
    for key, group in _groups(rows):
        for row in group:
            counts["events"] += 1
            expected = usage_hash(
                row.tenant_id,
                row.source,
                row.event_id,
                row.metric,
                row.dimension,
                row.quantity,
                row.subject,
                row.occurred_at,
            )
            if expected != row.row_hash:
                report.add(
                    f"{_event_name(row, tenant.slug)}: its content no longer matches its row hash", EVENTS
                )
            elif row.in_future:
                report.add(
                    f"{_event_name(row, tenant.slug)}: its recorded_at {row.recorded_at.isoformat()} is"
                    " in the future (altered: aggregation leaves it out until then)",
                    EVENTS,
                )
        fact = facts.pop(key, None)
        if fact is None:
            unaggregated = [row for row in group if cutoff is not None and row.recorded_at < cutoff]
            if unaggregated:
                row = unaggregated[0]
                report.add(
                    f"{_event_name(row, tenant.slug)}: no daily fact counts it"
                    f" ({key[0].isoformat()}, {key[1]}), though aggregation ran after it was recorded"
                )
            counts["pending_events"] += len(group) - len(unaggregated)
            continue
        counts["facts"] += 1
        counted = [row for row in group if row.recorded_at < fact.computed_at]
        counts["pending_events"] += len(group) - len(counted)
        _check_fact(fact, counted, tenant.slug, report)
    for fact in sorted(facts.values(), key=lambda f: f.id):  # facts none of whose events exist
        counts["facts"] += 1
        _check_fact(fact, [], tenant.slug, report)


def verify(tenant_ids=None, *, invoices: bool = True) -> VerifyResult:
    """Check every level of the chain; ``first_problem`` names the first altered record: of the
    lowest level with a problem (events, then facts, then invoices), the first found there
    (shards in their configured order, units by id, events by day, metric, dimension and id).

    ``tenant_ids`` limits the events and facts checked to those units (``invoices=False``
    skips the invoice chain).
    """
    platform = get_platform()
    only = set(tenant_ids) if tenant_ids is not None else None
    report = _Report()
    counts = {"events": 0, "facts": 0, "pending_events": 0, "invoices": 0}
    notes: list[str] = []
    with platform.shards.platform_session() as session:
        tenants = list(session.scalars(select(Tenant).order_by(Tenant.id)))
        known = {t.id for t in tenants}
        for shard in platform.shards.names:
            cutoff = _previous_cutoff(session, shard)
            with platform.shards.engine(shard).connect() as conn:
                for tenant in (t for t in tenants if t.shard == shard and (only is None or t.id in only)):
                    facts = {
                        (f.day, f.metric, f.dimension): f
                        for f in session.scalars(select(DailyFact).where(DailyFact.tenant_id == tenant.id))
                    }
                    _verify_tenant(conn, tenant, facts, cutoff, report, counts)
                    session.expunge_all()
                    conn.rollback()
        orphans = session.scalars(
            select(DailyFact).where(DailyFact.tenant_id.not_in(known)).order_by(DailyFact.id)
        )
        for fact in orphans if only is None else ():
            counts["facts"] += 1
            report.add(f"daily fact {fact.id}: its tenant {fact.tenant_id} does not exist")
        if not invoices:
            notes.append("invoices: not checked (limited to some units)")
            return _result(report, counts, notes)
        counts["invoices"] = session.scalar(select(func.count()).select_from(Invoice)) or 0
        problem = verify_invoices(session)
        if problem:
            report.add(problem, INVOICES)
    return _result(report, counts, notes)


def _result(report: _Report, counts: dict, notes: list[str]) -> VerifyResult:
    problems = report.problems
    return VerifyResult(
        ok=report.count == 0,
        first_problem=problems[0] if problems else None,
        checked=counts,
        problems=problems,
        notes=notes,
    )
