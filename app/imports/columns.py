"""The documented columns of a history import file (docs/history-import.md) and their parsers.

A header cell may be the column's key (``received_at``), its Vietnamese name or its English
name; case, diacritics and spacing do not matter. Parsers return the value or raise
``BadValue`` with a bilingual message; an empty cell is ``None`` (the validator decides
whether the column is required).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from app.calendar.workcal import VN_TZ
from tenants.naming import strip_diacritics


class BadValue(ValueError):
    def __init__(self, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


@dataclass(frozen=True)
class Column:
    key: str
    vi: str
    en: str
    required: bool = False
    max_len: int | None = None


COLUMNS: tuple[Column, ...] = (
    Column("code", "Mã hồ sơ", "Dossier code", True, 48),
    Column("procedure_code", "Mã thủ tục", "Procedure code", True, 40),
    Column("applicant_name", "Người nộp", "Applicant", True, 255),
    Column("applicant_id_number", "Số giấy tờ tùy thân", "Applicant ID number", max_len=32),
    Column("applicant_phone", "Số điện thoại", "Applicant phone", max_len=32),
    Column("applicant_address", "Địa chỉ", "Applicant address", max_len=1000),
    Column("channel", "Kênh nộp", "Channel", True),
    Column("status", "Trạng thái", "Status", True),
    Column("received_at", "Ngày tiếp nhận", "Received at", True),
    Column("due_at", "Ngày hẹn trả", "Due at", True),
    Column("completed_at", "Ngày có kết quả", "Completed at"),
    Column("returned_at", "Ngày trả kết quả", "Returned at"),
    Column("withdrawn_at", "Ngày rút hồ sơ", "Withdrawn at"),
    Column("stopped_at", "Ngày dừng xử lý", "Stopped at"),
    Column("supplement_pauses", "Thời gian chờ bổ sung", "Supplement pauses"),
    Column("financial_pauses", "Thời gian chờ nghĩa vụ tài chính", "Financial pauses"),
    Column("steps", "Các bước xử lý", "Steps"),
)
BY_KEY = {c.key: c for c in COLUMNS}
DATE_COLUMNS = ("received_at", "due_at", "completed_at", "returned_at", "withdrawn_at", "stopped_at")


def _fold(text: str) -> str:
    return re.sub(r"[\s_/-]+", " ", strip_diacritics(str(text)).lower()).strip()


_HEADER_NAMES = {_fold(name): c.key for c in COLUMNS for name in (c.key, c.vi, c.en)}


def column_for_header(cell) -> str | None:
    """The key a header cell names, or None (unknown columns are ignored)."""
    if cell is None:
        return None
    return _HEADER_NAMES.get(_fold(cell))


# --- values -------------------------------------------------------------------------------------

_CHANNEL_WORDS = {
    "1": 1,
    "truc tiep": 1,
    "tai quay": 1,
    "counter": 1,
    "2": 2,
    "truc tuyen": 2,
    "online": 2,
    "3": 3,
    "buu chinh": 3,
    "bcci": 3,
    "postal": 3,
}
CODE_PATTERN = re.compile(r"[A-Za-z0-9.]{1,30}-\d{6}-\d{4,8}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")
YEARS = (1990, 2100)  # the dates a previous one-stop system can hold
_VN = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def text(value) -> str | None:
    """A cell as stripped text; numbers written by a spreadsheet lose their ``.0``."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    result = str(value).strip()
    return result or None


def parse_code(value: str) -> str:
    if not CODE_PATTERN.fullmatch(value):
        raise BadValue(
            "Mã hồ sơ phải có dạng <mã đơn vị>-<YYMMDD>-<số thứ tự>, ví dụ 000.00.06.H99-190315-0001.",
            "The dossier code must read <unit code>-<YYMMDD>-<sequence>, e.g. 000.00.06.H99-190315-0001.",
        )
    return value


def parse_channel(value: str) -> int:
    channel = _CHANNEL_WORDS.get(_fold(value))
    if channel is None:
        raise BadValue(
            "Kênh nộp phải là 1 (trực tiếp), 2 (trực tuyến) hoặc 3 (bưu chính).",
            "The channel must be 1 (counter), 2 (online) or 3 (postal).",
        )
    return channel


def parse_status(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 2 <= int(value) <= 10 or int(value) == 3:
        raise BadValue(
            "Trạng thái phải là mã DVCQG 2, 4-10 (hồ sơ đã tiếp nhận; hồ sơ bị từ chối (3) không nhập).",
            "The status must be a DVCQG code 2 or 4-10 (received dossiers; refused ones (3) are not "
            "imported).",
        )
    return int(value)


def parse_datetime(value) -> datetime:
    """ISO 8601 or dd/MM/yyyy [HH:mm[:ss]]; no zone means Asia/Ho_Chi_Minh. Spreadsheet dates pass through.

    Years outside YEARS are refused: a typo such as 0219 would otherwise reach the working
    calendar and the reports (and year 1 overflows when converted between zones)."""
    parsed = _parse_datetime(value)
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise BadValue(
            f"Năm {parsed.year} nằm ngoài khoảng {YEARS[0]}–{YEARS[1]}.",
            f"The year {parsed.year} is outside {YEARS[0]}–{YEARS[1]}.",
        )
    return parsed


def _parse_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=VN_TZ)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=VN_TZ)
    raw = str(value).strip()
    try:
        if _ISO.fullmatch(raw):
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        elif match := _VN.fullmatch(raw):
            day, month, year, hour, minute, second = (int(g) if g else 0 for g in match.groups())
            parsed = datetime(year, month, day, hour, minute, second)
        else:
            raise ValueError(raw)
    except ValueError:
        raise BadValue(
            f"“{raw}” không phải ngày giờ hợp lệ (dùng dd/MM/yyyy HH:mm hoặc yyyy-MM-dd HH:mm).",
            f"“{raw}” is not a valid date and time (use dd/MM/yyyy HH:mm or yyyy-MM-dd HH:mm).",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=VN_TZ)


def parse_pauses(value: str) -> list[tuple[datetime, datetime | None]]:
    """``start..end; start..end`` — the last one may be open (``start..``)."""
    intervals = []
    for part in re.split(r"[;\n]", value):
        if not part.strip():
            continue
        start, sep, end = part.partition("..")
        if not sep or not start.strip():
            raise BadValue(
                f"Khoảng tạm dừng “{part.strip()}” phải có dạng bắt_đầu..kết_thúc "
                "(kết thúc để trống nếu đang chờ).",
                f"Pause “{part.strip()}” must read start..end (leave the end empty while still waiting).",
            )
        intervals.append((parse_datetime(start), parse_datetime(end) if end.strip() else None))
    return intervals


def parse_steps(value: str) -> list[tuple[str, datetime, datetime | None]]:
    """``name | finished at | step due at; ...`` — the due time may be left out."""
    steps = []
    for part in re.split(r"[;\n]", value):
        if not part.strip():
            continue
        fields = [f.strip() for f in part.split("|")]
        if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
            raise BadValue(
                f"Bước “{part.strip()}” phải có dạng tên bước | thời điểm hoàn thành | hạn bước.",
                f"Step “{part.strip()}” must read step name | finished at | step due at.",
            )
        due = parse_datetime(fields[2]) if len(fields) == 3 and fields[2] else None
        steps.append((fields[0][:200], parse_datetime(fields[1]), due))
    return steps
