"""Design tokens are data: colours are ``#rrggbb`` that meet WCAG AA contrast, texts are plain text.

Nothing a unit admin types reaches a page as HTML, CSS or script: colours are the
only tokens that reach CSS, and only after ``parse_color`` accepted them; texts go
through Jinja's autoescape; images are names of files this module's sibling
``images`` checked and stored.
"""

from __future__ import annotations

import math
import re

from app.core.errors import DomainError
from app.themes.manifest import Theme

AA_MIN = 4.5
_HEX6 = re.compile(r"#[0-9a-f]{6}")
_HEX3 = re.compile(r"#[0-9a-f]{3}")
IMAGE_NAME = re.compile(r"[0-9a-f]{32}\.(?:png|jpg|webp)")
_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+")
_PHONE = re.compile(r"[0-9+() .\-]{3,30}")


class InvalidTheme(DomainError):
    """One or more tokens were refused; ``errors`` maps each field to its (vi, en) message."""

    status = 422


def parse_color(value: str) -> str | None:
    """``#RGB`` / ``#rrggbb`` (any case, surrounding spaces ignored) as ``#rrggbb``; None otherwise."""
    text = (value or "").strip().lower()
    if _HEX6.fullmatch(text):
        return text
    if _HEX3.fullmatch(text):
        return "#" + "".join(ch * 2 for ch in text[1:])
    return None


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of a ``#rrggbb`` colour."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio (1 to 21) of two ``#rrggbb`` colours, in either order."""
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def format_ratio(ratio: float, *, lang: str) -> str:
    """2.3142 -> "2,31" (vi) / "2.31" (en); cut, not rounded, so 4.499 never reads as 4.50."""
    text = f"{math.floor(ratio * 100) / 100:.2f}"
    return text.replace(".", ",") if lang == "vi" else text


def _contrast_message(theme: Theme, fg: str, bg: str, ratio: float) -> tuple[str, str]:
    fg_vi, fg_en = theme.tokens[fg].label
    bg_vi, bg_en = theme.tokens[bg].label
    return (
        f"Độ tương phản {format_ratio(ratio, lang='vi')}:1 giữa “{fg_vi}” và “{bg_vi}” "
        "thấp hơn mức tối thiểu 4,5:1 (WCAG AA). Hãy chọn màu đậm hơn hoặc nhạt hơn.",
        f"Contrast {format_ratio(ratio, lang='en')}:1 between “{fg_en}” and “{bg_en}” is below the minimum "
        "4.5:1 (WCAG AA). Choose a darker or lighter colour.",
    )


def _clean_text(value: str, *, multiline: bool) -> str:
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    if not multiline:
        return " ".join(line for line in lines if line)
    return "\n".join(lines).strip()


def validate_tokens(theme: Theme, submitted: dict[str, str], *, base: dict[str, str]) -> dict[str, str]:
    """The theme's full token set: ``base`` (defaults or the draft's values) with ``submitted`` applied.

    Unknown keys are ignored. Every problem is collected, then one ``InvalidTheme``
    names them all (field -> (vi, en)), so the form can mark each field at once.
    """
    errors: dict[str, tuple[str, str]] = {}
    tokens = {key: base.get(key, spec.default) for key, spec in theme.tokens.items()}
    for key, spec in theme.tokens.items():
        if key not in submitted:
            continue
        raw = submitted[key]
        if spec.kind == "color":
            color = parse_color(raw)
            if color is None:
                errors[key] = (
                    f"“{spec.label[0]}” phải là mã màu dạng #rrggbb (ví dụ #8b0e0e).",
                    f"“{spec.label[1]}” must be a colour written #rrggbb (for example #8b0e0e).",
                )
            else:
                tokens[key] = color
        elif spec.kind == "image":
            name = (raw or "").strip()
            if name and not IMAGE_NAME.fullmatch(name):
                errors[key] = ("Tệp ảnh không hợp lệ.", "Invalid image file.")
            else:
                tokens[key] = name
        else:
            text = _clean_text(raw, multiline=spec.kind == "multiline")
            if any(ord(ch) < 32 and ch != "\n" for ch in text):
                errors[key] = (
                    f"“{spec.label[0]}” có ký tự điều khiển không hợp lệ.",
                    f"“{spec.label[1]}” holds invalid control characters.",
                )
            elif len(text) > spec.max_chars:
                errors[key] = (
                    f"“{spec.label[0]}” dài {len(text)} ký tự; tối đa {spec.max_chars}.",
                    f"“{spec.label[1]}” is {len(text)} characters long; at most {spec.max_chars}.",
                )
            elif text and spec.kind == "email" and not _EMAIL.fullmatch(text):
                errors[key] = (
                    "Địa chỉ thư điện tử không hợp lệ (ví dụ: mot-cua@ngoquyen.gov.vn).",
                    "Invalid email address (for example: mot-cua@ngoquyen.gov.vn).",
                )
            elif text and spec.kind == "phone" and not _PHONE.fullmatch(text):
                errors[key] = (
                    "Số điện thoại chỉ gồm chữ số, dấu cách và các dấu + ( ) . -",
                    "A phone number holds only digits, spaces and + ( ) . -",
                )
            else:
                tokens[key] = text
    for fg, bg in theme.contrast:
        if fg in errors or bg in errors:
            continue
        ratio = contrast_ratio(tokens[fg], tokens[bg])
        if ratio < AA_MIN:
            errors.setdefault(fg, _contrast_message(theme, fg, bg, ratio))
    if errors:
        first_vi, first_en = next(iter(errors.values()))
        raise InvalidTheme(
            f"Chưa lưu: {len(errors)} mục cần sửa. {first_vi}",
            f"Not saved: {len(errors)} field(s) to correct. {first_en}",
            errors=errors,
        )
    return tokens


def css_color(value: str, fallback: str) -> str:
    """The value if it is exactly ``#rrggbb`` (checked again at render time), else the theme default."""
    return value if isinstance(value, str) and _HEX6.fullmatch(value) else fallback
