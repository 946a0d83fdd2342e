"""Forms 01-05 and the logbook from real dossiers, and dossier attachments through the storage."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.calendar.workcal import VN_TZ
from app.core.storage import get_storage
from app.core.uploads import UploadRejected
from app.dossiers import actions, documents, files, intake
from app.dossiers.models import Dossier, FormDocument
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_uploads import png_bytes

DAY = datetime(2019, 7, 2, 9, 0, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture
def ctx(app):
    with app.test_request_context("/", base_url="http://unit.localhost"):
        yield


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def receive(unit) -> int:
    with unit.session() as session, session.begin():
        return intake.receive_at_counter(unit.desk(session, DAY), unit.actor("counter"), unit.intake()).id


def test_form01_is_an_a5_pdf_with_the_facts_and_is_kept(unit, ctx):
    dossier_id = receive(unit)
    with unit.session() as session, session.begin():
        desk = unit.desk(session, DAY)
        form = session.scalar(select(FormDocument).where(FormDocument.dossier_id == dossier_id))
        pdf = documents.form_pdf(desk, form)
        code = session.get(Dossier, dossier_id).code
        key = form.storage_key
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (420, 595)
    text = text_of(pdf)
    assert code in text and "Nguyễn Thị Hương" in text and "Xác nhận tình trạng hôn nhân" in text
    assert "3 ngày làm việc" in text
    assert get_storage().get(key) == pdf  # a reprint is the same document


def test_supplement_apology_and_tracking_slip(unit, ctx):
    dossier_id = receive(unit)
    steps = [
        ("transfer", "counter", {}),
        ("request_supplement", "officer", {"items": ["Bản sao giấy khai sinh"], "reason": "Thiếu giấy tờ"}),
        ("receive_supplement", "counter", {}),
        (
            "apologise",
            "head",
            {"new_due_at": datetime(2019, 7, 12, 16, 0, tzinfo=VN_TZ), "reason": "Chờ xác minh"},
        ),
    ]
    for hours, (name, who, kwargs) in enumerate(steps, start=1):
        with unit.session() as session, session.begin():
            desk = unit.desk(session, DAY + timedelta(hours=hours))
            getattr(actions, name)(desk, unit.actor(who), actions.load(desk, dossier_id), **kwargs)
    with unit.session() as session, session.begin():
        desk = unit.desk(session, DAY)
        forms = {
            f.form_no: f
            for f in session.scalars(select(FormDocument).where(FormDocument.dossier_id == dossier_id))
        }
        assert set(forms) == {"01", "02", "04"}
        assert "Bản sao giấy khai sinh" in text_of(documents.form_pdf(desk, forms["02"]))
        assert "Chờ xác minh" in text_of(documents.form_pdf(desk, forms["04"]))
        slip = documents.tracking_slip(desk, session.get(Dossier, dossier_id))
        assert [row.step_name for row in slip.rows][:2] == ["Tiếp nhận", "Tiếp nhận"]
        assert slip.rows[1].result in ("early", "on_time", "late")
        assert text_of(documents.tracking_slip_pdf(desk, session.get(Dossier, dossier_id)))


def test_logbook_pdf_and_excel(unit, ctx):
    first, second = receive(unit), receive(unit)
    with unit.session() as session, session.begin():
        desk = unit.desk(session, DAY + timedelta(hours=1))
        actions.transfer(desk, unit.actor("counter"), actions.load(desk, first))
    with unit.session() as session:
        desk = unit.desk(session, DAY)
        book = documents.logbook_model(desk, date(2019, 7, 2), date(2019, 7, 2))
        codes = [row.dossier_code for row in book.rows]
        assert session.get(Dossier, first).code in codes and session.get(Dossier, second).code in codes
        sent = {row.dossier_code: row.sent_at for row in book.rows}
        assert sent[session.get(Dossier, first).code] == DAY + timedelta(hours=1)  # handed on at 10:00
        assert sent[session.get(Dossier, second).code] is None  # still at the counter
        page = PdfReader(io.BytesIO(documents.logbook(desk, date(2019, 7, 2), date(2019, 7, 2)))).pages[0]
        assert float(page.mediabox.width) > float(page.mediabox.height)  # A4 landscape
        sheet = load_workbook(
            io.BytesIO(documents.logbook(desk, date(2019, 7, 2), date(2019, 7, 2), "xlsx"))
        ).active
        cells = {str(c.value) for row in sheet.iter_rows() for c in row}
        assert set(codes) <= cells


def test_attach_checks_stores_and_logs_views(unit, ctx):
    dossier_id = receive(unit)
    with unit.session() as session, session.begin():
        desk = unit.desk(session, DAY)
        dossier = session.get(Dossier, dossier_id)
        row = files.attach(desk, unit.actor("counter"), dossier, "Giấy tờ tùy thân.png", png_bytes())
        assert row.content_type == "image/png" and row.storage_key.startswith(unit.tenant.slug + "/")
        with pytest.raises(UploadRejected) as forged:
            files.attach(desk, unit.actor("counter"), dossier, "to-khai.pdf", png_bytes())
        assert forged.value.status == 415
        file_id = row.id
    with unit.session() as session, session.begin():
        desk = unit.desk(session, DAY)
        stored, data = files.open_file(desk, unit.actor("officer"), session.get(Dossier, dossier_id), file_id)
        assert data == png_bytes() and stored.filename == "Giấy tờ tùy thân.png"
    with unit.session() as session:
        logged = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity == "dossier", AuditEvent.entity_id == str(dossier_id)
            )
        ).all()
        assert f"view_file:{file_id}" in logged
