"""The Circular 01/2018 forms print on the right paper, with every Vietnamese letter intact."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import segno
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader

from app.documents import pdf as pdf_module
from app.documents.forms import (
    ComponentLine,
    Form01,
    Form02,
    Form03,
    Form04,
    Form05,
    Form05Row,
    Logbook,
    LogbookRow,
    Unit,
)
from app.documents.logbook import HEADER_ROW, logbook_xlsx
from app.documents.pdf import day_text, render, time_text

VN = ZoneInfo("Asia/Ho_Chi_Minh")
A5_PT = (419.53, 595.28)
A4_LANDSCAPE_PT = (841.89, 595.28)

APPLICANT = "Nguyễn Thị Hương"
PROCEDURE = "Đăng ký khai sinh"
CODE = "000.00.23.H99-190415-0007"
URL = f"https://ngo-quyen.localhost/tra-cuu?ma={CODE}"
# 01:05 UTC is 08:05 in Hai Phong: forms must print local time
RECEIVED = datetime(2019, 4, 15, 1, 5, tzinfo=UTC)
DUE = datetime(2019, 4, 17, 16, 30, tzinfo=VN)


@pytest.fixture
def unit() -> Unit:
    return Unit("Ủy ban nhân dân quận Ngô Quyền", "Ủy ban nhân dân thành phố Hải Phòng", "000.00.23.H99")


@pytest.fixture
def form01(unit) -> Form01:
    return Form01(
        unit=unit,
        number="125/TNHS",
        dossier_code=CODE,
        lookup_url=URL,
        applicant_name=APPLICANT,
        applicant_address="Số 12 Lê Lợi, phường Máy Tơ, quận Ngô Quyền",
        applicant_phone="0912 345 678",
        applicant_email="huong@example.vn",
        procedure_name=PROCEDURE,
        components=[
            ComponentLine("Tờ khai đăng ký khai sinh", "original", 1),
            ComponentLine("Giấy chứng sinh", "certified_copy", 2),
        ],
        number_of_sets=1,
        legal_time_text="03 ngày làm việc",
        received_at=RECEIVED,
        due_at=DUE,
        result_delivery="postal",
        logbook_book="01/2019",
        logbook_seq=57,
        receiver_name="Trần Văn Đức",
    )


def read(data: bytes) -> PdfReader:
    assert data.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(data))


def page_size(reader: PdfReader, index: int = 0) -> tuple[float, float]:
    box = reader.pages[index].mediabox
    return float(box.width), float(box.height)


def text_of(reader: PdfReader) -> str:
    """All pages' text, with line wraps folded to single spaces."""
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def assert_a5(reader: PdfReader) -> None:
    for index in range(len(reader.pages)):
        assert page_size(reader, index) == pytest.approx(A5_PT, abs=0.5)


def assert_header(text: str, form_no: str, title: str) -> None:
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "ỦY BAN NHÂN DÂN QUẬN NGÔ QUYỀN" in text
    assert f"Mẫu số {form_no}" in text
    assert title in text


def test_form01_is_a5_with_vietnamese_text_and_local_times(form01):
    reader = read(render(form01))
    text = text_of(reader)

    assert_a5(reader)
    assert len(reader.pages) == 1
    assert_header(text, "01", "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")
    assert f"Mã hồ sơ: {CODE}" in text
    assert APPLICANT in text
    assert PROCEDURE in text
    assert "Giấy chứng sinh" in text and "Bản sao chứng thực" in text
    assert "08 giờ 05 phút, ngày 15/04/2019" in text
    assert "16 giờ 30 phút" in text and "17/04/2019" in text
    assert "bưu chính công ích" in text
    assert "Quyển số: 01/2019, Số thứ tự: 57" in text
    assert "Trần Văn Đức" in text


def test_form01_carries_the_qr_code_of_its_lookup_url(form01):
    page = read(render(form01)).pages[0]

    images = page.images
    assert len(images) == 1
    printed = images[0].image.convert("L")
    # the printed image is exactly segno's encoding of the URL, pixel for pixel
    expected = Image.open(io.BytesIO(pdf_module.qr_png(URL))).convert("L")
    assert printed.size == expected.size
    assert printed.tobytes() == expected.tobytes()
    other = Image.open(io.BytesIO(pdf_module.qr_png(URL + "x"))).convert("L")
    assert other.size != printed.size or other.tobytes() != printed.tobytes()
    assert segno.make(URL, error="m", micro=False).designator.endswith("-M")


def test_form02(unit):
    form = Form02(
        unit=unit,
        number="12/YCBS",
        dossier_code=CODE,
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        items=["Giấy chứng sinh (bản chính)", "Tờ khai ghi thiếu quê quán của người mẹ"],
        reason="Hồ sơ chưa đủ thành phần theo quy định",
        officer_name="Trần Văn Đức",
        officer_phone="0225 3 123 456",
        issued_at=RECEIVED,
        signer_name="Trần Văn Đức",
    )
    reader = read(render(form))
    text = text_of(reader)

    assert_a5(reader)
    assert_header(text, "02", "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ")
    assert "Mã hồ sơ" in text and CODE in text
    assert APPLICANT in text and PROCEDURE in text
    assert "1. Giấy chứng sinh (bản chính)" in text
    assert "2. Tờ khai ghi thiếu quê quán của người mẹ" in text
    assert "0225 3 123 456" in text
    assert "Ngày 15 tháng 4 năm 2019" in text


def test_form03_without_a_dossier_code(unit):
    form = Form03(
        unit=unit,
        number="3/TC",
        dossier_code=None,
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        reasons=["Người được đăng ký khai sinh không cư trú trên địa bàn quận"],
        issued_at=RECEIVED,
        signer_name="Trần Văn Đức",
    )
    reader = read(render(form))
    text = text_of(reader)

    assert_a5(reader)
    assert_header(text, "03", "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ")
    assert "Mã hồ sơ" not in text
    assert APPLICANT in text and PROCEDURE in text
    assert "không cư trú trên địa bàn quận" in text


def test_form04(unit):
    form = Form04(
        unit=unit,
        number="1/XL",
        dossier_code=CODE,
        applicant_name=APPLICANT,
        received_at=RECEIVED,
        original_due_at=DUE,
        reason="Cần xác minh thông tin cư trú với Công an phường",
        new_due_at=DUE + timedelta(days=2),
        issued_at=DUE - timedelta(days=1),
        signer_name="Phạm Quang Vinh",
    )
    reader = read(render(form))
    text = text_of(reader)

    assert_a5(reader)
    assert_header(text, "04", "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ")
    assert "Mã hồ sơ: " + CODE in text
    assert APPLICANT in text
    assert "Cần xác minh thông tin cư trú" in text
    assert "16 giờ 30 phút, ngày 19/04/2019" in text
    assert "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ" in text and "Phạm Quang Vinh" in text


def test_form05_is_a5_with_one_row_per_handover(unit):
    form = Form05(
        unit=unit,
        dossier_code=CODE,
        lead_agency="Phòng Tư pháp quận Ngô Quyền",
        coordinating=["Công an phường Máy Tơ"],
        rows=[
            Form05Row("Bộ phận TN&TKQ", "Phòng Tư pháp", RECEIVED, "Chuyển hồ sơ", "on_time"),
            Form05Row("Phòng Tư pháp", "Lãnh đạo UBND quận", DUE - timedelta(days=1), "Trình ký", "early"),
            Form05Row("Lãnh đạo UBND quận", "Bộ phận TN&TKQ", DUE + timedelta(hours=1), "Trả KQ", "late"),
        ],
    )
    reader = read(render(form))
    text = text_of(reader)

    assert_a5(reader)
    assert_header(text, "05", "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ")
    assert "Mã hồ sơ" in text and CODE in text
    assert "Công an phường Máy Tơ" in text
    for expected in ("Đúng hạn", "Trước hạn", "Quá hạn", "Giao: Bộ phận TN&TKQ", "Nhận: Lãnh đạo UBND quận"):
        assert expected in text
    assert "08 giờ 05 phút" in text


def test_very_long_cell_text_is_cut_so_every_row_fits_a_page(unit, form01):
    """fpdf2 refuses a table row taller than a page: long notes, names and addresses are cut with "…"."""
    huge_note = "Ghi chú rất dài về hồ sơ. " * 80  # 2,000 characters in form 05's narrowest column
    wide = "W" * 590  # under the character cap, but the widest letter: too many lines for the column
    form = Form05(
        unit=unit,
        dossier_code=CODE,
        lead_agency="Phòng Tư pháp",
        rows=[
            Form05Row("Bộ phận TN&TKQ", "Phòng Tư pháp", RECEIVED, "Chuyển hồ sơ", "on_time", huge_note),
            Form05Row("Phòng Tư pháp", "Lãnh đạo", DUE, "Trình ký", "early", wide),
            Form05Row("Lãnh đạo", "Bộ phận TN&TKQ", DUE, "Trả KQ", "late", "dòng\n" * 200),
        ],
    )
    text = text_of(read(render(form)))
    assert "Ghi chú rất dài" in text and "…" in text and "Trả KQ" in text
    row = LogbookRow(
        seq=1,
        dossier_code=CODE,
        procedure_name="Thủ tục " * 200,
        number_of_sets=1,
        applicant_name="Nguyễn " * 40,
        address_phone="Số 12 Lê Lợi, " * 70,  # an address of 1,000 characters
        lead_agency="Phòng Tư pháp",
        received_at=RECEIVED,
        due_at=DUE,
        sent_at=None,
        result_received_at=None,
        returned_at=None,
        note="x" * 2000,
    )
    text = text_of(read(render(Logbook(unit, date(2019, 4, 1), date(2019, 4, 30), [row, row]))))
    assert text.count(CODE) == 2 and "…" in text
    long_document = replace(form01, components=[ComponentLine("Giấy tờ " * 300, "copy", 1)])
    assert "…" in text_of(read(render(long_document)))


@pytest.fixture
def logbook(unit) -> Logbook:
    rows = [
        LogbookRow(
            seq=index,
            dossier_code=f"000.00.23.H99-190415-{index:04d}",
            procedure_name=PROCEDURE,
            number_of_sets=1,
            applicant_name=APPLICANT,
            address_phone="Số 12 Lê Lợi - 0912 345 678",
            lead_agency="Phòng Tư pháp",
            received_at=RECEIVED,
            due_at=DUE,
            sent_at=RECEIVED + timedelta(hours=2),
            result_received_at=DUE - timedelta(hours=3) if index % 2 else None,
            returned_at=DUE if index % 2 else None,
            note="Trả qua bưu điện" if index == 1 else None,
        )
        for index in range(1, 41)
    ]
    return Logbook(unit, date(2019, 4, 1), date(2019, 4, 30), rows)


def test_logbook_pdf_is_a4_landscape_with_every_row(logbook):
    reader = read(render(logbook))
    text = text_of(reader)

    assert len(reader.pages) >= 2  # 40 rows do not fit one page; headings repeat
    for index in range(len(reader.pages)):
        assert page_size(reader, index) == pytest.approx(A4_LANDSCAPE_PT, abs=0.5)
        assert reader.pages[index].get("/Rotate", 0) == 0
    assert "SỔ THEO DÕI HỒ SƠ" in text and "Mẫu số 06" in text
    assert "Từ ngày 01 tháng 4 năm 2019 đến ngày 30 tháng 4 năm 2019" in text
    for row in logbook.rows:
        assert row.dossier_code in text
    assert text.count("Tên thủ tục hành chính") == len(reader.pages)
    assert "08:05 15/04/2019" in text
    assert f"Trang 1/{len(reader.pages)}" in text


def test_empty_logbook_says_so(unit):
    text = text_of(read(render(Logbook(unit, date(2019, 4, 1), date(2019, 4, 30), []))))

    assert "Không có hồ sơ trong kỳ." in text


def test_logbook_xlsx_holds_the_rows(logbook):
    workbook = load_workbook(io.BytesIO(logbook_xlsx(logbook)))
    sheet = workbook.active

    assert sheet["A1"].value == "ỦY BAN NHÂN DÂN QUẬN NGÔ QUYỀN"
    header = [cell.value for cell in sheet[HEADER_ROW]]
    assert header[:3] == ["TT", "Mã hồ sơ", "Tên thủ tục hành chính"]
    assert all(cell.font.b for cell in sheet[HEADER_ROW])
    assert sheet.column_dimensions["C"].width == 36

    rows = list(sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True))
    assert len(rows) == 40
    first = rows[0]
    assert first[:7] == (
        1,
        "000.00.23.H99-190415-0001",
        PROCEDURE,
        1,
        APPLICANT,
        "Số 12 Lê Lợi - 0912 345 678",
        "Phòng Tư pháp",
    )
    assert first[7] == datetime(2019, 4, 15, 8, 5)  # local wall-clock time, Excel has no zones
    assert first[11] == datetime(2019, 4, 17, 16, 30)
    assert first[13] == "Trả qua bưu điện"
    assert rows[1][11] is None  # not returned yet
    assert sheet.cell(row=HEADER_ROW + 1, column=8).number_format == "hh:mm dd/mm/yyyy"
    assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"


def test_logbook_xlsx_writes_what_people_typed_as_text_never_a_formula(unit):
    link = '=HYPERLINK("http://x","y")'
    row = LogbookRow(
        seq=1,
        dossier_code=CODE,
        procedure_name="+84 thủ tục",
        number_of_sets=1,
        applicant_name=link,
        address_phone="Số 12\x01 Lê Lợi\x1f",
        lead_agency="-1+1",
        received_at=RECEIVED,
        due_at=DUE,
        sent_at=None,
        result_received_at=None,
        returned_at=None,
        note="@SUM(A1)",
    )
    data = logbook_xlsx(Logbook(unit, date(2019, 4, 1), date(2019, 4, 30), [row]))
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert b"<f>" not in package.read("xl/worksheets/sheet1.xml")  # no formula anywhere
    sheet = load_workbook(io.BytesIO(data)).active
    cells = sheet[HEADER_ROW + 1]
    assert cells[4].value == link and cells[4].data_type == "s" and cells[4].quotePrefix
    assert cells[5].value == "Số 12 Lê Lợi"  # the control characters Excel refuses are gone
    assert (cells[2].value, cells[6].value, cells[13].value) == ("+84 thủ tục", "-1+1", "@SUM(A1)")
    assert all(cells[i].data_type == "s" and cells[i].quotePrefix for i in (2, 6, 13))
    assert cells[1].value == CODE and not cells[1].quotePrefix


def test_time_texts():
    assert time_text(datetime(2019, 4, 14, 23, 30, tzinfo=UTC)) == "06 giờ 30 phút, ngày 15/04/2019"
    assert day_text(date(2019, 2, 5)) == "ngày 05 tháng 02 năm 2019"
    assert day_text(date(2019, 11, 15)) == "ngày 15 tháng 11 năm 2019"
    assert day_text(datetime(2019, 4, 30, 20, 0, tzinfo=UTC)) == "ngày 01 tháng 5 năm 2019"
    with pytest.raises(ValueError, match="timezone-aware"):
        time_text(datetime(2019, 4, 15, 8, 5))


def test_bad_choices_are_refused(form01):
    with pytest.raises(ValueError, match="result_delivery"):
        Form01(**{**form01.__dict__, "result_delivery": "pigeon"})
    with pytest.raises(ValueError, match="result"):
        Form05Row("A", "B", RECEIVED, "Bước", "soon")
    with pytest.raises(TypeError, match="no printed layout"):
        render(form01.unit)


def test_fonts_are_vendored_with_their_licence():
    files = pdf_module.font_files()

    assert {style for style, _ in files} == {"", "B", "I"}
    for _, path in files:
        assert path.parent == pdf_module.FONT_DIR
        assert path.stat().st_size > 50_000
    assert "Bitstream" in (pdf_module.FONT_DIR / "LICENSE").read_text()


def test_unit_without_a_parent_prints_no_blank_line(form01):
    form01.unit = Unit("Ủy ban nhân dân thành phố Hải Phòng", "", "000.00.00.H99")

    text = text_of(read(render(form01)))

    assert text.startswith("Mẫu số 01 ỦY BAN NHÂN DÂN THÀNH PHỐ HẢI PHÒNG Số: 125/TNHS")
