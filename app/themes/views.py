"""The unit admin's theme pages (``/backoffice/theme``) and the unit's theme images (``/giao-dien/anh/…``)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as browser_session

from app.backoffice.views import admin_required
from app.calendar.workcal import VN_TZ
from app.core.db import get_current_tenant, tenant_db
from app.core.errors import DomainError, NotFound
from app.core.i18n import tr
from app.core.sites import TENANT
from app.core.storage import get_storage
from app.themes import actions, images, queries, rendering
from app.themes.manifest import all_themes, default_theme
from app.themes.rendering import PREVIEW_ARG, PREVIEW_KEY
from app.themes.tokens import IMAGE_NAME, InvalidTheme, validate_tokens

blp = Blueprint("theme_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/theme")
public_blp = Blueprint("theme_public", __name__, subdomain=TENANT)


@public_blp.record_once
def _portal_rendering(state) -> None:
    rendering.init_app(state.app)  # the theme template loader, theme static files, template helpers


STATUS_LABELS = {
    "draft": ("Bản nháp", "Draft"),
    "published": ("Đang công bố", "Published"),
    "archived": ("Đã lưu trữ", "Archived"),
}


def _page(official, *, values: dict | None = None, error: DomainError | None = None, status: int = 200):
    session = tenant_db()
    draft = queries.find_draft(session)
    published = queries.find_published(session)
    theme, tokens = actions.effective_tokens(draft or published)
    return (
        render_template(
            "theme_admin/index.html",
            tenant=get_current_tenant(),
            official=official,
            themes=all_themes(),
            theme=theme,
            values=tokens | (values or {}),
            saved=tokens,
            draft=draft,
            published=published,
            versions=queries.list_versions(session),
            status_labels=STATUS_LABELS,
            default_theme=default_theme(),
            tz=VN_TZ,
            error=error,
            field_errors=(error.errors if error is not None else {}),
        ),
        status,
    )


@blp.get("/")
@admin_required
def index(official):
    return _page(official)


def _uploaded_images(theme) -> tuple[dict[str, images.CheckedImage], dict[str, tuple[str, str]]]:
    checked, errors = {}, {}
    for key in theme.keys_of("image"):
        upload = request.files.get(f"{key}_file")
        if upload is None or not upload.filename:
            continue
        try:
            checked[key] = images.check_image(upload.filename, upload.read(images.MAX_BYTES + 1))
        except images.ImageRejected as exc:
            errors[key] = (exc.vi, exc.en)
    return checked, errors


@blp.post("/")
@admin_required
def save(official):
    session = tenant_db()
    theme, current = actions.effective_tokens(queries.find_draft(session) or queries.find_published(session))
    submitted = {key: request.form[key] for key in theme.tokens if key in request.form}
    for key in theme.keys_of("image"):
        submitted.pop(key, None)  # image names come from uploads, never from the form
        if request.form.get(f"{key}_remove"):
            submitted[key] = ""
    uploads, image_errors = _uploaded_images(theme)
    try:
        # Everything is checked before any image is stored, so a refused form stores nothing.
        validate_tokens(theme, submitted, base=current)
    except InvalidTheme as exc:
        exc.errors.update(image_errors)
        return _page(official, values=submitted, error=exc, status=exc.status)
    if image_errors:
        first_vi, first_en = next(iter(image_errors.values()))
        refused = InvalidTheme(f"Chưa lưu. {first_vi}", f"Not saved. {first_en}", errors=image_errors)
        return _page(official, values=submitted, error=refused, status=refused.status)
    slug = get_current_tenant().slug
    for key, image in uploads.items():
        submitted[key] = images.store_image(get_storage(), slug, image)
    draft = actions.save_tokens(session, submitted, actor_id=official.account.id)
    if request.form.get("then") == "preview":
        return redirect(url_for("unit.unit_home", **{PREVIEW_ARG: draft.id}))
    flash(
        tr(
            "Đã lưu bản nháp. Công chúng vẫn thấy bản đang công bố.",
            "Draft saved. The public still sees the published version.",
        ),
        "success",
    )
    return redirect(url_for(".index"))


@blp.post("/theme")
@admin_required
def choose(official):
    try:
        actions.choose_theme(tenant_db(), request.form.get("theme", ""), actor_id=official.account.id)
    except InvalidTheme as exc:
        tenant_db().rollback()
        return _page(official, error=exc, status=exc.status)
    flash(tr("Đã đổi giao diện trong bản nháp.", "The draft now uses the chosen theme."), "success")
    return redirect(url_for(".index"))


@blp.post("/publish")
@admin_required
def publish(official):
    try:
        version = actions.publish_draft(tenant_db(), actor_id=official.account.id)
    except DomainError as exc:
        tenant_db().rollback()
        return _page(official, error=exc, status=exc.status)
    browser_session.pop(PREVIEW_KEY, None)
    flash(
        tr(f"Đã công bố phiên bản #{version.id}.", f"Version #{version.id} is published."),
        "success",
    )
    return redirect(url_for(".index"))


@blp.post("/versions/<int:theme_version_id>/restore")
@admin_required
def restore(official, theme_version_id: int):
    try:
        draft = actions.restore_version(tenant_db(), theme_version_id, actor_id=official.account.id)
    except DomainError as exc:
        tenant_db().rollback()
        return _page(official, error=exc, status=exc.status)
    flash(
        tr(
            f"Đã chép phiên bản #{theme_version_id} vào bản nháp #{draft.id}. Hãy xem trước rồi công bố.",
            f"Version #{theme_version_id} was copied into draft #{draft.id}. Preview it, then publish.",
        ),
        "success",
    )
    return redirect(url_for(".index"))


@blp.post("/discard")
@admin_required
def discard(official):
    actions.discard_draft(tenant_db())
    flash(tr("Đã bỏ bản nháp.", "Draft discarded."), "success")
    return redirect(url_for(".index"))


@public_blp.get("/giao-dien/anh/<name>")
def image(name: str):
    """A theme image of this unit only: the key is built from the current tenant and a checked name."""
    if not IMAGE_NAME.fullmatch(name):
        raise NotFound("Không tìm thấy tệp.", "File not found.")
    data = get_storage().get(images.image_key(get_current_tenant().slug, name))
    response = current_app.response_class(data, mimetype=images.CONTENT_TYPES[name.rsplit(".", 1)[1]])
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.cache_control.public = True
    response.cache_control.max_age = 86400  # names are unique: a changed image has a new name
    return response
