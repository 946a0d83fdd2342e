"""Back office pages of liên thông: the inbox of tasks from other units, and one task to take and hand back.

Thin views: parse, authorize, call ``app.dossiers.interop``; a refusal re-renders
the task page with its message and status (>= 400, so the edge rolls back).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.auth.access import check_csrf
from app.auth.roles import role_labels
from app.backoffice.views import official_required
from app.calendar.workcal import to_local
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.errors import DomainError
from app.core.i18n import tr
from app.core.sites import TENANT
from app.dossiers import interop
from app.dossiers.desk import Actor, Desk
from app.dossiers.queries import marker, soon_limit

blp = Blueprint("interop_ui", __name__, subdomain=TENANT, url_prefix="/backoffice/interop")

ON_TIME = {"early": ("Trước hạn", "Early"), "on_time": ("Đúng hạn", "On time"), "late": ("Quá hạn", "Late")}
TASK_STATUS = {
    "pending": ("Chờ nhận", "Waiting"),
    "in_progress": ("Đang xử lý", "In progress"),
    "done": ("Đã xử lý, đã trả lại", "Done, handed back"),
    "returned": ("Đã trả lại, không xử lý", "Handed back unprocessed"),
    "cancelled": ("Đã hủy", "Cancelled"),
}
MARKERS = {"overdue": ("Quá hạn", "Overdue"), "soon": ("Sắp đến hạn", "Due soon")}


@blp.record_once
def _template_helpers(state) -> None:
    # Also used by interop/_dossier_panel.html, which the dossier page includes.
    state.app.jinja_env.globals.update(interop_time=local_time)


def local_time(at) -> str:
    return to_local(at).strftime("%H:%M %d/%m/%Y")


def _actor(official) -> Actor:
    return Actor.official(official.account.id, official.membership.roles, official.account.full_name)


def _desk() -> Desk:
    return Desk(tenant_db(), get_current_tenant())


def _render(template: str, official, status: int = 200, **context):
    page = render_template(
        template,
        tenant=get_current_tenant(),
        official=official,
        role_labels=role_labels,
        on_time_names=ON_TIME,
        task_status_names=TASK_STATUS,
        marker_names=MARKERS,
        **context,
    )
    return page, status


@blp.get("/")
@official_required
def inbox(official):
    desk, actor = _desk(), _actor(official)
    return _render(
        "interop/inbox.html",
        official,
        incoming=interop.inbox(desk, actor, platform_db()),
        finished=interop.inbox(desk, actor, platform_db(), open_only=False, limit=20),
        outgoing=interop.outgoing(desk, platform_db()),
    )


def _task_page(official, task_id: int, *, error: DomainError | None = None, status: int = 200, form=None):
    desk = _desk()
    task, handover = interop.get_incoming(desk, platform_db(), task_id)
    interop.check_role(_actor(official), handover)  # the applicant's name is for the step's officials only
    owner = interop.tenant_name(platform_db(), handover.owner_tenant_id)
    return _render(
        "interop/task.html",
        official,
        status,
        task=task,
        handover=handover,
        owner_name=owner,
        taken_by=interop.taken_by(task),
        marker=marker(task.due_at, desk.now, soon_limit(desk)) if task.status in interop.OPEN_TASK else None,
        error=error,
        form=form or {},
    )


@blp.get("/<int:task_id>")
@official_required
def task(official, task_id: int):
    return _task_page(official, task_id)


def _act(official, task_id: int, verb: str, message: tuple[str, str], **kwargs):
    check_csrf()
    desk = _desk()
    task_row, handover = interop.get_incoming(desk, platform_db(), task_id, lock=True)
    try:
        getattr(interop, verb)(desk, _actor(official), task_row, handover, **kwargs)
    except DomainError as exc:
        return _task_page(official, task_id, error=exc, status=exc.status, form=request.form)
    flash(tr(*message), "success")
    return redirect(url_for(".task", task_id=task_id))


@blp.post("/<int:task_id>/take")
@official_required
def take(official, task_id: int):
    return _act(official, task_id, "take", ("Bạn đã nhận nhiệm vụ.", "You have taken the task."))


@blp.post("/<int:task_id>/complete")
@official_required
def complete(official, task_id: int):
    return _act(
        official,
        task_id,
        "complete",
        ("Đã trả kết quả cho đơn vị chủ trì.", "The result was handed back to the owning unit."),
        note=request.form.get("note", ""),
    )


@blp.post("/<int:task_id>/reject")
@official_required
def reject(official, task_id: int):
    return _act(
        official,
        task_id,
        "reject",
        ("Đã trả lại hồ sơ cho đơn vị chủ trì.", "The dossier was sent back to the owning unit."),
        reason=request.form.get("reason", ""),
    )
