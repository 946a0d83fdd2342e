"""Unit admin pages for internal processes (``/backoffice/processes``): create, edit drafts, publish."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.auth.access import check_csrf, require_role
from app.auth.roles import TENANT_ROLES, UNIT_ADMIN
from app.backoffice.views import official_required
from app.core.db import get_current_tenant, tenant_db
from app.core.errors import DomainError
from app.core.i18n import tr
from app.core.sites import TENANT
from app.processes import forms, queries
from app.processes import services as ps
from app.processes.checks import CONDITIONS, KINDS, Problem
from app.processes.legal import hours_text, number_text
from app.processes.models import ProcessVersion
from app.processes.services import LOCAL_TZ

blp = Blueprint("processes_admin", __name__, subdomain=TENANT, url_prefix="/backoffice/processes")

STATUS_LABELS = {
    "draft": ("Bản nháp", "Draft"),
    "published": ("Đang áp dụng", "Published"),
    "retired": ("Hết hiệu lực", "Retired"),
}


def _page(template: str, official, status: int = 200, **context):
    return (
        render_template(
            f"processes/{template}",
            tenant=get_current_tenant(),
            official=official,
            status_labels=STATUS_LABELS,
            number_text=number_text,
            tz=LOCAL_TZ,
            kinds=KINDS,
            roles=TENANT_ROLES,
            conditions=CONDITIONS,
            **context,
        ),
        status,
    )


# Form fields read as ids -> how the page names them (Vietnamese, English).
_ID_FIELDS = {"procedure_id": ("Thủ tục", "Procedure"), "case_id": ("Trường hợp", "Case")}


def _form_int(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()):
        vi, en = _ID_FIELDS[name]
        raise DomainError(
            f"{vi} đã chọn không hợp lệ; hãy chọn lại từ danh sách.",
            f"The {en.lower()} chosen is not valid; choose again from the list.",
            status=400,
        )
    return int(raw)


@blp.get("/")
@official_required
def index(official):
    require_role(official, UNIT_ADMIN)
    return _page("index.html", official, rows=queries.list_process_rows(tenant_db()))


@blp.post("/templates")
@official_required
def create(official):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    session = tenant_db()
    procedure_id = _form_int("procedure_id")
    if procedure_id is None:
        raise DomainError("Chưa chọn thủ tục.", "No procedure was chosen.", status=400)
    case_id = _form_int("case_id")
    name = queries.default_process_name(session, procedure_id, case_id)
    process = ps.create_template(session, procedure_id, case_id=case_id, name=name)
    draft = ps.new_draft(session, process.id, account_id=official.account.id)
    one_stop, specialised = queries.default_divisions(session)
    legal = ps.legal_time_for(session, process)
    # Fit the shorter of the counter and online legal times, so the first draft publishes as it is.
    online = legal.online_hours()
    steps, links = ps.standard_steps(
        min(legal.hours(), online) if online is not None else legal.hours(),
        one_stop_division_id=one_stop,
        specialised_division_id=specialised,
    )
    ps.set_steps(session, draft.id, steps, links)
    flash(tr("Đã tạo quy trình từ chuỗi bước chuẩn.", "Process created from the standard chain."), "success")
    return redirect(url_for(".version", version_id=draft.id))


@blp.get("/templates/<int:template_id>")
@official_required
def template(official, template_id: int):
    require_role(official, UNIT_ADMIN)
    session = tenant_db()
    process = ps.get_template(session, template_id)
    return _page(
        "template.html",
        official,
        process=process,
        legal=ps.legal_time_for(session, process),
        versions=ps.versions_of(session, process.id),
    )


@blp.post("/templates/<int:template_id>/drafts")
@official_required
def new_draft(official, template_id: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    session = tenant_db()
    process = ps.get_template(session, template_id)
    source = next((v for v in ps.versions_of(session, process.id) if v.status == "published"), None)
    draft = ps.new_draft(
        session,
        process.id,
        account_id=official.account.id,
        copy_from_version_id=source.id if source else None,
    )
    flash(
        tr(f"Đã tạo bản nháp phiên bản {draft.version}.", f"Draft version {draft.version} created."),
        "success",
    )
    return redirect(url_for(".version", version_id=draft.id))


def _version_page(official, version: ProcessVersion, *, rows=None, problems=(), status: int = 200):
    session = tenant_db()
    process = ps.get_template(session, version.template_id)
    legal = ps.legal_time_for(session, process)
    steps = ps.steps_of(session, version.id)
    links = ps.links_as_specs(session, version.id)
    common = dict(
        process=process,
        version=version,
        legal=legal,
        legal_text=legal.text(legal.value),
        online_text=legal.text(legal.online_value) if legal.online_value is not None else None,
        budget=ps.longest_path_of(session, version),
        hours_text=hours_text,
        problems=list(problems),
    )
    if version.status != "draft":
        names = {s.key: s.name for s in steps}
        return _page("version.html", official, status, steps=steps, links=links, names=names, **common)
    if rows is None:
        rows = forms.rows_from_steps(steps, links)
    rows = rows + [forms.empty_row() for _ in range(forms.EMPTY_ROWS)]
    return _page(
        "editor.html",
        official,
        status,
        rows=rows,
        divisions=queries.list_divisions(session),
        **common,
    )


@blp.get("/versions/<int:version_id>")
@official_required
def version(official, version_id: int):
    require_role(official, UNIT_ADMIN)
    return _version_page(official, ps.get_version(tenant_db(), version_id))


def _refused(exc: DomainError) -> list[Problem]:
    return list(getattr(exc, "problems", None) or [Problem("refused", exc.vi, exc.en)])


@blp.post("/versions/<int:version_id>/steps")
@official_required
def save_steps(official, version_id: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    session = tenant_db()
    draft = ps.get_version(session, version_id)
    try:
        steps, links = forms.read_steps(request.form)
        ps.set_steps(session, draft.id, steps, links)
    except (ps.ProcessRefused, DomainError) as refused:
        if refused.status != 422:
            raise
        # 422: the edge does not commit, so nothing of this attempt is kept.
        rows = forms.posted_rows(request.form)
        return _version_page(official, draft, rows=rows, problems=_refused(refused), status=422)
    flash(tr("Đã lưu các bước.", "Steps saved."), "success")
    return redirect(url_for(".version", version_id=draft.id))


@blp.post("/versions/<int:version_id>/publish")
@official_required
def publish(official, version_id: int):
    require_role(official, UNIT_ADMIN)
    check_csrf()
    session = tenant_db()
    draft = ps.get_version(session, version_id)
    try:
        ps.publish(session, draft.id, account_id=official.account.id)
    except ps.ProcessRefused as refused:
        return _version_page(official, draft, problems=refused.problems, status=422)
    flash(
        tr(f"Đã ban hành phiên bản {draft.version}.", f"Version {draft.version} published."),
        "success",
    )
    return redirect(url_for(".version", version_id=draft.id))
