"""National portal (DVCQG) sync against a local fake portal: ordered, exactly-once delivery through
failures, idempotent queueing, retry, reconciliation, date format (DOMAIN §6.1)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, update

from app.dossiers.models import Dossier
from app.integrations import dvcqg_reconcile, dvcqg_sender
from app.integrations.dvcqg_messages import fmt
from app.integrations.dvcqg_models import DvcqgMessage, DvcqgSettings
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.dvcqg_support import (
    act,
    at,
    connected_unit,
    messages,
    queue,
    receive,
    send,
    serve_portal,
    source_actions,
)

DOSSIER, PROGRESS = "DongBoHoSoMC", "CapNhatTienDoHoSoMC"


@pytest.fixture(scope="module")
def portal():
    yield from serve_portal()


@pytest.fixture(scope="module")
def unit(app, platform, city, portal):
    return connected_unit(app, platform, city, portal)


def code_of(unit, dossier_id: int) -> str:
    with unit.session() as session:
        return session.get(Dossier, dossier_id).code


def drain(app, unit, rounds: int = 20) -> None:
    for _ in range(rounds):
        if not messages(unit.platform, unit.tenant.id, status="pending"):
            return
        send(app, unit)
    raise AssertionError("messages still pending after the remote recovered")


def test_dates_are_vietnam_local_time():
    assert fmt(datetime(2026, 1, 1, 17, 30, 5, tzinfo=UTC)) == "20260102003005"
    assert fmt(at(0)) == "20190312090000"
    assert fmt(None) == ""


def test_remote_failing_then_recovering_delivers_every_change_once_in_order(app, unit, portal):
    portal.accepted.clear()
    ids = [receive(unit, at(0)), receive(unit, at(0.1)), receive(unit, at(0.2))]
    assert queue(unit, ids) == 6  # a dossier message and a progress message each
    portal.fail_next(2, code="99")  # the portal answers an error code twice
    first = send(app, unit)
    assert first.failed == 2 and first.sent == 2  # two dossiers held back, the third went out
    assert "99: " in first.errors[0]

    act(unit, "transfer", ids[0], "counter", at(1))
    act(unit, "transfer", ids[1], "counter", at(1.1))
    act(unit, "forward", ids[0], "officer", at(2))
    queue(unit, ids)
    portal.fail_until_told(code="500")
    down = send(app, unit)
    assert down.sent == 0 and down.failed == 1  # a 5xx stops the whole run: nothing lost
    assert "http 500" in down.errors[0]

    act(unit, "forward", ids[1], "officer", at(3))
    act(unit, "transfer", ids[2], "counter", at(3.1))
    portal.recover()
    portal.slow(seconds=2.5, times=1)  # beyond the 1 s timeout
    slow = send(app, unit)
    assert slow.failed == 1 and "timeout" in slow.errors[0]

    queue(unit, ids)
    act(unit, "forward", ids[0], "head_div", at(4))
    act(unit, "complete", ids[0], "head", at(5))
    act(unit, "return_result", ids[0], "counter", at(6))
    queue(unit, ids)
    assert queue(unit, ids) == 0  # a redelivered event queues nothing
    drain(app, unit)

    assert not portal.rejected
    assert len(portal.accepted) == len(messages(unit.platform, unit.tenant.id))
    for dossier_id in ids:
        expected_progress, expected_states, state = [], [], None
        for action in source_actions(unit, dossier_id):
            if action.to_status is not None:
                if action.to_status != state:
                    expected_states.append(action.to_status)
                state = action.to_status
            expected_progress.append((fmt(action.at), state))
        code = code_of(unit, dossier_id)
        progress = [
            (i["ThoiDiemXuLy"], i["TrangThai"])
            for s, _, i in portal.accepted
            if s == PROGRESS and i["MaHoSo"] == code
        ]
        dossier_msgs = [
            (u, i["TrangThaiHoSo"]) for s, u, i in portal.accepted if s == DOSSIER and i["MaHoSo"] == code
        ]
        assert progress == expected_progress
        assert [st for _, st in dossier_msgs] == expected_states
        assert [u for u, _ in dossier_msgs] == [False] + [True] * (len(dossier_msgs) - 1)
        # Per dossier, its dossier message always precedes its own progress entries.
        order = [s for s, _, i in portal.accepted if i["MaHoSo"] == code]
        assert order[0] == DOSSIER
    done = [i for s, _, i in portal.accepted if s == DOSSIER and i["MaHoSo"] == code_of(unit, ids[0])][-1]
    assert done["TrangThaiHoSo"] == 10 and len(done["NgayTra"]) == 14 and done["NgayTiepNhan"] == fmt(at(0))
    assert done["MaTTHC"] == "1.004873" and done["DinhDanhCHS"] == [
        {"LoaiDinhDanh": 1, "SoDinhDanh": "031190001234"}
    ]


def test_historical_imports_and_disabled_units_queue_nothing(app, unit, platform, city):
    dossier_id = receive(unit, at(0))
    assert queue(unit, [dossier_id], topic="dossiers.imported") == 0
    other = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    assert queue(other, [receive(other, at(0))]) == 0  # no settings
    assert queue(unit, [dossier_id]) == 2


def test_retry_makes_a_backed_off_dossier_due_now(app, unit, portal):
    dossier_id = receive(unit, at(0))
    queue(unit, [dossier_id])
    drain(app, unit)  # earlier tests' leftovers
    act(unit, "transfer", dossier_id, "counter", at(1))
    queue(unit, [dossier_id])
    portal.fail_next(1, code="42")
    now = datetime.now(UTC)
    assert send(app, unit, now=now).failed == 1
    head = messages(unit.platform, unit.tenant.id, dossier_id=dossier_id, status="pending")[0]
    assert head.attempts == 1 and head.last_error.startswith("42: ") and head.next_attempt_at > now
    assert send(app, unit, now=datetime.now(UTC)).sent == 0  # backing off
    with unit.platform.shards.platform_session() as ps, ps.begin():
        assert dvcqg_sender.retry_now(ps, unit.tenant.id, dossier_id) == 2
    assert send(app, unit, now=datetime.now(UTC)).sent == 2
    assert not messages(unit.platform, unit.tenant.id, dossier_id=dossier_id, status="pending")


def test_reconciliation_requeues_deleted_and_mismatched_dossiers(app, unit, portal):
    lost, changed = receive(unit, at(0)), receive(unit, at(0.5))
    act(unit, "transfer", lost, "counter", at(1))
    queue(unit, [lost, changed])
    drain(app, unit)
    with unit.platform.shards.platform_session() as ps, ps.begin():
        ps.execute(
            delete(DvcqgMessage).where(
                DvcqgMessage.tenant_id == unit.tenant.id, DvcqgMessage.dossier_id == lost
            )
        )
    with unit.session() as ts, ts.begin():  # changed behind the connector's back (no action)
        ts.execute(update(Dossier).where(Dossier.id == changed).values(status=4))
    portal.accepted.clear()
    with app.app_context(), unit.platform.shards.platform_session() as ps, ps.begin(), unit.session() as ts:
        run = dvcqg_reconcile.reconcile(ps, unit.tenant.id, ts)
        summary = (run.missing, run.mismatched, run.requeued, run.details)
    lost_code, changed_code = code_of(unit, lost), code_of(unit, changed)
    assert summary[:3] == (1, 1, 4 + 1)  # lost: 2 actions x 2 messages; changed: one dossier message
    assert summary[3] == {"missing": [lost_code], "mismatched": [changed_code]}
    drain(app, unit)
    assert [i["MaHoSo"] for s, _, i in portal.accepted if s == DOSSIER] == [
        lost_code,
        lost_code,
        changed_code,
    ] or [i["MaHoSo"] for s, _, i in portal.accepted if s == DOSSIER] == [changed_code, lost_code, lost_code]
    assert [
        i["TrangThaiHoSo"] for s, _, i in portal.accepted if s == DOSSIER and i["MaHoSo"] == changed_code
    ] == [4]
    with app.app_context(), unit.platform.shards.platform_session() as ps, ps.begin(), unit.session() as ts:
        again = dvcqg_reconcile.reconcile(ps, unit.tenant.id, ts)
        assert (again.missing, again.mismatched, again.requeued) == (0, 0, 0)


def test_token_is_stored_encrypted(app, unit, platform):
    from app.core.secrets import decrypt
    from tests.dvcqg_support import TOKEN

    with app.app_context(), platform.shards.platform_session() as session:
        stored = session.get(DvcqgSettings, unit.tenant.id).session_token_encrypted
        assert stored != TOKEN and TOKEN not in stored
        assert decrypt(stored) == TOKEN


def test_reconciliation_leaves_historical_imports_unpublished(app, unit):
    from app.imports.models import HistoryImport

    dossier_id = receive(unit, at(0))
    with unit.session() as ts, ts.begin():
        run = HistoryImport(filename="cu.xlsx", storage_key="imports/cu.xlsx", status="done")
        ts.add(run)
        ts.flush()
        ts.execute(update(Dossier).where(Dossier.id == dossier_id).values(history_import_id=run.id))
    assert queue(unit, [dossier_id], topic="dossiers.imported") == 0
    with app.app_context(), unit.platform.shards.platform_session() as ps, ps.begin(), unit.session() as ts:
        dvcqg_reconcile.reconcile(ps, unit.tenant.id, ts)
    assert not messages(unit.platform, unit.tenant.id, dossier_id=dossier_id)


def test_one_sender_per_unit_at_a_time(app, unit):
    from sqlalchemy import text

    queue(unit, [receive(unit, at(0))])
    with unit.platform.shards.platform_session() as holder:
        holder.execute(
            text("SELECT pg_advisory_lock(:c, :t)"), {"c": dvcqg_sender.LOCK_CLASS, "t": unit.tenant.id}
        )
        assert send(app, unit).skipped == "locked"  # another sender is running for this unit
        holder.execute(
            text("SELECT pg_advisory_unlock(:c, :t)"), {"c": dvcqg_sender.LOCK_CLASS, "t": unit.tenant.id}
        )
    assert send(app, unit).sent >= 2


def test_a_token_that_cannot_be_decrypted_sends_nothing_and_keeps_the_messages(app, unit):
    queue(unit, [receive(unit, at(0))])
    with unit.platform.shards.platform_session() as ps, ps.begin():
        settings = ps.get(DvcqgSettings, unit.tenant.id)
        kept, settings.session_token_encrypted = settings.session_token_encrypted, "made-with-another-key"
    assert send(app, unit).skipped == "no usable token"
    assert messages(unit.platform, unit.tenant.id, status="pending")
    with unit.platform.shards.platform_session() as ps, ps.begin():
        ps.get(DvcqgSettings, unit.tenant.id).session_token_encrypted = kept
    assert send(app, unit).sent >= 2


def test_two_sender_runs_at_once_send_each_message_once(app, unit, portal):
    """The kicked job and the minute sweep's job may start together: the advisory lock lets one send."""
    portal.accepted.clear()
    ids = [receive(unit, at(0)), receive(unit, at(0.1))]
    act(unit, "transfer", ids[0], "counter", at(1))
    queued = queue(unit, ids)
    portal.pace(0.2)
    try:
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda _: send(app, unit), range(2)))
    finally:
        portal.pace(0)
    assert sorted(r.skipped or "ran" for r in runs) == ["locked", "ran"]
    drain(app, unit)
    sent = [(s, i.get("ThoiDiemXuLy"), i["MaHoSo"], i.get("TrangThaiHoSo")) for s, _, i in portal.accepted]
    assert len(sent) == queued == len(set(sent))


def test_supplement_history_goes_with_the_dossier_message(app, unit, portal):
    portal.accepted.clear()
    dossier_id = receive(unit, at(0))
    act(unit, "transfer", dossier_id, "counter", at(1))
    act(unit, "request_supplement", dossier_id, "officer", at(2), items=["Bản sao sổ hộ khẩu"])
    act(unit, "receive_supplement", dossier_id, "counter", at(26), note="Đã nhận bản sao")
    act(unit, "request_supplement", dossier_id, "officer", at(27), items=["Giấy ủy quyền"])
    queue(unit, [dossier_id])
    drain(app, unit)
    assert not portal.rejected  # the fake portal checks the history's ids, dates and states
    last = [i for s, _, i in portal.accepted if s == DOSSIER][-1]
    first, second = last["DanhSachHoSoBoSung"]
    assert (first["NgayBoSung"], first["NgayTiepNhanBoSung"]) == (fmt(at(2)), fmt(at(26)))
    assert first["TrangThaiBoSung"] == 1 and first["ThongTinTiepNhan"] == "Đã nhận bản sao"
    assert first["NgayHenTraTruoc"] and first["NgayHenTraMoi"] > first["NgayHenTraTruoc"]
    assert first["NguoiYeuCauBoSung"] and first["NguoiTiepNhanBoSung"]
    assert "sổ hộ khẩu" in first["NoiDungBoSung"]
    assert second["TrangThaiBoSung"] == 0 and second["NgayTiepNhanBoSung"] == ""
    assert last["LoaiDoiTuong"] == 1 and last["KenhThucHien"] == 1 and last["HinhThuc"] in (0, 1)
