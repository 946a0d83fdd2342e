"""Print the Circular 01/2018 forms: 01–05 on A5 portrait, the logbook (06) on A4 landscape.

``render(form) -> bytes`` picks the layout from the dataclass. Text is set in the vendored
DejaVu Serif (app/documents/fonts), never a system font, so every Vietnamese letter prints
and reads back from the PDF exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import segno
from fpdf import FPDF
from fpdf.fonts import FontFace

from app.documents.forms import Form01, Form02, Form03, Form04, Form05, Logbook

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FONT_DIR = Path(__file__).with_name("fonts")
FAMILY = "DejaVuSerif"
A5 = (148, 210)  # mm; fpdf2's "A5" name warns about a past fix, a tuple does not

MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
DELIVERY_LABELS = {
    "counter": "Bộ phận Tiếp nhận và Trả kết quả",
    "online": "Cổng Dịch vụ công trực tuyến (kết quả điện tử)",
    "postal": "địa chỉ của người nộp, qua dịch vụ bưu chính công ích",
}
COPY_LABELS = {
    "original": "Bản chính",
    "copy": "Bản sao",
    "certified_copy": "Bản sao chứng thực",
    "electronic": "Bản điện tử",
}
STEP_RESULT_LABELS = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}
# A table row must fit on one page (fpdf2 refuses a taller one): long cell text is cut with "…".
MAX_CELL_CHARS = 600
MAX_CELL_LINES = 30


# -- dates and times, always in Vietnam's zone ------------------------------------------


def local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("forms print timezone-aware datetimes only")
    return moment.astimezone(LOCAL_TZ)


def time_text(moment: datetime) -> str:
    """``08 giờ 05 phút, ngày 15/04/2019``."""
    at = local(moment)
    return f"{at:%H} giờ {at:%M} phút, ngày {at:%d/%m/%Y}"


def short_time(moment: datetime | None) -> str:
    """``08:05 15/04/2019`` for narrow table cells."""
    return "" if moment is None else f"{local(moment):%H:%M %d/%m/%Y}"


def day_text(moment: datetime | date) -> str:
    """``ngày 05 tháng 02 năm 2019`` / ``ngày 15 tháng 4 năm 2019`` (zero only before 10 and 3)."""
    day = local(moment).date() if isinstance(moment, datetime) else moment
    dd = f"{day.day:02d}" if day.day < 10 else str(day.day)
    mm = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {dd} tháng {mm} năm {day.year}"


# -- the page ---------------------------------------------------------------------------


@cache
def font_files() -> tuple[tuple[str, Path], ...]:
    """Checked once per process: a missing font is a broken install, not a bad form."""
    files = (("", FONT_DIR / "DejaVuSerif.ttf"), ("B", FONT_DIR / "DejaVuSerif-Bold.ttf"))
    files += (("I", FONT_DIR / "DejaVuSerif-Italic.ttf"),)
    for _, path in files:
        if not path.is_file():
            raise RuntimeError(f"font file missing: {path}")
    return files


class Sheet(FPDF):
    """An FPDF page with our fonts and the few building blocks every form uses."""

    def __init__(self, *, landscape: bool = False, size: tuple[float, float] = A5, title: str = ""):
        super().__init__(orientation="L" if landscape else "P", unit="mm", format=size)
        for style, path in font_files():
            self.add_font(FAMILY, style, path)
        self.set_margins(12, 10, 12)
        self.set_auto_page_break(True, margin=10)
        self.set_title(title)
        self.set_lang("vi")
        self.set_creator("Motcua")
        self.add_page()

    def font(self, style: str = "", size: float = 10) -> None:
        self.set_font(FAMILY, style, size)

    def text_line(self, text: str, *, style: str = "", size: float = 9, align: str = "L", h: float = 4.6):
        self.font(style, size)
        self.multi_cell(0, h, text, align=align, new_x="LMARGIN", new_y="NEXT")

    def labelled(
        self, label: str, value: str | None, *, size: float = 9, h: float = 4.6, bold: bool = False
    ) -> None:
        """``label`` then ``value`` (in bold when it matters), wrapped as one paragraph."""
        self.set_x(self.l_margin)
        self.font("", size)
        self.write(h, label)
        self.font("B" if bold else "", size)
        self.write(h, f" {value}" if value else " ")
        self.ln(h)

    def numbered(self, items: Sequence[str], *, size: float = 9, h: float = 4.6) -> None:
        self.font("", size)
        for index, item in enumerate(items, start=1):
            self.set_x(self.l_margin + 4)
            self.multi_cell(0, h, f"{index}. {item}", new_x="LMARGIN", new_y="NEXT")

    def column(self, x: float, y: float, w: float, lines: Sequence[tuple[str, str, float]]) -> float:
        """Centred lines (style, text, size) in a column; returns the y below them."""
        self.set_xy(x, y)
        for style, text, size in lines:
            self.font(style, size)
            self.multi_cell(w, 4.2, text, align="C", new_x="LEFT", new_y="NEXT")
        return self.get_y()


def clip(text: str | None, limit: int = MAX_CELL_CHARS) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fit_row(pdf: Sheet, col_widths: Sequence[float], cells: Sequence[str | None]) -> list[str]:
    """The row's cells cut to ``MAX_CELL_CHARS`` and to ``MAX_CELL_LINES`` lines of their column.

    Lines are measured in the current font (the table's), so even a column a few
    characters wide holds its text within a page.
    """
    total = sum(col_widths)
    return [_fit(pdf, clip(text), pdf.epw * w / total) for text, w in zip(cells, col_widths, strict=True)]


def _fit(pdf: Sheet, text: str, width: float) -> str:
    if len(text) <= 60 and text.count("\n") < 10:  # too short to fill a page in any column: not measured
        return text
    lines = pdf.multi_cell(width, 1, text, dry_run=True, output="LINES")
    if len(lines) <= MAX_CELL_LINES:
        return text
    kept = lines[:MAX_CELL_LINES]
    kept[-1] = kept[-1][:-2].rstrip() + "…"
    return "\n".join(kept)


def header(pdf: Sheet, unit_lines: Sequence[tuple[str, str, float]], form_no: str, issued: str) -> None:
    """The form number, the unit on the left, the national motto on the right, the date."""
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.font("I", 8)
    pdf.set_xy(pdf.l_margin, pdf.t_margin - 4)
    pdf.cell(width, 4, form_no, align="R")
    top = pdf.t_margin + 1
    left_w = width * 0.44
    left_end = pdf.column(pdf.l_margin, top, left_w, unit_lines)
    motto_lines = [("B", MOTTO, 7.5), ("B", MOTTO_2, 8), ("", "", 1)]
    right_end = pdf.column(pdf.l_margin + left_w, top, width - left_w, motto_lines)
    # the short rule under the motto, as on every administrative document
    mid = pdf.l_margin + left_w + (width - left_w) / 2
    pdf.line(mid - 18, right_end - 1, mid + 18, right_end - 1)
    pdf.set_xy(pdf.l_margin + left_w, right_end)
    pdf.font("I", 8.5)
    issued = issued[:1].upper() + issued[1:]  # "Ngày 15 tháng 4 năm 2019"
    pdf.multi_cell(width - left_w, 4.2, issued, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_end, pdf.get_y()) + 3)


def unit_lines(form, number: str | None) -> list[tuple[str, str, float]]:
    lines = [("", form.unit.parent_name.upper(), 7)] if form.unit.parent_name else []  # the city has none
    lines.append(("B", form.unit.name.upper(), 7))
    if number:
        lines.append(("", f"Số: {number}", 8))
    return lines


def title(pdf: Sheet, text: str, subtitle: str | None = None) -> None:
    pdf.ln(1)
    pdf.text_line(text, style="B", size=11, align="C")
    if subtitle:
        pdf.text_line(subtitle, style="I", size=9, align="C")
    pdf.ln(2)


def signatures(pdf: Sheet, blocks: Sequence[tuple[str, str, str]]) -> None:
    """Signature blocks side by side (title, hint, printed name); one block sits on the right."""
    if pdf.get_y() > pdf.h - 42:
        pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    col = width / 2
    start_x = pdf.l_margin + (col if len(blocks) == 1 else 0)
    top = pdf.get_y() + 3
    bottom = top
    for index, (heading, hint, name) in enumerate(blocks):
        x = start_x + index * col
        y = pdf.column(x, top, col, [("B", heading, 9), ("I", hint, 8)])
        pdf.set_xy(x, y + 16)
        pdf.font("B", 9.5)
        pdf.multi_cell(col, 5, name, align="C", new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_y(bottom)


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=4, border=2)
    return out.getvalue()


HEADINGS = FontFace(emphasis="BOLD")


# -- the forms --------------------------------------------------------------------------


def form01(form: Form01) -> Sheet:
    pdf = Sheet(title=f"Giấy tiếp nhận hồ sơ và hẹn trả kết quả {form.dossier_code}")
    header(pdf, unit_lines(form, form.number), "Mẫu số 01", day_text(form.received_at))
    title(pdf, "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")
    qr_size = 24
    top = pdf.get_y()
    pdf.image(io.BytesIO(qr_png(form.lookup_url)), x=pdf.w - pdf.r_margin - qr_size, y=top, w=qr_size)
    pdf.set_right_margin(pdf.r_margin + qr_size + 2)  # text flows beside the QR code
    pdf.labelled("Mã hồ sơ:", form.dossier_code, size=10.5, h=5.5, bold=True)
    pdf.labelled("Tra cứu:", form.lookup_url, size=7, h=3.6)
    pdf.labelled(f"{form.unit.name} tiếp nhận hồ sơ của:", form.applicant_name, bold=True)
    pdf.labelled("Địa chỉ:", form.applicant_address)
    pdf.set_y(max(pdf.get_y(), top + qr_size + 1))
    pdf.set_right_margin(12)
    pdf.labelled("Số điện thoại:", form.applicant_phone)
    pdf.labelled("Email:", form.applicant_email)
    pdf.labelled("Nội dung yêu cầu giải quyết:", form.procedure_name, bold=True)
    pdf.labelled("1. Thành phần hồ sơ nộp gồm:", "")
    pdf.font("", 8)
    widths = (8, 62, 20, 10)
    with pdf.table(
        col_widths=widths,
        text_align=("CENTER", "LEFT", "CENTER", "CENTER"),
        line_height=3.8,
        headings_style=HEADINGS,
    ) as table:
        table.row(["TT", "Tên loại giấy tờ", "Hình thức (bản chính, bản sao…)", "Số lượng"])
        for index, line in enumerate(form.components, start=1):
            kind = COPY_LABELS.get(line.original_or_copy, line.original_or_copy)
            table.row(fit_row(pdf, widths, [str(index), line.name, kind, str(line.quantity)]))
    pdf.ln(1)
    pdf.labelled("2. Số lượng hồ sơ:", f"{form.number_of_sets} (bộ)")
    pdf.labelled("3. Thời gian giải quyết hồ sơ theo quy định là:", form.legal_time_text)
    pdf.labelled("4. Thời gian nhận hồ sơ:", time_text(form.received_at))
    pdf.labelled("5. Thời gian trả kết quả giải quyết hồ sơ:", time_text(form.due_at), bold=True)
    pdf.labelled("6. Đăng ký nhận kết quả tại:", DELIVERY_LABELS[form.result_delivery])
    pdf.labelled("Vào Sổ theo dõi hồ sơ, Quyển số:", f"{form.logbook_book}, Số thứ tự: {form.logbook_seq}")
    signatures(
        pdf,
        [
            ("NGƯỜI NỘP HỒ SƠ", "(Ký và ghi rõ họ tên)", form.applicant_name),
            ("NGƯỜI TIẾP NHẬN HỒ SƠ", "(Ký và ghi rõ họ tên)", form.receiver_name),
        ],
    )
    return pdf


def form02(form: Form02) -> Sheet:
    pdf = Sheet(title="Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ")
    header(pdf, unit_lines(form, form.number), "Mẫu số 02", day_text(form.issued_at))
    title(pdf, "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ")
    if form.dossier_code:
        pdf.labelled("Mã hồ sơ:", form.dossier_code, bold=True)
    pdf.labelled("Hồ sơ của:", form.applicant_name, bold=True)
    pdf.labelled("Nội dung yêu cầu giải quyết:", form.procedure_name)
    pdf.text_line(
        f"Sau khi xem xét, đối chiếu thành phần hồ sơ, {form.unit.name} đề nghị Ông/Bà "
        "bổ sung, hoàn thiện hồ sơ gồm những nội dung sau:"
    )
    pdf.numbered(form.items)
    pdf.labelled("Lý do:", form.reason)
    phone = f", số điện thoại {form.officer_phone}" if form.officer_phone else ""
    pdf.text_line(
        "Trong quá trình hoàn thiện hồ sơ, nếu có vướng mắc, Ông/Bà liên hệ với "
        f"{form.officer_name}{phone} để được hướng dẫn."
    )
    pdf.text_line("Xin trân trọng cảm ơn!", style="I")
    signatures(pdf, [("NGƯỜI HƯỚNG DẪN", "(Ký và ghi rõ họ tên)", form.signer_name)])
    return pdf


def form03(form: Form03) -> Sheet:
    pdf = Sheet(title="Phiếu từ chối tiếp nhận giải quyết hồ sơ")
    header(pdf, unit_lines(form, form.number), "Mẫu số 03", day_text(form.issued_at))
    title(pdf, "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ")
    if form.dossier_code:
        pdf.labelled("Mã hồ sơ:", form.dossier_code, bold=True)
    pdf.labelled(f"{form.unit.name} tiếp nhận hồ sơ của:", form.applicant_name, bold=True)
    pdf.labelled("Nội dung yêu cầu giải quyết:", form.procedure_name)
    pdf.text_line(
        f"Qua xem xét, {form.unit.name} thông báo không tiếp nhận, giải quyết hồ sơ này "
        "với lý do cụ thể như sau:"
    )
    pdf.numbered(form.reasons)
    pdf.text_line("Xin thông báo cho Ông/Bà được biết và thực hiện./.", style="I")
    signatures(pdf, [("NGƯỜI TIẾP NHẬN HỒ SƠ", "(Ký và ghi rõ họ tên)", form.signer_name)])
    return pdf


def form04(form: Form04) -> Sheet:
    pdf = Sheet(title="Phiếu xin lỗi và hẹn lại ngày trả kết quả")
    header(pdf, unit_lines(form, form.number), "Mẫu số 04", day_text(form.issued_at))
    title(pdf, "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ")
    pdf.labelled("Kính gửi: Ông/Bà", form.applicant_name, bold=True)
    pdf.labelled("Mã hồ sơ:", form.dossier_code, bold=True)
    pdf.text_line(
        f"Vào {time_text(form.received_at)}, {form.unit.name} tiếp nhận giải quyết hồ sơ "
        f"đề nghị của Ông/Bà {form.applicant_name}."
    )
    pdf.labelled("Thời gian hẹn trả kết quả giải quyết hồ sơ:", time_text(form.original_due_at))
    pdf.text_line(f"Tuy nhiên đến nay, {form.unit.name} chưa trả kết quả giải quyết hồ sơ cho Ông/Bà.")
    pdf.labelled("Lý do:", form.reason)
    pdf.text_line(
        f"Sự chậm trễ này đã gây phiền hà, tốn kém chi phí đi lại của Ông/Bà. {form.unit.name} "
        "xin lỗi Ông/Bà và sẽ trả kết quả giải quyết hồ sơ cho Ông/Bà vào:"
    )
    pdf.text_line(time_text(form.new_due_at), style="B", align="C")
    pdf.text_line("Xin trân trọng cảm ơn!", style="I")
    signatures(pdf, [("THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ", "(Ký, ghi rõ họ tên và đóng dấu)", form.signer_name)])
    return pdf


def form05(form: Form05) -> Sheet:
    """A5 like the others (Circular 01/2018 prints 01–05 on A5): the table wraps, rows run on."""
    pdf = Sheet(title=f"Phiếu kiểm soát quá trình giải quyết hồ sơ {form.dossier_code}")
    header(pdf, unit_lines(form, None), "Mẫu số 05", "")
    title(pdf, "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ")
    pdf.labelled("Mã hồ sơ:", form.dossier_code, bold=True)
    pdf.labelled("Cơ quan (bộ phận) giải quyết hồ sơ:", form.lead_agency)
    pdf.labelled("Cơ quan phối hợp giải quyết hồ sơ:", "; ".join(form.coordinating) or "Không")
    pdf.ln(1)
    pdf.font("", 7.5)
    widths = (46, 24, 14, 16)
    with pdf.table(
        col_widths=widths,
        text_align=("LEFT", "CENTER", "CENTER", "LEFT"),
        line_height=3.6,
        headings_style=HEADINGS,
    ) as table:
        table.row(["Tên cơ quan, người giao, nhận", "Thời gian giao, nhận hồ sơ", "Kết quả", "Ghi chú"])
        for index, row in enumerate(form.rows, start=1):
            who = f"{index}. {row.step_name}\nGiao: {row.giver}\nNhận: {row.receiver}"
            result = STEP_RESULT_LABELS.get(row.result or "", "")
            handed = time_text(row.handed_at).replace(", ", ",\n")
            table.row(fit_row(pdf, widths, [who, handed, result, row.note]))
    pdf.ln(1)
    note = "Kết quả: trước hạn / đúng hạn / quá hạn so với thời hạn của từng bước."
    pdf.text_line(note, style="I", size=7.5)
    return pdf


class LogbookSheet(Sheet):
    def footer(self) -> None:
        self.set_y(-8)
        self.font("I", 7)
        self.cell(0, 4, f"Trang {self.page_no()}/{{nb}}", align="C")


LOGBOOK_HEADINGS = (
    "TT",
    "Mã hồ sơ",
    "Tên thủ tục hành chính",
    "Số lượng hồ sơ (bộ)",
    "Tên cá nhân, tổ chức",
    "Địa chỉ, số điện thoại",
    "Cơ quan chủ trì giải quyết",
    "Nhận hồ sơ",
    "Hẹn trả kết quả",
    "Chuyển hồ sơ đến cơ quan giải quyết",
    "Nhận kết quả từ cơ quan giải quyết",
    "Trả kết quả",
    "Ký nhận",
    "Ghi chú",
)


def logbook(book: Logbook) -> Sheet:
    pdf = LogbookSheet(landscape=True, size=(210, 297), title="Sổ theo dõi hồ sơ")
    pdf.set_margins(8, 10, 8)
    header(pdf, unit_lines(book, None), "Mẫu số 06", "")
    period = f"Từ {day_text(book.period_from)} đến {day_text(book.period_to)}"
    title(pdf, "SỔ THEO DÕI HỒ SƠ", period)
    pdf.font("", 7)
    widths = (8, 38, 32, 12, 24, 28, 22, 17, 17, 17, 17, 17, 14, 15)
    with pdf.table(
        col_widths=widths,
        text_align=("CENTER", "LEFT", "LEFT", "CENTER", "LEFT", "LEFT", "LEFT") + ("CENTER",) * 6 + ("LEFT",),
        line_height=3.4,
        headings_style=HEADINGS,
    ) as table:
        table.row(LOGBOOK_HEADINGS)
        for row in book.rows:
            table.row(
                fit_row(
                    pdf,
                    widths,
                    [
                        str(row.seq),
                        row.dossier_code,
                        row.procedure_name,
                        str(row.number_of_sets),
                        row.applicant_name,
                        row.address_phone or "",
                        row.lead_agency,
                        short_time(row.received_at),
                        short_time(row.due_at),
                        short_time(row.sent_at),
                        short_time(row.result_received_at),
                        short_time(row.returned_at),
                        "",
                        row.note,
                    ],
                )
            )
    if not book.rows:
        pdf.text_line("Không có hồ sơ trong kỳ.", style="I", size=8)
    return pdf


LAYOUTS: dict[type, Callable[..., Sheet]] = {
    Form01: form01,
    Form02: form02,
    Form03: form03,
    Form04: form04,
    Form05: form05,
    Logbook: logbook,
}


def render(form: Form01 | Form02 | Form03 | Form04 | Form05 | Logbook) -> bytes:
    """The form as PDF bytes."""
    layout = LAYOUTS.get(type(form))
    if layout is None:
        raise TypeError(f"no printed layout for {type(form).__name__}")
    return bytes(layout(form).output())
