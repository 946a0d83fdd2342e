"""Report files (issue #7): the TTHC 06 table laid out like form 06a/VPCP/KSTT (Circular
01/2020/TT-VPCP) as XLSX and PDF, and the same numbers as CSV.

A ``Table`` is what every writer draws: a title block, a header of merged groups, a row of
column numbers (1), (2) ..., the data rows and a total row. The writers know nothing of the
database; ``app.reports.export_jobs`` builds the table and stores the bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from app.documents.pdf import Sheet

A4 = (210, 297)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {"xlsx": XLSX_TYPE, "pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}
FORMATS = tuple(CONTENT_TYPES)


@dataclass(frozen=True)
class Head:
    """One header cell; ``row``/``col`` are 0-based inside the header block, spans merge cells."""

    text: str
    row: int
    col: int
    rows: int = 1
    cols: int = 1


@dataclass(frozen=True)
class Column:
    """A data column: its full Vietnamese name (CSV), how to read it, its kind and widths."""

    name: str
    value: Callable[[Any], Any]
    kind: str = "int"  # int | rate | hours
    width: float = 9  # XLSX characters
    pdf_width: float = 11  # mm


@dataclass(frozen=True)
class Layout:
    form_no: str
    title: str
    label_name: str  # the second column's header ("Đơn vị", "Lĩnh vực" ...)
    heads: tuple[Head, ...]  # from the third column on (STT and the label span all header rows)
    header_rows: int
    columns: tuple[Column, ...]
    sheet_title: str = "06a-VPCP-KSTT"
    legal_basis: str = ""  # the line under the form number
    unit_of_count: str = "Đơn vị tính: Số hồ sơ TTHC."


@dataclass
class Table:
    layout: Layout
    unit_name: str  # who reports (the unit, the group, the city)
    start: date
    end: date
    rows: list[tuple[str, Any]] = field(default_factory=list)  # (label, data)
    total: Any = None

    @property
    def period_text(self) -> str:
        return f"Kỳ báo cáo: từ ngày {self.start:%d/%m/%Y} đến ngày {self.end:%d/%m/%Y}"


# -- the 06 layout ----------------------------------------------------------------------------------


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


def _int(name: str, label: str) -> Column:
    return Column(label, _attr(name))


def _rate(name: str, label: str) -> Column:
    return Column(label, _attr(name), "rate", 10, 12)


TTHC06 = Layout(
    form_no="Biểu số 06a/VPCP/KSTT",
    title=(
        "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, ĐƠN VỊ "
        "TRỰC TIẾP GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
    ),
    label_name="Đơn vị / Lĩnh vực",
    legal_basis="Ban hành kèm theo Thông tư số 01/2020/TT-VPCP",
    header_rows=3,
    heads=(
        Head("Tổng số hồ sơ", 0, 0, cols=5),
        Head("Tổng số", 1, 0, rows=2),
        Head("Kỳ trước chuyển qua", 1, 1, rows=2),
        Head("Mới tiếp nhận", 1, 2, cols=3),
        Head("Trực tuyến", 2, 2),
        Head("Trực tiếp", 2, 3),
        Head("Dịch vụ bưu chính", 2, 4),
        Head("Số hồ sơ đã giải quyết", 0, 5, cols=4),
        Head("Tổng số", 1, 5, rows=2),
        Head("Trước hạn", 1, 6, rows=2),
        Head("Đúng hạn", 1, 7, rows=2),
        Head("Quá hạn", 1, 8, rows=2),
        Head("Số hồ sơ đang giải quyết", 0, 9, cols=3),
        Head("Tổng số", 1, 9, rows=2),
        Head("Trong hạn", 1, 10, rows=2),
        Head("Quá hạn", 1, 11, rows=2),
        Head("Hồ sơ khác", 0, 12, cols=4),
        Head("Rút hồ sơ", 1, 12, rows=2),
        Head("Đang bổ sung", 1, 13, rows=2),
        Head("Chờ thực hiện NVTC", 1, 14, rows=2),
        Head("Dừng xử lý", 1, 15, rows=2),
        Head("Tỷ lệ (%)", 0, 16, cols=2),
        Head("Đúng hạn (gồm trước hạn)", 1, 16, rows=2),
        Head("Tiếp nhận trực tuyến", 1, 17, rows=2),
    ),
    columns=(
        _int("total", "Tổng số hồ sơ"),
        _int("carried", "Kỳ trước chuyển qua"),
        _int("new_online", "Mới tiếp nhận trực tuyến"),
        _int("new_counter", "Mới tiếp nhận trực tiếp"),
        _int("new_postal", "Mới tiếp nhận qua dịch vụ bưu chính"),
        _int("resolved", "Đã giải quyết - Tổng số"),
        _int("early", "Đã giải quyết - Trước hạn"),
        _int("on_time", "Đã giải quyết - Đúng hạn"),
        _int("late", "Đã giải quyết - Quá hạn"),
        _int("pending", "Đang giải quyết - Tổng số"),
        _int("pending_within", "Đang giải quyết - Trong hạn"),
        _int("pending_over", "Đang giải quyết - Quá hạn"),
        _int("withdrawn", "Rút hồ sơ"),
        _int("supplement", "Đang bổ sung"),
        _int("financial", "Chờ thực hiện nghĩa vụ tài chính"),
        _int("stopped", "Dừng xử lý"),
        _rate("on_time_rate", "Tỷ lệ đúng hạn (%)"),
        _rate("online_rate", "Tỷ lệ tiếp nhận trực tuyến (%)"),
    ),
)


def _hours(name: str, label: str) -> Column:
    return Column(label, _attr(name), "hours", 10, 12)


OFFICIALS = Layout(
    form_no="Theo dõi kết quả thực hiện nhiệm vụ",
    title="KẾT QUẢ GIẢI QUYẾT HỒ SƠ THỦ TỤC HÀNH CHÍNH THEO CÁN BỘ, CÔNG CHỨC VÀ ĐƠN VỊ",
    label_name="Cán bộ / Đơn vị",
    header_rows=2,
    sheet_title="Can bo",
    unit_of_count="Đơn vị tính: Số bước xử lý hồ sơ.",
    heads=(
        Head("Số bước nhận xử lý", 0, 0, rows=2),
        Head("Số bước đã xử lý", 0, 1, cols=5),
        Head("Tổng số", 1, 1),
        Head("Trước hạn", 1, 2),
        Head("Đúng hạn", 1, 3),
        Head("Quá hạn", 1, 4),
        Head("Không có hạn bước", 1, 5),
        Head("Đang giữ", 0, 6, cols=2),
        Head("Trong hạn", 1, 6),
        Head("Quá hạn", 1, 7),
        Head("Yêu cầu bổ sung", 0, 8, rows=2),
        Head("Phiếu xin lỗi (Mẫu 04)", 0, 9, rows=2),
        Head("Thời gian xử lý bình quân (giờ)", 0, 10, cols=2),
        Head("Thực tế", 1, 10),
        Head("Định mức", 1, 11),
        Head("Tỷ lệ đúng hạn (%)", 0, 12, rows=2),
    ),
    columns=(
        _int("received", "Số bước nhận xử lý"),
        _int("done", "Đã xử lý - Tổng số"),
        _int("early", "Đã xử lý - Trước hạn"),
        _int("on_time", "Đã xử lý - Đúng hạn"),
        _int("late", "Đã xử lý - Quá hạn"),
        _int("unclassified", "Đã xử lý - Không có hạn bước"),
        _int("held_within", "Đang giữ - Trong hạn"),
        _int("held_over", "Đang giữ - Quá hạn"),
        _int("supplements", "Yêu cầu bổ sung"),
        _int("apologies", "Phiếu xin lỗi (Mẫu 04)"),
        _hours("avg_step_hours", "Thời gian xử lý bình quân (giờ)"),
        _hours("avg_budget_hours", "Thời gian định mức bình quân (giờ)"),
        _rate("on_time_rate", "Tỷ lệ đúng hạn (%)"),
    ),
)
LAYOUTS = {"tthc06": TTHC06, "officials": OFFICIALS}


def decimal_text(value: float | None) -> str:
    """``12,5`` (one decimal, Vietnamese comma) or empty."""
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def percent(value: float | None) -> str:
    """``87,5`` (Vietnamese decimal comma) or empty when there is nothing to divide by."""
    return "" if value is None else f"{value * 100:.1f}".replace(".", ",")


def _values(layout: Layout, data: Any) -> list[Any]:
    return [column.value(data) for column in layout.columns]


def _lines(table: Table) -> list[tuple[str, str, Any]]:
    """(STT, label, data) of every data row, then the total row."""
    lines = [(str(n), label, data) for n, (label, data) in enumerate(table.rows, start=1)]
    if table.total is not None:
        lines.append(("", "Tổng cộng", table.total))
    return lines


# -- CSV --------------------------------------------------------------------------------------------


def to_csv(table: Table) -> bytes:
    """UTF-8 with a BOM (spreadsheet programs then read the Vietnamese right), one header row."""
    out = io.StringIO()
    writer = csv.writer(out)
    layout = table.layout
    writer.writerow(["STT", layout.label_name, *(column.name for column in layout.columns)])
    for seq, label, data in _lines(table):
        cells = []
        for column, value in zip(layout.columns, _values(layout, data), strict=True):
            cells.append(_text(column, value) if column.kind != "int" else value)
        writer.writerow([seq, label, *cells])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# -- XLSX -------------------------------------------------------------------------------------------

THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
BOLD = Font(name="Times New Roman", bold=True, size=11)
PLAIN = Font(name="Times New Roman", size=11)
ITALIC = Font(name="Times New Roman", italic=True, size=11)
TITLE_ROWS = 6  # unit / form number, the circular, blank, title, period, unit of count
NUMBER_FORMATS = {"int": "#,##0", "rate": "0.0%", "hours": "0.0"}


def _clean(value: Any) -> Any:
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _merge(sheet, row: int, col: int, rows: int, cols: int, text: str, font=BOLD, align=CENTRE) -> None:
    cell = sheet.cell(row=row, column=col, value=_clean(text))
    cell.font = font
    cell.alignment = align
    if rows > 1 or cols > 1:
        sheet.merge_cells(start_row=row, start_column=col, end_row=row + rows - 1, end_column=col + cols - 1)


def _title_block(sheet, table: Table, width: int) -> None:
    half = width // 2
    _merge(sheet, 1, 1, 1, half, table.unit_name.upper())
    _merge(sheet, 1, half + 1, 1, width - half, table.layout.form_no)
    if table.layout.legal_basis:
        _merge(sheet, 2, half + 1, 1, width - half, table.layout.legal_basis, ITALIC)
    _merge(sheet, 4, 1, 1, width, table.layout.title)
    _merge(sheet, 5, 1, 1, width, table.period_text, ITALIC)
    right = Alignment(horizontal="right", vertical="center")
    _merge(sheet, 6, 1, 1, width, table.layout.unit_of_count, ITALIC, right)
    sheet.row_dimensions[4].height = 32


def _header(sheet, layout: Layout, top: int) -> int:
    """The merged header groups and the (1), (2) ... row; returns the first data row."""
    depth = layout.header_rows
    _merge(sheet, top, 1, depth, 1, "STT")
    _merge(sheet, top, 2, depth, 1, layout.label_name)
    for head in layout.heads:
        _merge(sheet, top + head.row, 3 + head.col, head.rows, head.cols, head.text)
    width = 2 + len(layout.columns)
    index_row = top + depth
    for col in range(1, width + 1):
        _merge(sheet, index_row, col, 1, 1, f"({col})", ITALIC)
    for row in range(top, index_row + 1):
        for col in range(1, width + 1):
            sheet.cell(row=row, column=col).border = BOX
    return index_row + 1


def to_xlsx(table: Table) -> bytes:
    """The form's layout: title block, merged header groups, column numbers, rows, total; frozen
    below the header and right of the labels. Counts are numbers, rates are percentages."""
    layout = table.layout
    book = Workbook()
    sheet = book.active
    sheet.title = layout.sheet_title
    width = 2 + len(layout.columns)
    _title_block(sheet, table, width)
    first = _header(sheet, layout, TITLE_ROWS + 2)
    row = first
    for seq, label, data in _lines(table):
        is_total = seq == ""
        cells = [int(seq) if seq else "", _clean(label), *_values(layout, data)]
        for col, value in enumerate(cells, start=1):
            cell = sheet.cell(row=row, column=col, value=value)
            cell.border = BOX
            cell.font = BOLD if is_total else PLAIN
            if col == 2:
                cell.alignment = Alignment(vertical="center", wrap_text=True)
            else:
                cell.alignment = Alignment(horizontal="center" if col == 1 else "right", vertical="center")
            if col > 2:
                cell.number_format = NUMBER_FORMATS[layout.columns[col - 3].kind]
        row += 1
    sheet.column_dimensions["A"].width = 6
    sheet.column_dimensions["B"].width = 36
    for col, column in enumerate(layout.columns, start=3):
        sheet.column_dimensions[get_column_letter(col)].width = column.width
    sheet.freeze_panes = sheet.cell(row=first, column=3)
    sheet.print_options.horizontalCentered = True
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- PDF --------------------------------------------------------------------------------------------

HEADINGS = FontFace(emphasis="BOLD")


class ReportSheet(Sheet):
    def footer(self) -> None:
        self.set_y(-8)
        self.font("I", 7)
        self.cell(0, 4, f"Trang {self.page_no()}/{{nb}}", align="C")


def _text(column: Column, value: Any) -> str:
    """A value as printed: thousands with ".", decimals with "," (Vietnamese), rates in %."""
    if column.kind == "rate":
        return percent(value)
    if column.kind == "hours":
        return decimal_text(value)
    return f"{value:,}".replace(",", ".") if isinstance(value, int) else str(value or "")


def _header_grid(layout: Layout) -> list[list[Head]]:
    """Header cells by row, STT and the label first (spanning every header row)."""
    rows: list[list[Head]] = [[] for _ in range(layout.header_rows)]
    rows[0] += [
        Head("STT", 0, -2, rows=layout.header_rows),
        Head(layout.label_name, 0, -1, rows=layout.header_rows),
    ]
    for head in sorted(layout.heads, key=lambda h: (h.row, h.col)):
        rows[head.row].append(head)
    return rows


def to_pdf(table: Table) -> bytes:
    """A4 landscape; the header repeats on every page."""
    layout = table.layout
    pdf = ReportSheet(landscape=True, size=A4, title=layout.title)
    pdf.set_margins(8, 10, 8)
    pdf.font("B", 8)
    top = pdf.get_y()
    pdf.multi_cell(120, 4, table.unit_name.upper(), align="C")
    pdf.set_xy(pdf.w - pdf.r_margin - 100, top)
    pdf.multi_cell(100, 4, layout.form_no, align="C", new_x="LEFT", new_y="NEXT")
    pdf.font("I", 7.5)
    pdf.multi_cell(100, 4, layout.legal_basis, align="C", new_x="LMARGIN")
    pdf.set_y(pdf.get_y() + 4)
    pdf.text_line(layout.title, style="B", size=10, align="C")
    pdf.text_line(table.period_text, style="I", size=9, align="C")
    pdf.text_line(layout.unit_of_count, style="I", size=8, align="R")
    pdf.ln(1)
    widths = [8, 42, *(column.pdf_width for column in layout.columns)]
    pdf.font("", 7)
    aligns = ("CENTER", "LEFT", *("RIGHT",) * len(layout.columns))
    with pdf.table(
        col_widths=widths,
        text_align=aligns,
        line_height=3.4,
        headings_style=HEADINGS,
        num_heading_rows=layout.header_rows + 1,
    ) as grid:
        for heads in _header_grid(layout):
            row = grid.row()
            for head in heads:
                row.cell(head.text, colspan=head.cols, rowspan=head.rows, align="CENTER")
        row = grid.row()
        for col in range(1, len(widths) + 1):
            row.cell(f"({col})", align="CENTER")
        for seq, label, data in _lines(table):
            cells = [_text(c, v) for c, v in zip(layout.columns, _values(layout, data), strict=True)]
            grid.row([seq, label, *cells], style=HEADINGS if seq == "" else None)
    if not table.rows:
        pdf.text_line("Không có số liệu trong kỳ.", style="I", size=8)
    return bytes(pdf.output())


WRITERS: dict[str, Callable[[Table], bytes]] = {"xlsx": to_xlsx, "pdf": to_pdf, "csv": to_csv}


def render(table: Table, fmt: str) -> bytes:
    return WRITERS[fmt](table)


def file_name(kind: str, start: date, end: date, fmt: str) -> str:
    """``bao-cao-tthc06-20260101-20260331.xlsx``."""
    return f"bao-cao-{kind}-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"


def row_values(table: Table) -> Sequence[list[Any]]:
    """The numbers of every line as the writers see them (tests compare files against these)."""
    return [_values(table.layout, data) for _, _, data in _lines(table)]
