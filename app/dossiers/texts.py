"""Text people type into a dossier: control characters out, and no longer than its column or form can hold.

PostgreSQL refuses a NUL in text and Excel any control character, so they are
taken out wherever text comes in; a note, a reason or an item of a list holds at
most ``MAX_TEXT`` characters (form 05 and the logbook print them in narrow cells).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.core.errors import DomainError

MAX_TEXT = 2000
_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class TextTooLong(DomainError):
    status = 422


def one_line(value: str | None) -> str:
    """Line breaks and tabs as one space, other control characters out, trimmed."""
    return _CONTROL.sub("", _BREAKS.sub(" ", value or "")).strip()


def lines(value: str | None) -> str:
    """Line breaks kept (as \\n), other control characters out, trimmed."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text.replace("\t", " ")).strip()


def check_length(value: str, field: str, vi: str, en: str, limit: int = MAX_TEXT) -> str:
    """``value`` itself; 422 naming the field when it is longer than ``limit`` characters."""
    if len(value) > limit:
        raise TextTooLong(
            f"{vi[:1].upper()}{vi[1:]} dài quá {limit} ký tự (hiện có {len(value)}); hãy rút gọn.",
            f"{en[:1].upper()}{en[1:]} is longer than {limit} characters (it has {len(value)}); shorten it.",
            errors={field: {"vi": f"dài quá {limit} ký tự", "en": f"longer than {limit} characters"}},
        )
    return value


def note(value: str | None, field: str = "note") -> str | None:
    """An optional note or reason: cleaned, at most ``MAX_TEXT`` characters; None when empty."""
    text = lines(value)
    return check_length(text, field, "ghi chú", "the note") if text else None


def summary(parts: Iterable[str | None], limit: int = MAX_TEXT) -> str:
    """Parts joined by "; ", cut with "…" at ``limit``: a record's short form of text kept whole elsewhere."""
    text = "; ".join(p for p in parts if p)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
