"""Mẫu số 06 — Sổ theo dõi hồ sơ as an Excel workbook, for units that keep the register in a sheet."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from app.documents.forms import Logbook
from app.documents.pdf import LOGBOOK_HEADINGS, day_text, local

HEADER_ROW = 4
DATETIME_FORMAT = "hh:mm dd/mm/yyyy"
# characters per column, in the order of LOGBOOK_HEADINGS
WIDTHS = (6, 28, 36, 10, 26, 32, 26, 17, 17, 17, 17, 17, 12, 24)
# What a spreadsheet may read as the start of a formula (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@")


def logbook_xlsx(book: Logbook) -> bytes:
    """The logbook as .xlsx bytes: a title, one bold header row, one row per dossier."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sổ theo dõi hồ sơ"
    sheet["A1"] = _clean(book.unit.name.upper())
    _as_text(sheet["A1"])
    sheet["A1"].font = Font(bold=True)
    sheet["A2"] = "SỔ THEO DÕI HỒ SƠ (Mẫu số 06)"
    sheet["A2"].font = Font(bold=True, size=13)
    sheet["A3"] = f"Từ {day_text(book.period_from)} đến {day_text(book.period_to)}"
    sheet["A3"].font = Font(italic=True)

    for column, (heading, width) in enumerate(zip(LOGBOOK_HEADINGS, WIDTHS, strict=True), start=1):
        cell = sheet.cell(row=HEADER_ROW, column=column, value=heading)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(column)].width = width

    for row in book.rows:
        sheet.append(
            [
                _clean(value)
                for value in (
                    row.seq,
                    row.dossier_code,
                    row.procedure_name,
                    row.number_of_sets,
                    row.applicant_name,
                    row.address_phone,
                    row.lead_agency,
                    _excel_time(row.received_at),
                    _excel_time(row.due_at),
                    _excel_time(row.sent_at),
                    _excel_time(row.result_received_at),
                    _excel_time(row.returned_at),
                    None,  # the applicant signs on paper when collecting the result
                    row.note,
                )
            ]
        )
        cells = sheet[sheet.max_row]
        for cell in cells:
            if isinstance(cell.value, str):
                _as_text(cell)
        for cell in cells[7:12]:
            cell.number_format = DATETIME_FORMAT
    sheet.freeze_panes = sheet.cell(row=HEADER_ROW + 1, column=1)
    sheet.print_options.gridLines = True
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _clean(value):
    """Text without the control characters Excel refuses (openpyxl raises on them); other values as is."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _as_text(cell: Cell) -> None:
    """The cell's text stays text, never a formula: names and addresses are typed by anyone."""
    cell.data_type = "s"  # openpyxl makes "=…" a formula; a string cell is shown, never computed
    if cell.value.startswith(FORMULA_START):
        cell.quotePrefix = True  # and it stays text when someone edits the cell in Excel


def _excel_time(moment: datetime | None) -> datetime | None:
    """Excel has no time zones: write the local wall-clock time."""
    return None if moment is None else local(moment).replace(tzinfo=None)
