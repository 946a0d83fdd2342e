"""Reading an import file: CSV (UTF-8, with or without BOM; comma, semicolon or tab) or XLSX (first sheet).

Rows are streamed as ``(row_number, {column key: raw cell})``; the row number is the one a
person sees in the spreadsheet (the header is row 1). The file type is decided by the
content, and the extension must agree (app.core.uploads rules: size, real type, safe name).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from app.core.uploads import UploadRejected, sanitize_filename
from app.imports.columns import COLUMNS, column_for_header

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_INFLATED = 500 * 1024 * 1024  # a zip bomb is refused before openpyxl inflates it


@dataclass(frozen=True)
class ImportFile:
    filename: str
    kind: str  # "csv" | "xlsx"
    data: bytes


def check_import_file(filename: str, data: bytes, *, max_bytes: int) -> ImportFile:
    """A CSV or XLSX within ``max_bytes`` whose extension matches its content, or ``UploadRejected``."""
    shown = sanitize_filename(filename)
    if not data:
        raise UploadRejected(f"Tệp “{shown}” rỗng.", f"File “{shown}” is empty.")
    if len(data) > max_bytes:
        raise UploadRejected(
            f"Tệp “{shown}” quá lớn (tối đa {max_bytes // (1024 * 1024)} MB); hãy chia thành nhiều tệp.",
            f"File “{shown}” is too large (at most {max_bytes // (1024 * 1024)} MB); "
            "split it into several files.",
            status=413,
        )
    kind = "xlsx" if _is_xlsx(data) else "csv" if _is_text(data) else None
    extension = shown.rpartition(".")[2].lower() if "." in shown else ""
    if kind is None or extension != kind:
        raise UploadRejected(
            f"Tệp “{shown}” phải là CSV (UTF-8) hoặc XLSX, có đuôi đúng với nội dung.",
            f"File “{shown}” must be a CSV (UTF-8) or an XLSX whose extension matches its content.",
            status=415,
        )
    return ImportFile(shown, kind, data)


def _is_xlsx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except Exception:  # a crafted or truncated archive is not a workbook
        return False
    names = {entry.filename for entry in entries}
    return "xl/workbook.xml" in names and sum(e.file_size for e in entries) <= XLSX_MAX_INFLATED


def _is_text(data: bytes) -> bool:
    if b"\x00" in data[:65536]:
        return False
    try:
        decode(data)
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes) -> str:
    """UTF-8 with a BOM (Excel's "CSV UTF-8") or without one."""
    return data.decode("utf-8-sig")


class HeaderProblem(ValueError):
    def __init__(self, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


def _header_map(cells) -> dict[int, str]:
    """Column index -> key; refuses a file without the required columns or with a column twice."""
    mapping: dict[int, str] = {}
    for index, cell in enumerate(cells):
        key = column_for_header(cell)
        if key is None:
            continue
        if key in mapping.values():
            raise HeaderProblem(f"Cột “{cell}” xuất hiện hai lần.", f"Column “{cell}” appears twice.")
        mapping[index] = key
    missing = [c for c in COLUMNS if c.required and c.key not in mapping.values()]
    if missing:
        raise HeaderProblem(
            "Thiếu cột bắt buộc: " + ", ".join(c.vi for c in missing) + ".",
            "Required columns missing: " + ", ".join(c.en for c in missing) + ".",
        )
    return mapping


def rows(file: ImportFile) -> Iterator[tuple[int, dict]]:
    """Every non-empty data row as (spreadsheet row number, {key: raw value}); raises ``HeaderProblem``."""
    source = _xlsx_rows(file.data) if file.kind == "xlsx" else _csv_rows(file.data)
    header = next(source, None)
    if header is None:
        raise HeaderProblem("Tệp không có dòng tiêu đề.", "The file has no header row.")
    mapping = _header_map(header)
    for number, cells in enumerate(source, start=2):
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        yield number, {key: (cells[i] if i < len(cells) else None) for i, key in mapping.items()}


def _csv_rows(data: bytes) -> Iterator[list]:
    content = decode(data)
    first_line = content.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    for record in csv.reader(io.StringIO(content, newline=""), delimiter=delimiter):
        yield [cell if cell != "" else None for cell in record]


def _xlsx_rows(data: bytes) -> Iterator[list]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            yield list(values)
    finally:
        workbook.close()
