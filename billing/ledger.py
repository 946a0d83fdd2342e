"""The ledger's hashes, defined once: usage event -> daily fact (issue #6).

Each level is sealed by a SHA-256 that the level above includes, so changing a stored
row anywhere below a finalized invoice shows up when ``flask billing verify`` recomputes
the chain (billing/verify.py):

- **usage event** ``row_hash`` = ``app.core.usage.usage_hash`` over
  ``tenant_id|source|event_id|metric|dimension|quantity|subject|occurred_at`` (UTC,
  ``YYYY-MM-DDTHH:MM:SS.ffffffZ``). ``EVENT_HASH_SQL`` is the same formula in SQL.
- **daily fact** ``events_digest`` = SHA-256 of the concatenated ``row_hash`` of the events
  it counts, ordered by event id (hex text, no separator; the digest of no event is the
  SHA-256 of the empty string). ``content_hash`` = SHA-256 of
  ``tenant_id|day|metric|dimension|event_count|quantity_sum|quantity_max|distinct_subjects|events_digest``
  with ``day`` as ``YYYY-MM-DD`` and the numbers in decimal.
- A fact counts the events of its key recorded before its ``computed_at`` (the
  aggregation's cut-off); events recorded later wait for the next aggregation.

Day = the Asia/Ho_Chi_Minh calendar day of ``occurred_at`` (``DAY_SQL``).
Aggregation computes the hashes in SQL (``EVENTS_DIGEST_SQL``, ``FACT_HASH_SQL``);
verify recomputes them in Python (``events_digest``, ``fact_hash``); a test holds both
forms equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

LOCAL_TZ = "Asia/Ho_Chi_Minh"

# The local day of an event (``e`` is shard.usage_events).
DAY_SQL = f"(e.occurred_at AT TIME ZONE '{LOCAL_TZ}')::date"

# app.core.usage.usage_hash in SQL, over the columns of ``e``.
EVENT_HASH_SQL = (
    "encode(sha256(convert_to(concat_ws('|', e.tenant_id::text, e.source, e.event_id, e.metric,"
    " e.dimension, e.quantity::text, coalesce(e.subject, ''),"
    " to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')), 'UTF8')), 'hex')"
)

# The events digest of a group of events ``e`` (an aggregate expression).
EVENTS_DIGEST_SQL = "encode(sha256(convert_to(string_agg(e.row_hash, '' ORDER BY e.id), 'UTF8')), 'hex')"


def fact_hash_sql(
    tenant_id: str,
    day: str,
    metric: str,
    dimension: str,
    count: str,
    qsum: str,
    qmax: str,
    distinct: str,
    digest: str,
) -> str:
    """The content hash of a fact, in SQL, over the given SQL expressions."""
    parts = (
        f"CAST({tenant_id} AS text)",
        f"to_char({day}, 'YYYY-MM-DD')",
        metric,
        dimension,
        f"CAST({count} AS text)",
        f"CAST({qsum} AS text)",
        f"CAST({qmax} AS text)",
        f"CAST({distinct} AS text)",
        digest,
    )
    return f"encode(sha256(convert_to(concat_ws('|', {', '.join(parts)}), 'UTF8')), 'hex')"


def events_digest(row_hashes: Iterable[str]) -> str:
    """SHA-256 over the events' row hashes, in the order given (event id order)."""
    digest = hashlib.sha256()
    for row_hash in row_hashes:
        digest.update(row_hash.encode())
    return digest.hexdigest()


def fact_hash(
    tenant_id: int,
    day: date,
    metric: str,
    dimension: str,
    event_count: int,
    quantity_sum: int,
    quantity_max: int,
    distinct_subjects: int,
    events_digest: str,
) -> str:
    """The content hash of a daily fact (the canonical string in the module docstring)."""
    text = "|".join(
        (
            str(tenant_id),
            day.isoformat(),
            metric,
            dimension,
            str(event_count),
            str(quantity_sum),
            str(quantity_max),
            str(distinct_subjects),
            events_digest,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def fact_row_hash(fact) -> str:
    """``fact_hash`` of a DailyFact row (or any object with its attributes)."""
    return fact_hash(
        fact.tenant_id,
        fact.day,
        fact.metric,
        fact.dimension,
        fact.event_count,
        fact.quantity_sum,
        fact.quantity_max,
        fact.distinct_subjects,
        fact.events_digest,
    )
