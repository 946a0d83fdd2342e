"""Source dossiers with chosen timestamps in a unit's schema, fed into the reporting store.

Tests of the reports build dossiers the way the desk leaves them (status, received/due/completed
times, the closing action of a withdrawal or a stop, pause rows) without walking the desk, then
call the store's rebuild so what they read went through the real facts and rollup.

    unit = report_unit(platform, tenant)            # one sector and procedure in the unit's schema
    add_dossiers(platform, unit, [D(2, "2026-01-10 09:00", due="2026-01-20", done="2026-01-19")])
    feed(app, tenant)                               # app.reports.store.rebuild
    feed_by_outbox(app, platform, tenant, ids)      # or: an event through the outbox to the live feed
"""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure, Sector
from app.dossiers.models import Dossier, DossierAction, DossierPause
from app.dossiers.status import FINANCIAL, PROCESSING, RESULT_READY, RETURNED, STOPPED, SUPPLEMENT, WITHDRAWN

# (sector code, sector name, procedure code, procedure name, service level)
PROCEDURES = (
    ("HT", "Hộ tịch", "1.004873", "Xác nhận tình trạng hôn nhân", 3),
    ("DD", "Đất đai", "1.001990", "Đăng ký biến động đất đai", 4),
)


def at(text: str) -> datetime:
    """'2026-01-10' (09:00) or '2026-01-10 16:30', Asia/Ho_Chi_Minh."""
    if " " not in text:
        text += " 09:00"
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


@dataclass
class D:
    """One dossier: channel (1 counter, 2 online, 3 postal), received time and how it stands now.

    done / returned: completed then (status 9 / 10); withdrawn / stopped: closed then by an action
    (status 7 / 8); pauses: (kind, start, end or None); an open pause leaves it in status 5 / 6.
    """

    channel: int
    received: str
    due: str | None = None
    done: str | None = None
    returned: str | None = None
    withdrawn: str | None = None
    stopped: str | None = None
    pauses: list[tuple[str, str, str | None]] = field(default_factory=list)
    procedure: int = 0  # index into PROCEDURES


_codes = itertools.count(1)


def _session(platform, tenant):
    return platform.shards.tenant_session(tenant.shard, tenant.schema_name)


def report_unit(platform, tenant) -> list[int]:
    """Create PROCEDURES in the unit's schema; returns their ids (index as in PROCEDURES)."""
    ids = []
    with _session(platform, tenant) as session, session.begin():
        for sector_code, sector_name, code, name, level in PROCEDURES:
            sector = Sector(code=sector_code, name=sector_name)
            session.add(sector)
            session.flush()
            procedure = Procedure(
                code=code,
                name=name,
                name_search=name.lower(),
                sector_id=sector.id,
                service_level=level,
                time_value=Decimal(5),
                time_unit="working_days",
                channels=[1, 2, 3],
                result_delivery=["counter"],
            )
            session.add(procedure)
            session.flush()
            ids.append(procedure.id)
    return ids


def _status(spec: D) -> int:
    if spec.done:
        return RESULT_READY
    if spec.returned:
        return RETURNED
    if spec.withdrawn:
        return WITHDRAWN
    if spec.stopped:
        return STOPPED
    open_pause = next((kind for kind, _, end in spec.pauses if end is None), None)
    return {"supplement": SUPPLEMENT, "financial": FINANCIAL}.get(open_pause, PROCESSING)


def add_dossiers(platform, tenant, procedure_ids: list[int], specs: list[D]) -> list[int]:
    """Insert the dossiers (with their receive action, closing action and pauses); returns their ids."""
    ids = []
    with _session(platform, tenant) as session, session.begin():
        for spec in specs:
            received = at(spec.received)
            completed = at(spec.done or spec.returned) if (spec.done or spec.returned) else None
            dossier = Dossier(
                code=f"R-{tenant.id}-{next(_codes)}",
                procedure_id=procedure_ids[spec.procedure],
                applicant_name="Người nộp thử",
                channel=spec.channel,
                status=_status(spec),
                submitted_at=received,
                received_at=received,
                due_at=at(spec.due) if spec.due else None,
                completed_at=completed,
                returned_at=at(spec.returned) if spec.returned else None,
            )
            session.add(dossier)
            session.flush()
            ids.append(dossier.id)
            session.add(
                DossierAction(
                    dossier_id=dossier.id, action="receive", from_status=1, to_status=2, at=received
                )
            )
            for status, when in ((WITHDRAWN, spec.withdrawn), (STOPPED, spec.stopped)):
                if when:
                    session.add(
                        DossierAction(
                            dossier_id=dossier.id,
                            action="close",
                            from_status=PROCESSING,
                            to_status=status,
                            at=at(when),
                        )
                    )
            for kind, start, end in spec.pauses:
                session.add(
                    DossierPause(
                        dossier_id=dossier.id,
                        kind=kind,
                        started_at=at(start),
                        ended_at=at(end) if end else None,
                    )
                )
    return ids


def feed(app, tenant) -> int:
    """Recompute the unit's reporting store from the rows above (the store's own rebuild)."""
    from app.reports.store import rebuild

    with app.app_context():
        return rebuild(tenant.id)


def feed_by_outbox(app, platform, tenant, dossier_ids: list[int]) -> None:
    """Tell the live feed about the dossiers the way the history import does (``dossiers.imported``
    through the unit's outbox), then relay every shard's outbox until it is empty."""
    from app.core.outbox import drain_outbox, emit_event

    importlib.import_module("app.reports.feed")  # registers the outbox handler, as workers do
    with _session(platform, tenant) as session, session.begin():
        emit_event(session, "dossiers.imported", {"dossier_ids": dossier_ids}, tenant_id=tenant.id)
    with app.app_context():
        for shard in platform.shards.names:
            while drain_outbox(shard).claimed:
                pass


def leader_area(platform, city) -> dict:
    """A district, one of its communes, a commune elsewhere and the head of each (plus a case officer
    of the commune): what every test of who may read which unit's reports starts from."""
    from app.auth import roles as r
    from tests.conftest import create_test_tenant
    from tests.test_auth_support import make_account

    district = create_test_tenant(platform, city, "district")
    commune = create_test_tenant(platform, city, "commune", parent=district.slug)
    other = create_test_tenant(platform, city, "commune")

    def head(unit, role=r.HEAD_OF_UNIT):
        return make_account(platform, memberships=[(unit, [role])])

    return {
        "district": district,
        "commune": commune,
        "other": other,
        "commune_head": head(commune),
        "district_head": head(district),
        "other_head": head(other),
        "officer": head(commune, r.CASE_OFFICER),
    }
