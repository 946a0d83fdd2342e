"""The row-by-row error report of an import file (XLSX): row, column, value, message in both languages."""

from __future__ import annotations

import io
from collections.abc import Iterable

from app.imports.columns import BY_KEY
from app.imports.validate import RowError

HEADERS = (
    "Dòng / Row",
    "Cột / Column",
    "Giá trị / Value",
    "Lỗi (tiếng Việt)",
    "Error (English)",
)
WIDTHS = (12, 36, 36, 60, 60)


def column_label(key: str) -> str:
    column = BY_KEY.get(key)
    return f"{column.vi} / {column.en}" if column else "(cả dòng) / (whole row)"


def build(errors: Iterable[RowError], *, filename: str = "") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Loi - Errors")
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    if filename:
        sheet.append([f"Tệp / File: {filename}"])
    sheet.append(list(HEADERS))
    for error in errors:
        # The cell's value is the file's text as it was: never a formula, even when it starts with "=".
        value = WriteOnlyCell(sheet, value=error.value)
        value.data_type = "s"
        sheet.append([error.row, column_label(error.column), value, error.vi, error.en])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
