"""Shared helpers of the national-portal sync tests: a unit with an enabled connection to the
fake portal (tests/servers/dvcqg.py), dossier moves, queueing and sending as the feed and the
sender job do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.calendar.workcal import VN_TZ
from app.dossiers import actions, intake
from app.dossiers.models import DossierAction
from app.integrations import dvcqg_config, dvcqg_queue, dvcqg_sender
from app.integrations.dvcqg_models import DvcqgMessage
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.servers.dvcqg import FakePortal

TOKEN = "phien-lgsp-bi-mat-123"
MADONVI = "000.00.31.H26"
DSTCODE = "VN:GOV:000.00.00.G22"
TUE = datetime(2019, 3, 12, 9, 0, tzinfo=VN_TZ)


def at(hours: float) -> datetime:
    return TUE + timedelta(hours=hours)


def connect(app, platform, tenant_id: int, portal: FakePortal, *, timeout: int = 1) -> None:
    form = {
        "enabled": "1",
        "madonvi": MADONVI,
        "endpoint_url": portal.url,
        "dstcode": DSTCODE,
        "token": TOKEN,
        "timeout_seconds": str(timeout),
    }
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        dvcqg_config.save(session, tenant_id, dvcqg_config.parse(form, has_token=False), account_id=None)


def start_portal() -> FakePortal:
    return FakePortal(token=TOKEN, madonvi=MADONVI, dstcode=DSTCODE).start()


def serve_portal():
    """The body of a module-scoped ``portal`` fixture: ``yield from serve_portal()``."""
    server = start_portal()
    yield server
    server.stop()


def connected_unit(app, platform, city, portal: FakePortal):
    """A new unit (tests/dossier_fixtures.py) whose connection to ``portal`` is enabled."""
    built = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    connect(app, platform, built.tenant.id, portal)
    return built


def receive(unit, now) -> int:
    with unit.session() as session, session.begin():
        return intake.receive_at_counter(unit.desk(session, now), unit.actor("counter"), unit.intake()).id


def act(unit, name: str, dossier_id: int, who: str, now, **kwargs):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        return getattr(actions, name)(desk, unit.actor(who), actions.load(desk, dossier_id), **kwargs)


def queue(unit, dossier_ids, topic: str = "dossier.transition") -> int:
    """What the reporting feed does for a batch: queue in one platform transaction, then kick."""
    with unit.platform.shards.platform_session() as ps, ps.begin(), unit.session() as ts:
        return dvcqg_queue.queue_for_dossiers(ps, unit.tenant.id, ts, dossier_ids, topic=topic)


def send(app, unit, *, now: datetime | None = None) -> dvcqg_sender.SendResult:
    """One sender run; by default as if every back-off had elapsed."""
    when = now or datetime.now(UTC) + timedelta(days=1)
    with app.app_context(), unit.platform.shards.platform_session() as ps:
        return dvcqg_sender.send_tenant(ps, unit.tenant.id, now=when)


def source_actions(unit, dossier_id: int) -> list[DossierAction]:
    with unit.session() as session:
        return list(
            session.scalars(
                select(DossierAction).where(DossierAction.dossier_id == dossier_id).order_by(DossierAction.id)
            )
        )


def messages(platform, tenant_id: int, **filters) -> list[DvcqgMessage]:
    with platform.shards.platform_session() as session:
        stmt = select(DvcqgMessage).where(DvcqgMessage.tenant_id == tenant_id).order_by(DvcqgMessage.id)
        for key, value in filters.items():
            stmt = stmt.where(getattr(DvcqgMessage, key) == value)
        return list(session.scalars(stmt))
