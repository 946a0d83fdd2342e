"""Writes to a unit's theme: edit the draft, choose another theme, publish, restore.

The unit has at most one draft (what its admin edits and previews) and one
published version (what the public sees). Publishing archives the version
before. Restoring copies an earlier version into the draft, to be previewed and
published like any other change; nothing the public sees changes until then.
Actions flush; the request commits. Every action that writes takes the unit's
theme lock first (a transaction-level advisory lock), so two saves at once, say
two first saves that would both create the draft, run one after the other.
"""

from __future__ import annotations

from sqlalchemy import func, text
from sqlalchemy.orm import Session

from app.core.errors import Conflict, NotFound
from app.themes import queries
from app.themes.manifest import Theme, default_theme, find_theme
from app.themes.models import ARCHIVED, DRAFT, PUBLISHED, ThemeVersion
from app.themes.tokens import InvalidTheme, validate_tokens
from tenants.base import TENANT_SCHEMA


def lock_theme(session: Session) -> None:
    """Wait for, then hold until commit, the unit's theme lock (keyed by the unit's schema).

    Reads made after it see what the previous holder committed (READ COMMITTED), so
    the second of two concurrent first saves finds the draft the first one made.
    """
    translated = session.connection().get_execution_options().get("schema_translate_map") or {}
    schema = translated.get(TENANT_SCHEMA) or session.scalar(text("SELECT current_schema()"))
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"motcua.themes:{schema}"}
    )


def _theme_named(name: str) -> Theme:
    theme = find_theme(name)
    if theme is None:
        raise InvalidTheme(
            f"Không có giao diện “{name}”.",
            f"There is no theme “{name}”.",
            errors={"theme": ("Hãy chọn một giao diện trong danh sách.", "Choose a theme from the list.")},
        )
    return theme


def effective_tokens(version: ThemeVersion | None) -> tuple[Theme, dict[str, str]]:
    """The theme and full token set a version stands for (defaults where it says nothing)."""
    theme = (find_theme(version.theme) if version is not None else None) or default_theme()
    tokens = theme.defaults()
    if version is not None and version.theme == theme.name:
        tokens.update({k: v for k, v in (version.tokens or {}).items() if k in tokens and isinstance(v, str)})
    return theme, tokens


def ensure_draft(session: Session, *, actor_id: int | None) -> ThemeVersion:
    """The unit's draft; made from the published version (or the default theme) when there is none."""
    lock_theme(session)
    draft = queries.find_draft(session)
    if draft is not None:
        return draft
    theme, tokens = effective_tokens(queries.find_published(session))
    draft = ThemeVersion(theme=theme.name, status=DRAFT, tokens=tokens, created_by_account_id=actor_id)
    session.add(draft)
    session.flush()
    return draft


def save_tokens(session: Session, submitted: dict[str, str], *, actor_id: int | None) -> ThemeVersion:
    """Validate ``submitted`` against the draft's theme and store the full token set in the draft."""
    draft = ensure_draft(session, actor_id=actor_id)
    theme, current = effective_tokens(draft)
    draft.tokens = validate_tokens(theme, submitted, base=current)
    draft.updated_at = func.now()
    session.flush()
    return draft


def choose_theme(session: Session, name: str, *, actor_id: int | None) -> ThemeVersion:
    """Switch the draft to another theme: its colours start from that theme's defaults, the rest is kept."""
    theme = _theme_named(name)
    draft = ensure_draft(session, actor_id=actor_id)
    if draft.theme == theme.name:
        return draft  # the same theme again keeps its colours
    _, current = effective_tokens(draft)
    kept = {k: v for k, v in current.items() if k in theme.tokens and theme.tokens[k].kind != "color"}
    draft.theme = theme.name
    draft.tokens = validate_tokens(theme, kept, base=theme.defaults())
    draft.updated_at = func.now()
    session.flush()
    return draft


def publish_draft(session: Session, *, actor_id: int | None) -> ThemeVersion:
    """The draft becomes what the public sees; the version published before is archived."""
    lock_theme(session)
    draft = queries.find_draft(session)
    if draft is None:
        raise Conflict(
            "Không có bản nháp để công bố. Hãy sửa giao diện hoặc khôi phục một phiên bản trước.",
            "There is no draft to publish. Edit the theme or restore an earlier version first.",
        )
    theme = _theme_named(draft.theme)
    _, current = effective_tokens(draft)
    tokens = validate_tokens(theme, current, base=theme.defaults())  # the rules may be newer than the draft
    published = queries.find_published(session)
    if published is not None:
        published.status = ARCHIVED
        session.flush()  # one published version at a time (a partial unique index)
    draft.tokens = tokens
    draft.status = PUBLISHED
    draft.published_at = func.now()
    draft.published_by_account_id = actor_id
    session.flush()
    return draft


def restore_version(session: Session, version_id: int, *, actor_id: int | None) -> ThemeVersion:
    """Copy an earlier (published or archived) version into the draft, replacing the draft's values."""
    lock_theme(session)
    source = queries.find_version(session, version_id)
    if source is None or source.status == DRAFT:
        raise NotFound("Không tìm thấy phiên bản giao diện.", "Theme version not found.")
    theme = _theme_named(source.theme)
    _, tokens = effective_tokens(source)
    tokens = validate_tokens(theme, tokens, base=theme.defaults())
    draft = queries.find_draft(session)
    if draft is None:
        draft = ThemeVersion(status=DRAFT, created_by_account_id=actor_id)
        session.add(draft)
    draft.theme = theme.name
    draft.tokens = tokens
    draft.restored_from_id = source.id
    draft.updated_at = func.now()
    session.flush()
    return draft


def discard_draft(session: Session) -> None:
    lock_theme(session)
    draft = queries.find_draft(session)
    if draft is not None:
        session.delete(draft)
        session.flush()
