"""History import (issue #7): ``flask dossiers import`` and the unit admin's upload pages, on PostgreSQL."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure, Sector
from app.core.jobs import run_in_tenant_scope
from app.core.outbox import Event
from app.core.outbox_models import OutboxEvent
from app.core.usage_models import UsageEvent
from app.dossiers.models import Dossier, DossierAction, DossierPause
from app.imports import actions, reader
from app.imports.models import HistoryImport
from tenants.resolution import TenantRef
from tests.test_auth_support import csrf_from, make_account, sign_in_directly

PROC = "1.004873"  # build_unit's procedure
HEADER = [
    "Mã hồ sơ",
    "Mã thủ tục",
    "Người nộp",
    "Số điện thoại",
    "Kênh nộp",
    "Trạng thái",
    "Ngày tiếp nhận",
    "Ngày hẹn trả",
    "completed_at",
    "returned_at",
    "withdrawn_at",
    "stopped_at",
    "supplement_pauses",
    "steps",
]


def code(n: int) -> str:
    return f"000.00.01.H99-190301-{n:04d}"


LATER = ("completed", "returned", "withdrawn", "stopped", "pauses", "steps")


def line(code_, name, channel, status, received, due="06/03/2019 17:00", proc=PROC, phone="", **later):
    """A CSV row in HEADER's order; ``later`` by name (LATER: completed ... steps)."""
    return [code_, proc, name, phone, channel, status, received, due, *(later.get(k, "") for k in LATER)]


def good_rows() -> list[list[str]]:
    """Six dossiers: returned early, result ready late, withdrawn, stopped, open in supplement, open."""
    return [
        line(
            code(1),
            "Nguyễn Văn A",
            "1",
            "10",
            "01/03/2019 08:00",
            phone="0912000001",
            completed="05/03/2019 10:00",
            returned="06/03/2019 09:00",
            steps="Thụ lý|04/03/2019 16:00|05/03/2019 17:00",
        ),
        line(
            code(2),
            "Trần Thị B",
            "trực tuyến",
            "9",
            "2019-03-01T09:00:00+07:00",
            "2019-03-04 17:00",
            completed="2019-03-07 10:00",
            pauses="02/03/2019 08:00..04/03/2019 08:00",
        ),
        line(code(3), "Lê C", "3", "7", "01/03/2019 10:00", withdrawn="02/03/2019 10:00"),
        line(code(4), "Phạm D", "counter", "8", "01/03/2019 11:00", stopped="03/03/2019 10:00"),
        line(code(5), "Hoàng E", "1", "5", "01/03/2019 14:00", pauses="04/03/2019 08:00.."),
        line(code(6), "Vũ F", "2", "4", "01/03/2019 15:00"),
    ]


def csv_bytes(rows, header=HEADER, bom=True) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


@dataclass
class Unit:
    """A unit with one procedure in its catalogue (all an import needs); accounts made on demand."""

    platform: object
    tenant: object
    accounts: dict = field(default_factory=dict)

    @property
    def ref(self) -> TenantRef:
        return TenantRef.of(self.tenant)

    def session(self):
        return self.platform.shards.tenant_session(self.tenant.shard, self.tenant.schema_name)

    def account(self, role: str):
        if role not in self.accounts:
            self.accounts[role] = make_account(self.platform, memberships=[(self.tenant, [role])])
        return self.accounts[role]


@pytest.fixture
def unit(platform, make_tenant):
    made = Unit(platform, make_tenant("district"))
    with made.session() as session, session.begin():
        sector = Sector(code="HT", name="Hộ tịch")
        session.add(sector)
        session.flush()
        session.add(
            Procedure(
                code=PROC,
                name="Xác nhận tình trạng hôn nhân",
                sector_id=sector.id,
                service_level=3,
                time_value=Decimal(3),
                time_unit="working_days",
            )
        )
    return made


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=["dossiers", "import", *args])

    return invoke


def dossiers(unit) -> dict[str, Dossier]:
    with unit.session() as session:
        return {
            d.code: d for d in session.scalars(select(Dossier).where(Dossier.history_import_id.is_not(None)))
        }


def count(unit, model) -> int:
    with unit.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def imported_events(unit) -> list[list[int]]:
    with unit.session() as session:
        rows = session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.topic == "dossiers.imported", OutboxEvent.tenant_id == unit.tenant.id)
            .order_by(OutboxEvent.id)
        )
        return [p["dossier_ids"] for p in rows]


def at(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=VN_TZ)


def test_csv_import_writes_dossiers_history_pauses_and_one_event(unit, cli, tmp_path):
    path = tmp_path / "cu.csv"
    path.write_bytes(csv_bytes(good_rows()))
    result = cli(str(path), "--tenant", unit.tenant.slug)
    assert result.exit_code == 0, result.output
    assert "imported: 6" in result.output

    found = dossiers(unit)
    assert set(found) == {code(n) for n in range(1, 7)}
    first = found[code(1)]
    assert (first.status, first.channel, first.applicant_phone) == (10, 1, "0912000001")
    assert first.received_at == at("01/03/2019 08:00") and first.returned_at == at("06/03/2019 09:00")
    assert (
        found[code(2)].channel == 2
        and found[code(3)].channel == 3
        and found[code(4)].stop_reason == "refused"
    )
    with unit.session() as session:
        trail = session.execute(
            select(
                DossierAction.action,
                DossierAction.from_status,
                DossierAction.to_status,
                DossierAction.on_time_class,
            )
            .where(DossierAction.dossier_id == first.id)
            .order_by(DossierAction.at, DossierAction.id)
        ).all()
        pauses = session.execute(
            select(DossierPause.dossier_id, DossierPause.kind, DossierPause.ended_at)
        ).all()
        withdrawn = session.scalar(
            select(DossierAction.at).where(
                DossierAction.dossier_id == found[code(3)].id, DossierAction.to_status == 7
            )
        )
        run = session.scalar(select(HistoryImport))
    assert [tuple(t) for t in trail] == [
        ("receive", None, 2, None),
        ("transfer", 2, 4, "early"),
        ("complete", 4, 9, None),
        ("return_result", 9, 10, None),
    ]
    assert sorted((p.dossier_id, p.kind, p.ended_at is None) for p in pauses) == [
        (found[code(2)].id, "supplement", False),
        (found[code(5)].id, "supplement", True),
    ]
    assert withdrawn == at("02/03/2019 10:00")
    assert (run.status, run.total_rows, run.imported, run.unchanged, run.done_rows) == ("done", 6, 6, 0, 6)
    assert all(d.history_import_id == run.id for d in found.values())
    assert imported_events(unit) == [sorted(d.id for d in found.values())]
    assert count(unit, Dossier) == 6  # nothing but the import
    with unit.session() as session:  # history is not new usage of the lease (docs/metering.md)
        usage = select(func.count()).select_from(UsageEvent).where(UsageEvent.tenant_id == unit.tenant.id)
        assert session.scalar(usage) == 0


def test_xlsx_import_with_spreadsheet_dates_and_english_headers(unit, platform, app):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "Dossier code",
            "Procedure code",
            "Applicant",
            "Channel",
            "Status",
            "Received at",
            "Due at",
            "Completed at",
            "Applicant ID number",
            "Unknown column",
        ]
    )
    sheet.append(
        [
            code(11),
            PROC,
            "Đặng G",
            2,
            9,
            datetime(2019, 3, 1, 8, 0),
            datetime(2019, 3, 5, 17, 0),
            datetime(2019, 3, 4, 9, 30),
            "031190001234",
            "ignored",
        ]
    )
    sheet.append([None] * 10)  # blank rows are skipped
    sheet.append([code(12), PROC, "Đỗ H", "1", "2", "2019-03-02 08:00", "2019-03-08 17:00", None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    file = reader.check_import_file("du-lieu.xlsx", buffer.getvalue(), max_bytes=10**7)
    assert file.kind == "xlsx"
    with app.app_context(), unit.session() as session:
        run = actions.create_run(session, unit.tenant.slug, file, account_id=None)
        session.commit()
        result = actions.process(session, unit.ref, run)
    assert result.errors == [] and run.status == "done" and run.imported == 2
    found = dossiers(unit)
    assert found[code(11)].completed_at == datetime(2019, 3, 4, 9, 30, tzinfo=VN_TZ)
    assert found[code(11)].applicant_id_number == "031190001234"
    assert found[code(12)].status == 2 and found[code(12)].channel == 1


BAD = [
    line(code(21), "Nguyễn A", "1", "2", "01/03/2019 08:00"),  # row 2: fine
    # row 3: unknown procedure, bad channel
    line(code(22), "Nguyễn B", "fax", "2", "01/03/2019 08:00", proc="9.999999"),
    # row 4: bad date; status 9 without a completion time is only checked once the cells parse
    line(code(23), "Nguyễn C", "1", "9", "31/02/2019 08:00"),
    line(code(21), "", "1", "2", "01/03/2019 08:00"),  # row 5: the code of row 2 again, name missing
    # row 6: due before received; status 10 needs both result times
    line(
        code(24), "Nguyễn D", "1", "10", "05/03/2019 08:00", "01/03/2019 17:00", completed="06/03/2019 08:00"
    ),
    line("HS-1", "Nguyễn E", "1", "2", "01/03/2019 08:00"),  # row 7: bad code format
    line(code(25), "Nguyễn F", "2", "2", "01/03/2019 08:00"),  # row 8: fine
]


def report_rows(data: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [tuple(r) for r in sheet.iter_rows(min_row=3, values_only=True)]


def test_errors_import_nothing_and_the_report_names_each_row_and_column(unit, cli, tmp_path):
    path = tmp_path / "loi.csv"
    path.write_bytes(csv_bytes(BAD))
    result = cli(str(path), "--tenant", unit.tenant.slug)
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    assert dossiers(unit) == {} and imported_events(unit) == []
    rows = report_rows((tmp_path / "loi.errors.xlsx").read_bytes())
    where = {(r[0], r[1]) for r in rows}
    assert where == {
        (3, "Mã thủ tục / Procedure code"),
        (3, "Kênh nộp / Channel"),
        (4, "Ngày tiếp nhận / Received at"),
        (5, "Mã hồ sơ / Dossier code"),
        (5, "Người nộp / Applicant"),
        (6, "Ngày hẹn trả / Due at"),
        (6, "Ngày trả kết quả / Returned at"),
        (7, "Mã hồ sơ / Dossier code"),
    }
    duplicate = next(r for r in rows if r[0] == 5 and r[1].startswith("Mã hồ sơ"))
    assert duplicate[2] == code(21) and "dòng 2" in duplicate[3] and "row 2" in duplicate[4]
    bad_channel = next(r for r in rows if r[1].startswith("Kênh"))
    assert bad_channel[2] == "fax" and bad_channel[3] and bad_channel[4]
    with unit.session() as session:
        run = session.scalar(select(HistoryImport))
    assert (run.status, run.total_rows, run.invalid_rows, run.imported) == ("invalid", 7, 5, 0)


def test_odd_status_digits_far_years_and_overlapping_pauses_are_row_errors(unit, cli, tmp_path):
    rows = good_rows()
    rows[0][6] = "01/03/0219 08:00"  # a typo for 2019
    rows[1][12] = "02/03/2019 08:00..04/03/2019 08:00; 03/03/2019 08:00..05/03/2019 08:00"
    rows[5][5] = "²"  # a digit to str.isdigit, not to int()
    path = tmp_path / "la.csv"
    path.write_bytes(csv_bytes(rows))
    result = cli(str(path), "--tenant", unit.tenant.slug)
    assert result.exit_code == 1, result.output
    found = {(r[0], r[1]): r[3] for r in report_rows((tmp_path / "la.errors.xlsx").read_bytes())}
    assert set(found) == {
        (2, "Ngày tiếp nhận / Received at"),
        (3, "Thời gian chờ bổ sung / Supplement pauses"),
        (7, "Trạng thái / Status"),
    }
    assert "Năm 219" in found[(2, "Ngày tiếp nhận / Received at")]
    assert "chồng lên nhau" in found[(3, "Thời gian chờ bổ sung / Supplement pauses")]


def test_skip_invalid_imports_the_valid_rows_and_keeps_the_report(unit, cli, tmp_path):
    path = tmp_path / "loi.csv"
    path.write_bytes(csv_bytes(BAD, bom=False))
    result = cli(
        str(path), "--tenant", unit.tenant.slug, "--skip-invalid", "--report", str(tmp_path / "r.xlsx")
    )
    assert result.exit_code == 0, result.output
    assert set(dossiers(unit)) == {code(21), code(25)}
    assert len(report_rows((tmp_path / "r.xlsx").read_bytes())) == 8


def snapshot(unit):
    with unit.session() as session:
        return (
            sorted(
                session.execute(
                    select(Dossier.code, Dossier.status, Dossier.row_version, Dossier.updated_at)
                ).all()
            ),
            session.scalar(select(func.count()).select_from(DossierAction)),
            session.scalar(select(func.count()).select_from(DossierPause)),
        )


def test_running_twice_changes_nothing(unit, cli, tmp_path):
    path = tmp_path / "cu.csv"
    path.write_bytes(csv_bytes(good_rows()))
    assert cli(str(path), "--tenant", unit.tenant.slug).exit_code == 0
    before, events = snapshot(unit), imported_events(unit)
    again = cli(str(path), "--tenant", unit.tenant.slug)
    assert again.exit_code == 0 and "imported: 0; đã có / unchanged: 6" in again.output
    assert snapshot(unit) == before and imported_events(unit) == events


def test_batches_each_commit_with_their_event_and_progress(unit, cli, tmp_path):
    rows = [
        [
            f"000.00.01.H99-190302-{n:04d}",
            PROC,
            f"Người {n}",
            "",
            "1",
            "10",
            "02/03/2019 08:00",
            "07/03/2019 17:00",
            "05/03/2019 08:00",
            "06/03/2019 08:00",
            "",
            "",
            "",
            "",
        ]
        for n in range(1, 2001)
    ]
    path = tmp_path / "lon.csv"
    path.write_bytes(csv_bytes(rows))
    result = cli(str(path), "--tenant", unit.tenant.slug, "--batch-size", "600")
    assert result.exit_code == 0, result.output
    assert "Nhập / importing" in result.output
    events = imported_events(unit)
    assert [len(ids) for ids in events] == [600, 600, 600, 200]
    assert len({i for ids in events for i in ids}) == 2000 == count(unit, Dossier)
    assert count(unit, DossierAction) == 2000 * 3
    with unit.session() as session:
        run = session.scalar(select(HistoryImport))
    assert (run.done_rows, run.imported) == (2000, 2000)


def report_facts(platform, unit) -> dict:
    from app.reports.models import ReportDossier, ReportStep

    with platform.shards.platform_session() as session:
        facts = session.scalars(select(ReportDossier).where(ReportDossier.tenant_id == unit.tenant.id))
        steps = session.scalars(select(ReportStep).where(ReportStep.tenant_id == unit.tenant.id))
        return {
            "facts": {f.code: f for f in facts},
            "steps": sorted((s.dossier_id, s.on_time_class, s.started_at, s.handed_over_at) for s in steps),
        }


def test_imported_dossiers_are_in_the_reports_like_native_ones(unit, cli, tmp_path, app, platform):
    from app.reports import feed, store

    path = tmp_path / "cu.csv"
    path.write_bytes(csv_bytes(good_rows()))
    assert cli(str(path), "--tenant", unit.tenant.slug).exit_code == 0
    with unit.session() as session:  # the outbox rows of the import, as the relay hands them to the feed
        events = [
            Event(row.event_id, row.topic, row.tenant_id, row.payload, row.created_at, row.attempts)
            for row in session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.topic == "dossiers.imported", OutboxEvent.tenant_id == unit.tenant.id
                )
            )
        ]
    with app.app_context():
        feed.refresh_facts(events)
    relayed = report_facts(platform, unit)
    facts = relayed["facts"]
    assert set(facts) == {code(n) for n in range(1, 7)}
    first, late, withdrawn, stopped = (facts[code(n)] for n in (1, 2, 3, 4))
    assert first.received_at == at("01/03/2019 08:00") and first.closed_at == at("05/03/2019 10:00")
    assert first.on_time_class == "early" and late.on_time_class == "late"
    assert withdrawn.closed_at == at("02/03/2019 10:00") and stopped.closed_at == at("03/03/2019 10:00")
    assert facts[code(5)].closed_at is None and facts[code(6)].closed_at is None
    assert all(f.is_imported for f in facts.values())
    # pauses count as they do for a native dossier: one closed supplement pause, one still open
    assert (late.supplements, late.paused_kind, len(late.pauses)) == (1, None, 1)
    assert (facts[code(5)].supplements, facts[code(5)].paused_kind) == (1, "supplement")
    assert relayed["steps"] == [(first.dossier_id, "early", at("01/03/2019 08:00"), at("04/03/2019 16:00"))]
    with app.app_context():  # a full rebuild from the source rows agrees with what the feed wrote
        store.rebuild(unit.tenant.id)
    rebuilt = report_facts(platform, unit)
    assert rebuilt["steps"] == relayed["steps"]
    columns = ("status", "channel", "received_at", "due_at", "closed_at", "on_time_class", "overdue_from_day")
    columns += ("paused_kind", "pauses", "supplements")
    assert {c: [getattr(f, k) for k in columns] for c, f in rebuilt["facts"].items()} == {
        c: [getattr(f, k) for k in columns] for c, f in facts.items()
    }


def test_cli_refuses_an_unknown_unit_and_a_file_that_is_not_csv_or_xlsx(unit, cli, tmp_path):
    path = tmp_path / "cu.csv"
    path.write_bytes(csv_bytes(good_rows()))
    unknown = cli(str(path), "--tenant", "no-such-unit")
    assert unknown.exit_code == 1 and "Lỗi / error: không tìm thấy đơn vị" in unknown.output
    pdf = tmp_path / "cu.pdf"
    pdf.write_bytes(b"%PDF-1.4 not a table")
    refused = cli(str(pdf), "--tenant", unit.tenant.slug)
    assert refused.exit_code == 1 and "phải là CSV" in refused.output and "must be a CSV" in refused.output
    bad = tmp_path / "loi.csv"
    bad.write_bytes(csv_bytes(BAD))
    unwritable = cli(str(bad), "--tenant", unit.tenant.slug, "--report", str(tmp_path / "no" / "r.xlsx"))
    assert unwritable.exit_code == 1 and "cannot write the error report" in unwritable.output
    missing = tmp_path / "thieu.csv"
    missing.write_bytes(csv_bytes([["x"]], header=["Mã hồ sơ"]))
    result = cli(str(missing), "--tenant", unit.tenant.slug)
    assert result.exit_code == 1 and "Required columns missing" in result.output
    assert dossiers(unit) == {}


# --- the upload pages --------------------------------------------------------------------------


@pytest.fixture
def admin_client(client_for, unit):
    client = client_for(unit.tenant)
    sign_in_directly(client, unit.account("unit_admin"), unit.tenant)
    return client


def upload(client, data: bytes, name: str, **form):
    token = csrf_from(client, "/backoffice/imports/")
    return client.post(
        "/backoffice/imports/",
        data={"csrf_token": token, "file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def run_job(app, unit, run_id: int):
    with app.app_context():
        return run_in_tenant_scope("app.imports.jobs.run_import", unit.tenant.id, [run_id], {})


def test_upload_validate_report_then_import_valid_rows_anyway(unit, admin_client, app):
    page = admin_client.get("/backoffice/imports/")
    assert page.status_code == 200 and "Nhập hồ sơ từ hệ thống cũ" in page.text
    assert "Import dossiers from the previous system" in admin_client.get("/backoffice/imports/?lang=en").text
    response = upload(admin_client, csv_bytes(BAD), "loi.csv")
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert admin_client.get(f"/backoffice/imports/{run_id}/progress").json["status"] == "validating"
    assert run_job(app, unit, run_id) == "invalid"
    progress = admin_client.get(f"/backoffice/imports/{run_id}/progress").json
    assert progress["status"] == "invalid" and progress["invalid_rows"] == 5 and progress["finished"]
    report = admin_client.get(f"/backoffice/imports/{run_id}/errors.xlsx")
    assert report.status_code == 200 and len(report_rows(report.data)) == 8
    page = admin_client.get(f"/backoffice/imports/{run_id}")
    assert "Import the valid rows anyway" in page.text  # English since ?lang=en above
    token = csrf_from(admin_client, f"/backoffice/imports/{run_id}")
    assert (
        admin_client.post(
            f"/backoffice/imports/{run_id}/import-valid", data={"csrf_token": token}
        ).status_code
        == 302
    )
    assert run_job(app, unit, run_id) == "done"
    progress = admin_client.get(f"/backoffice/imports/{run_id}/progress").json
    assert (progress["imported"], progress["percent"], progress["has_error_report"]) == (2, 100, True)
    assert set(dossiers(unit)) == {code(21), code(25)}
    again = admin_client.post(f"/backoffice/imports/{run_id}/import-valid", data={"csrf_token": token})
    assert again.status_code == 409


def test_upload_refuses_other_types_and_requires_csrf(unit, admin_client):
    response = upload(admin_client, b"\x89PNG\r\n\x1a\n\x00\x00", "cu.csv")
    assert response.status_code == 415 and "CSV" in response.text
    assert upload(admin_client, csv_bytes(good_rows()), "cu.xlsx").status_code == 415
    response = admin_client.post(
        "/backoffice/imports/",
        data={"file": (io.BytesIO(csv_bytes(good_rows())), "cu.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (400, 403)
    assert count(unit, HistoryImport) == 0


def test_pages_are_for_this_units_admin_only(unit, admin_client, client_for, platform, make_tenant, app):
    response = upload(admin_client, csv_bytes(good_rows()), "cu.csv")
    run_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    run_job(app, unit, run_id)
    paths = (
        "/backoffice/imports/",
        f"/backoffice/imports/{run_id}",
        f"/backoffice/imports/{run_id}/progress",
        f"/backoffice/imports/{run_id}/errors.xlsx",
    )
    officer = client_for(unit.tenant)
    sign_in_directly(officer, unit.account("case_officer"), unit.tenant)
    for path in paths:
        assert officer.get(path).status_code == 403
    other = make_tenant("district")
    other_admin = make_account(platform, memberships=[(other, ["unit_admin"])])
    on_ours = client_for(unit.tenant)
    sign_in_directly(on_ours, other_admin, unit.tenant)
    assert on_ours.get(f"/backoffice/imports/{run_id}").status_code in (302, 403)
    on_theirs = client_for(other)
    sign_in_directly(on_theirs, other_admin, other)
    assert on_theirs.get("/backoffice/imports/").status_code == 200
    assert (
        str(run_id) not in on_theirs.get("/backoffice/imports/").text.split("<tbody>")[1].split("</tbody>")[0]
    )
    for path in paths[1:]:
        assert on_theirs.get(path).status_code == 404
    token = csrf_from(on_theirs, "/backoffice/imports/")
    for action in ("import-valid", "retry"):
        response = on_theirs.post(f"/backoffice/imports/{run_id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404
    assert officer.get("/backoffice/imports/template.csv").status_code == 403


def test_a_failed_run_can_be_run_again_and_imports_the_rest(unit, admin_client, app):
    response = upload(admin_client, csv_bytes(good_rows()), "cu.csv")
    run_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    token = csrf_from(admin_client, f"/backoffice/imports/{run_id}")
    assert (
        admin_client.post(f"/backoffice/imports/{run_id}/retry", data={"csrf_token": token}).status_code
        == 409
    )
    with unit.session() as session, session.begin():
        session.get(HistoryImport, run_id).status = "failed"
    assert admin_client.get(f"/backoffice/imports/{run_id}/progress").json["can_retry"]
    assert (
        admin_client.post(f"/backoffice/imports/{run_id}/retry", data={"csrf_token": token}).status_code
        == 302
    )
    assert run_job(app, unit, run_id) == "done"
    assert len(dossiers(unit)) == 6
