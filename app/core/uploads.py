"""Checks every uploaded file passes before it is stored: size, real type, a safe name.

The type is decided by the content (magic bytes; a DOCX is a ZIP holding
``[Content_Types].xml`` and ``word/document.xml``), never by the name or the
browser's Content-Type, and the extension must agree with it.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from app.core.errors import DomainError

ALLOWED_LABEL = "PDF, JPEG, PNG, DOCX"
FALLBACK_STEM = "tep-dinh-kem"
MAX_NAME_CHARS = 120
# A real Word file has a few dozen entries; thousands, or gigabytes once inflated, are a zip bomb.
DOCX_MAX_ENTRIES = 1000
DOCX_MAX_INFLATED = 200 * 1024 * 1024

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# kind -> (content type, extensions that may carry it)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pdf": ("application/pdf", (".pdf",)),
    "jpeg": ("image/jpeg", (".jpg", ".jpeg")),
    "png": ("image/png", (".png",)),
    "docx": (DOCX_TYPE, (".docx",)),
}

_RESERVED_CHARS = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}


class UploadRejected(DomainError):
    status = 422


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes


def check_upload(filename: str, data: bytes, *, max_bytes: int) -> CheckedFile:
    """Accept a PDF, JPEG, PNG or DOCX within ``max_bytes``, or raise ``UploadRejected``."""
    shown = sanitize_filename(filename)
    if not data:
        raise UploadRejected(
            f"Tệp “{shown}” rỗng (0 byte). Hãy chọn lại đúng tệp cần nộp.",
            f"File “{shown}” is empty (0 bytes). Choose the right file again.",
        )
    if len(data) > max_bytes:
        limit = _megabytes(max_bytes)
        raise UploadRejected(
            f"Tệp “{shown}” quá lớn ({_megabytes(len(data))} MB). Dung lượng tối đa là {limit} MB; "
            "hãy nén hoặc quét lại với độ phân giải thấp hơn.",
            f"File “{shown}” is too large ({_megabytes(len(data))} MB). The limit is {limit} MB; "
            "compress it or scan at a lower resolution.",
            status=413,
        )
    kind = sniff(data)
    if kind is None:
        raise UploadRejected(
            f"Tệp “{shown}” không thuộc loại được chấp nhận. Chỉ nhận tệp {ALLOWED_LABEL}.",
            f"File “{shown}” is not an accepted type. Only {ALLOWED_LABEL} files are accepted.",
            status=415,
        )
    content_type, extensions = KINDS[kind]
    extension = _extension(shown)
    if extension not in extensions:
        raise UploadRejected(
            f"Tên tệp “{shown}” không khớp với nội dung (nội dung là {kind.upper()}). "
            f"Chỉ nhận tệp {ALLOWED_LABEL} có đuôi đúng với nội dung; hãy nộp tệp gốc.",
            f"The name “{shown}” does not match the content (the content is {kind.upper()}). "
            f"Only {ALLOWED_LABEL} files whose extension matches the content are accepted; "
            "upload the original file.",
            status=415,
        )
    return CheckedFile(
        filename=sanitize_filename(filename, fallback_ext=extensions[0]),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )


def sniff(data: bytes) -> str | None:
    """The kind of file the bytes really are, or None when it is none we accept."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return "docx"
    return None


def _is_docx(data: bytes) -> bool:
    """Read the ZIP directory only: nothing is inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except Exception:  # a crafted directory (NotImplementedError for a version, …): not a DOCX
        return False
    if len(entries) > DOCX_MAX_ENTRIES:
        return False
    if sum(entry.file_size for entry in entries) > DOCX_MAX_INFLATED:
        return False
    names = {entry.filename for entry in entries}
    return "[Content_Types].xml" in names and "word/document.xml" in names


def sanitize_filename(filename: str, *, fallback_ext: str = "") -> str:
    """A name safe to show and store: no path, no control or reserved characters, Vietnamese kept.

    The extension is kept (lower-cased) when the name is cut; ``fallback_ext`` (``.pdf``) names
    the file ``tep-dinh-kem.pdf`` when nothing usable is left.
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[/\\]", name)[-1]  # a browser may send the client's full path
    name = "".join(_clean_char(ch) for ch in name)
    name = _RESERVED_CHARS.sub("", name)
    name = re.sub(r"\s+", " ", name).strip()
    stem, dot, ext = name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,8}", ext):
        stem, ext = name, ""
    stem = stem.strip(" .")  # no hidden files, no trailing dots (Windows drops them)
    ext = f".{ext.lower()}" if ext else ""
    if stem.lower() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    stem = stem[:MAX_NAME_CHARS].rstrip(" .")
    if not stem:
        return FALLBACK_STEM + (ext or fallback_ext)
    return stem + ext


def _clean_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if ch.isspace() or category.startswith("Z"):  # tabs, newlines, no-break spaces
        return " "
    return "" if category.startswith("C") else ch


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def _megabytes(size: int) -> str:
    """10485760 -> "10"; a little more -> "10.1" (rounded up, so it never looks within the limit)."""
    tenths = math.ceil(size * 10 / (1024 * 1024))
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths / 10:.1f}"
