"""Report exports (issue #7): XLSX laid out like form 06a, PDF, CSV, made by an RQ job with
progress, downloadable by the requester only, on the site where it was asked."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from pypdf import PdfReader
from redis import Redis
from rq import Queue

from app.auth.models import Membership
from app.core.jobs import run_in_platform_scope
from app.core.storage import get_storage
from app.reports import scope
from app.reports.export_models import ReportExport
from app.reports.models import ReportDaily, ReportDossier, ReportStep
from app.reports.officials import officials_report
from app.reports.periods import Period
from app.reports.tthc06 import report_06, total_of
from tests.conftest import create_test_tenant
from tests.jobs_fixtures import run_worker
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly

BACK = "/backoffice/reports/exports"
CONSOLE_HOST = "admin.localhost"
PERIOD = {"kind": "range", "from": "2026-01-01", "to": "2026-03-31"}
PERIOD_OBJ = Period(date(2026, 1, 1), date(2026, 3, 31))


def _daily(tenant_id: int, day: date, **counts) -> ReportDaily:
    return ReportDaily(tenant_id=tenant_id, day=day, **counts)


@pytest.fixture(scope="module")
def area(platform, city):
    """A district with two communes (figures in the rollup), another district, and their people."""
    district = create_test_tenant(platform, city, "district", name="Quận Thử Xuất")
    communes = [
        create_test_tenant(platform, city, "commune", parent=district.slug, name=f"Phường Thử {n}")
        for n in ("A", "B")
    ]
    other = create_test_tenant(platform, city, "district", name="Huyện Khác")
    with platform.shards.platform_session() as session, session.begin():
        for n, tenant in enumerate([district, *communes, other], start=1):
            session.add_all(
                [
                    _daily(tenant.id, date(2025, 12, 20), received_counter=2 * n, open_delta=2 * n),
                    _daily(
                        tenant.id,
                        date(2026, 1, 5),
                        received_counter=3,
                        received_online=n,
                        received_postal=1,
                        open_delta=4 + n,
                    ),
                    _daily(
                        tenant.id,
                        date(2026, 2, 10),
                        completed_early=1,
                        completed_on_time=n,
                        completed_late=1,
                        withdrawn=1,
                        open_delta=-(3 + n),
                        overdue_delta=1,
                        supplement_delta=1,
                    ),
                ]
            )
    people = {
        "leader": make_account(platform, memberships=[(district, ["head_of_unit"])]),
        "deputy": make_account(platform, memberships=[(district, ["head_of_unit"])]),
        "commune_leader": make_account(platform, memberships=[(communes[0], ["head_of_unit"])]),
        "other_leader": make_account(platform, memberships=[(other, ["head_of_unit"])]),
        "clerk": make_account(platform, memberships=[(district, ["counter_officer"])]),
        "auditor": make_account(platform, platform_roles=["city_auditor"]),
        "auditor2": make_account(platform, platform_roles=["city_auditor"]),
    }
    return {"district": district, "communes": communes, "other": other, "people": people}


def signed_in(client_for, area, who: str, tenant_key: str = "district"):
    tenant = area[tenant_key] if tenant_key != "commune" else area["communes"][0]
    client = client_for(tenant)
    sign_in_directly(client, area["people"][who], tenant)
    return client


def console_client(client_for, area, who: str = "auditor"):
    client = client_for(host=CONSOLE_HOST)
    sign_in_directly(client, area["people"][who], site="console")
    return client


def low_queue(app) -> Queue:
    return Queue("low", connection=Redis.from_url(app.extensions["motcua"].settings.redis_url))


def run_queued(app) -> list:
    """Run the queued export jobs of "low" exactly as the worker does (run_in_platform_scope), in order.

    Jobs other test files left on this worker's queue (an import, a tenant-scoped job) are not ours.
    """
    queue, results = low_queue(app), []
    for job in queue.jobs:
        if not (job.func_name.endswith("run_in_platform_scope") and job.args[0].startswith("app.reports.")):
            continue
        with app.app_context():
            results.append(run_in_platform_scope(*job.args))
        job.delete()
    return results


def ask(client, fmt: str = "xlsx", *, path: str = BACK, **form):
    data = {"csrf_token": TEST_CSRF, "report": "tthc06", "format": fmt, **PERIOD, **form}
    return client.post(path, data=data)


def export_id_of(response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def load(platform, export_id) -> ReportExport:
    with platform.shards.platform_session() as session:
        return session.get(ReportExport, uuid.UUID(export_id))


def expected(platform, area):
    """(label, Row06) per unit of the district group, as report_06 computes them, and the total."""
    ids = [area["district"].id, *(c.id for c in area["communes"])]
    with platform.shards.platform_session() as session:
        figures = report_06(session, ids, PERIOD_OBJ)
        units = scope.units(session, ids)
        rows = [(unit.name, figures[unit.id]) for unit in units]
    return rows, total_of(row for _, row in rows)


def make_file(app, client, area, fmt: str) -> tuple[str, bytes]:
    export_id = export_id_of(ask(client, fmt, group=f"district:{area['district'].id}"))
    assert run_queued(app) == ["done"]
    status = client.get(f"{BACK}/{export_id}/status").get_json()
    assert status["status"] == "done" and status["done"] == status["total"] == 4  # 3 units + the file
    assert status["percent"] == 100
    response = client.get(status["download_url"])
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    return export_id, response.data


NUMBER_FIELDS = (
    "total",
    "carried",
    "new_online",
    "new_counter",
    "new_postal",
    "resolved",
    "early",
    "on_time",
    "late",
    "pending",
    "pending_within",
    "pending_over",
    "withdrawn",
    "supplement",
    "financial",
    "stopped",
)


def test_xlsx_follows_form_06a_and_holds_report_06s_numbers(app, platform, client_for, area):
    client = signed_in(client_for, area, "leader")
    _, data = make_file(app, client, area, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    texts = {cell.value for row in sheet.iter_rows(max_row=12) for cell in row if cell.value}
    for header in (
        "STT",
        "Đơn vị / Lĩnh vực",
        "Tổng số hồ sơ",
        "Kỳ trước chuyển qua",
        "Mới tiếp nhận",
        "Trực tuyến",
        "Trực tiếp",
        "Dịch vụ bưu chính",
        "Số hồ sơ đã giải quyết",
        "Trước hạn",
        "Đúng hạn",
        "Số hồ sơ đang giải quyết",
        "Trong hạn",
        "Biểu số 06a/VPCP/KSTT",
        "Kỳ báo cáo: từ ngày 01/01/2026 đến ngày 31/03/2026",
        "(1)",
        "(20)",
    ):
        assert header in texts, header
    merged = {str(r) for r in sheet.merged_cells.ranges}
    # STT and the label span the three header rows; the groups span their columns.
    assert {"A8:A10", "B8:B10", "C8:G8", "E9:G9", "H8:K8", "L8:N8"} <= merged
    assert sheet.freeze_panes == "C12"
    assert sheet["A8"].font.bold
    rows, total = expected(platform, area)
    lines = [[c.value for c in row] for row in sheet.iter_rows(min_row=12, max_row=12 + len(rows))]
    for line, (label, row) in zip(lines, [*rows, ("Tổng cộng", total)], strict=True):
        assert line[1] == label
        assert line[2:18] == [getattr(row, name) for name in NUMBER_FIELDS]
        assert line[18] == pytest.approx(row.on_time_rate)
    assert total.total == total.resolved + total.withdrawn + total.stopped + total.pending
    assert total.carried == 2 + 4 + 6  # figures of the three units before the period


def test_pdf_and_csv_carry_the_same_figures(app, platform, client_for, area):
    client = signed_in(client_for, area, "leader")
    rows, total = expected(platform, area)
    _, pdf = make_file(app, client, area, "pdf")
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH" in text
    assert "Kỳ báo cáo: từ ngày 01/01/2026 đến ngày 31/03/2026" in text
    for label, _ in rows:
        assert label in text
    _, data = make_file(app, client, area, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0][:3] == ["STT", "Đơn vị / Lĩnh vực", "Tổng số hồ sơ"]
    assert [line[1] for line in lines[1:]] == [label for label, _ in rows] + ["Tổng cộng"]
    assert [int(v) for v in lines[-1][2:18]] == [getattr(total, name) for name in NUMBER_FIELDS]


def test_a_real_worker_makes_the_file(app, platform, services, client_for, area, monkeypatch):
    monkeypatch.setenv("STORAGE_DIR", platform.settings.storage_dir)  # the worker stores where we read
    client = signed_in(client_for, area, "leader")
    export_id = export_id_of(ask(client, "csv", group=f"unit:{area['district'].id}"))
    page = client.get(f"{BACK}/{export_id}")
    assert page.status_code == 200 and "export-bar" in page.text
    run_worker(services, "-q", "low")
    export = load(platform, export_id)
    assert (export.status, export.done, export.total) == ("done", 2, 2)
    assert client.get(f"{BACK}/{export_id}/download").status_code == 200


def test_only_the_requester_downloads_and_other_units_see_nothing(app, platform, client_for, area):
    client = signed_in(client_for, area, "leader")
    export_id = export_id_of(ask(client, "csv", group=f"unit:{area['district'].id}"))
    run_queued(app)
    deputy = signed_in(client_for, area, "deputy")
    for suffix in ("", "/status", "/download"):
        assert deputy.get(f"{BACK}/{export_id}{suffix}").status_code == 403
    other = signed_in(client_for, area, "other_leader", "other")
    for suffix in ("", "/status", "/download"):
        response = other.get(f"{BACK}/{export_id}{suffix}")
        assert response.status_code == 404
        assert "Quận Thử Xuất" not in response.text
    assert export_id not in other.get(BACK).text
    # Nor on the console, even for the city auditor: a unit's export belongs to its back office.
    assert console_client(client_for, area).get(f"/reports/exports/{export_id}").status_code == 404


def test_scope_limits_what_may_be_exported(app, client_for, area):
    commune = signed_in(client_for, area, "commune_leader", "commune")
    assert ask(commune, group=f"district:{area['district'].id}").status_code == 404
    assert ask(commune, group=f"unit:{area['other'].id}").status_code == 404
    clerk = signed_in(client_for, area, "clerk")
    assert ask(clerk, group=f"unit:{area['district'].id}").status_code == 403
    assert clerk.get(BACK).status_code == 403
    assert low_queue(app).count == 0


def test_bad_input_is_refused_with_a_bilingual_message(app, client_for, area):
    client = signed_in(client_for, area, "leader")
    group = f"unit:{area['district'].id}"
    response = ask(client, "docx", group=group)
    assert response.status_code == 400 and "Định dạng tệp không hợp lệ" in response.text
    assert "Invalid file format" in ask(client, "docx", path=f"{BACK}?lang=en", group=group).text
    assert ask(client, group=group, by="official").status_code == 400
    assert ask(client, group=group, kind="range", **{"from": "2026-13-01"}).status_code == 400
    no_csrf = client.post(BACK, data={"report": "tthc06", "format": "csv", "group": group, **PERIOD})
    assert no_csrf.status_code == 400
    assert low_queue(app).count == 0
    form = client.get(BACK, query_string={"report": "tthc06", "group": group, **PERIOD})
    assert form.status_code == 200 and 'value="2026-01-01"' in form.text


def test_the_job_rechecks_scope_fails_visibly_and_can_be_asked_again(app, platform, client_for, area):
    client = signed_in(client_for, area, "deputy")
    export_id = export_id_of(ask(client, "xlsx", group=f"district:{area['district'].id}"))
    account = area["people"]["deputy"]
    with platform.shards.platform_session() as session, session.begin():
        membership = session.query(Membership).filter_by(account_id=account.id).one()
        membership.roles = ["counter_officer"]  # no longer a leader when the job runs
    assert run_queued(app) == ["failed"]
    export = load(platform, export_id)
    assert export.status == "failed" and export.storage_key is None
    assert "không (còn) được xem" in export.error and "may not" in export.error
    with platform.shards.platform_session() as session, session.begin():
        session.query(Membership).filter_by(account_id=account.id).one().roles = ["head_of_unit"]
    page = client.get(f"{BACK}/{export_id}")
    assert "Yêu cầu lại" in page.text
    retried = client.post(f"{BACK}/{export_id}/retry", data={"csrf_token": TEST_CSRF})
    assert retried.status_code == 303
    assert run_queued(app) == ["done"]
    assert load(platform, export_id).status == "done"
    # A done export is not asked again, and running its job again changes nothing (retry-safe).
    assert client.post(f"{BACK}/{export_id}/retry", data={"csrf_token": TEST_CSRF}).status_code == 409
    done = load(platform, export_id)
    with app.app_context():
        assert run_in_platform_scope("app.reports.export_jobs.run_export", [export_id], {}) == "done"
    again = load(platform, export_id)
    assert (again.storage_key, again.finished_at) == (done.storage_key, done.finished_at)


def test_a_crashing_job_is_marked_failed(app, platform, client_for, area):
    client = signed_in(client_for, area, "leader")
    export_id = export_id_of(ask(client, "csv", group=f"unit:{area['district'].id}"))
    with platform.shards.platform_session() as session, session.begin():
        export = session.get(ReportExport, uuid.UUID(export_id))
        export.params = {**export.params, "by": "nonsense"}
    with pytest.raises(ValueError):
        run_queued(app)
    low_queue(app).empty()
    export = load(platform, export_id)
    assert export.status == "failed" and "ask again" in export.error
    status = client.get(f"{BACK}/{export_id}/status").get_json()
    assert status["status"] == "failed" and status["download_url"] is None
    assert client.get(f"{BACK}/{export_id}/download").status_code == 409


def test_the_city_auditor_exports_on_the_console(app, platform, client_for, area):
    client = console_client(client_for, area)
    assert client.get("/reports/exports").status_code == 200
    response = ask(client, "xlsx", path="/reports/exports", group="districts")
    export_id = export_id_of(response)
    assert run_queued(app) == ["done"]
    status = client.get(f"/reports/exports/{export_id}/status").get_json()
    assert status["status"] == "done"
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(status["download_url"]).data)).active
    labels = [row[1].value for row in sheet.iter_rows(min_row=12)]
    assert "Quận Thử Xuất" in labels and "Huyện Khác" in labels
    # Not on any unit's back office, not for a unit official.
    leader = signed_in(client_for, area, "leader")
    assert leader.get(f"{BACK}/{export_id}").status_code == 404
    other_auditor = console_client(client_for, area, "auditor2")
    for suffix in ("", "/status", "/download"):
        assert other_auditor.get(f"/reports/exports/{export_id}{suffix}").status_code == 403
    not_auditor = client_for(host=CONSOLE_HOST)
    sign_in_directly(not_auditor, area["people"]["leader"], site="console")
    assert not_auditor.post("/reports/exports", data={"csrf_token": TEST_CSRF}).status_code == 403


def test_officials_export_lists_each_official_then_the_unit(app, platform, client_for, area):
    district, leader = area["district"], area["people"]["leader"]
    handed = datetime(2026, 2, 3, 3, 0, tzinfo=UTC)
    with platform.shards.platform_session() as session, session.begin():
        for n, cls in enumerate(("early", "on_time", "late"), start=1):
            session.add(
                ReportStep(
                    tenant_id=district.id,
                    action_id=9000 + n,
                    dossier_id=n,
                    action="forward",
                    account_id=leader.id,
                    started_at=handed - timedelta(hours=4),
                    due_at=handed - timedelta(hours=2) if cls == "late" else handed + timedelta(hours=4),
                    handed_over_at=handed,
                    on_time_class=cls,
                )
            )
    client = signed_in(client_for, area, "leader")
    export_id = export_id_of(ask(client, "xlsx", report="officials", group=f"unit:{district.id}"))
    assert run_queued(app) == ["done"]
    assert load(platform, export_id).params["by"] == "unit"
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(f"{BACK}/{export_id}/download").data)).active
    assert sheet["C8"].value == "Số bước nhận xử lý" and "C8:C9" in {
        str(r) for r in sheet.merged_cells.ranges
    }
    with platform.shards.platform_session() as session:
        rows = officials_report(session, [district.id], PERIOD_OBJ)
    lines = [[c.value for c in row] for row in sheet.iter_rows(min_row=11) if row[1].value]
    assert [line[1] for line in lines] == [
        *(r.name if r.account_id else f"{r.unit_name} (cả đơn vị)" for r in rows),
        "Tổng cộng",
    ]
    mine = next(line for line in lines if line[1] == leader.full_name)
    assert mine[2:8] == [3, 3, 1, 1, 1, 0]  # received, done, early, on time, late, no step deadline
    assert mine[12] == pytest.approx(4.0) and mine[14] == pytest.approx(2 / 3)
    csv_id = export_id_of(ask(client, "csv", report="officials", group=f"unit:{district.id}"))
    pdf_id = export_id_of(ask(client, "pdf", report="officials", group=f"unit:{district.id}"))
    assert run_queued(app) == ["done", "done"]
    table = list(csv.reader(io.StringIO(client.get(f"{BACK}/{csv_id}/download").data.decode("utf-8-sig"))))
    assert table[0][12] == "Thời gian xử lý bình quân (giờ)"
    assert next(line for line in table if line[1] == leader.full_name)[12] == "4,0"  # decimal comma
    assert client.get(f"{BACK}/{pdf_id}/download").data.startswith(b"%PDF")


def test_tidying_deletes_old_exports_requeues_lost_jobs_and_fails_dead_runs(app, platform, client_for, area):
    client = signed_in(client_for, area, "leader")
    group = f"unit:{area['district'].id}"
    old_id = export_id_of(ask(client, "csv", group=group))
    assert run_queued(app) == ["done"]
    lost_id = export_id_of(ask(client, "csv", group=group))
    low_queue(app).empty()  # Redis lost the job
    dead_id = export_id_of(ask(client, "csv", group=group))
    low_queue(app).empty()
    old_key = load(platform, old_id).storage_key
    with platform.shards.platform_session() as session, session.begin():
        for export_id, status, days in (
            (old_id, "done", 31),
            (lost_id, "queued", 0),
            (dead_id, "running", 0),
        ):
            export = session.get(ReportExport, uuid.UUID(export_id))
            export.status = status
            export.created_at = datetime.now(UTC) - timedelta(days=days, hours=1)
    with app.app_context():
        result = run_in_platform_scope("app.reports.export_jobs.tidy_exports", [], {})
        assert not get_storage().exists(old_key)
    assert result["deleted"] >= 1 and result["requeued"] >= 1 and result["interrupted"] >= 1
    assert load(platform, old_id) is None
    assert "ask again" in load(platform, dead_id).error
    # A second sweep does not queue the waiting job twice.
    with app.app_context():
        assert run_in_platform_scope("app.reports.export_jobs.tidy_exports", [], {})["requeued"] == 0
    assert run_queued(app) == ["done"]
    assert load(platform, lost_id).status == "done"


def test_a_breakdown_export_reads_the_facts(app, platform, client_for, area):
    client = signed_in(client_for, area, "leader")
    export_id = export_id_of(ask(client, "csv", group=f"district:{area['district'].id}", by="sector"))
    assert run_queued(app) == ["done"]
    export = load(platform, export_id)
    assert (export.done, export.total) == (2, 2)  # the query, then the file
    lines = list(csv.reader(io.StringIO(client.get(f"{BACK}/{export_id}/download").data.decode("utf-8-sig"))))
    assert lines[-1][1] == "Tổng cộng"  # no dossier facts here: only the total line, all zeros
    assert set(lines[-1][2:18]) == {"0"}


def test_breakdown_exports_name_rows_in_vietnamese_and_english(app, platform, client_for, city):
    """Channel and service-level rows read "vi / en"; a dossier without a level is "Không rõ / Unknown"."""
    district = create_test_tenant(platform, city, "district", name="Quận Nhãn Song Ngữ")
    leader = make_account(platform, memberships=[(district, ["head_of_unit"])])
    with platform.shards.platform_session() as session, session.begin():
        for n, (channel, level) in enumerate(((2, 3), (1, None)), start=1):
            session.add(
                ReportDossier(
                    tenant_id=district.id,
                    dossier_id=n,
                    channel=channel,
                    service_level=level,
                    status=2,
                    received_day=date(2026, 1, 10),
                )
            )
    client = client_for(district)
    sign_in_directly(client, leader, district)
    labels = {}
    for by in ("channel", "level"):
        export_id = export_id_of(ask(client, "csv", group=f"unit:{district.id}", by=by))
        assert run_queued(app) == ["done"]
        text = client.get(f"{BACK}/{export_id}/download").data.decode("utf-8-sig")
        labels[by] = [line[1] for line in csv.reader(io.StringIO(text))][1:]
    assert labels["channel"] == ["Trực tiếp / At the counter", "Trực tuyến / Online", "Tổng cộng"]
    assert labels["level"] == ["Không rõ / Unknown", "Mức 3 / Level 3", "Tổng cộng"]
