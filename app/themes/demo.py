"""Demo themes: two of the featured units wear a published theme, so both themes can be seen at once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.themes.manifest import find_theme
from app.themes.models import PUBLISHED, ThemeVersion
from app.themes.tokens import validate_tokens

DEMO_THEMES: dict[str, tuple[str, dict[str, str]]] = {
    "ngo-quyen": (
        "trang-trong",
        {
            "unit_name_line": "Ủy ban nhân dân quận Ngô Quyền",
            "contact_address": "Số 3 Lê Lợi, phường Máy Chai, quận Ngô Quyền, thành phố Hải Phòng",
            "contact_phone": "0225 3836 123",
            "contact_email": "motcua@ngoquyen.haiphong.gov.vn",
            "contact_hours": "Thứ Hai – Thứ Sáu: 7:30–11:30, 13:30–17:00\nSáng thứ Bảy: 7:30–11:30",
            "footer_text": "Bộ phận Một cửa quận Ngô Quyền (dữ liệu minh họa)",
        },
    ),
    "may-chai": (
        "hien-dai",
        {
            "unit_name_line": "UBND phường Máy Chai",
            "contact_address": "Số 1 Máy Chai, quận Ngô Quyền, Hải Phòng",
            "contact_phone": "0225 3765 432",
            "contact_email": "motcua@maychai.haiphong.gov.vn",
            "contact_hours": "Thứ Hai – Thứ Sáu: 7:30–17:00",
            "footer_text": "Phường Máy Chai (dữ liệu minh họa)",
        },
    ),
}


def seed_demo_theme(session: Session, slug: str) -> bool:
    """Publish the unit's demo theme unless it has any theme version already; True when one was made."""
    if slug not in DEMO_THEMES or session.scalar(select(ThemeVersion.id).limit(1)) is not None:
        return False
    name, texts = DEMO_THEMES[slug]
    theme = find_theme(name)
    tokens = validate_tokens(theme, texts, base=theme.defaults())
    session.add(ThemeVersion(theme=name, status=PUBLISHED, tokens=tokens, published_at=func.now()))
    session.flush()
    return True
