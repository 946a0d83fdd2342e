"""The officials' back office for dossiers: counter intake, task queue, search, the dossier page, documents.

Thin views: parse the form (forms_input), call the dossier core with the unit's
Desk and the official as Actor, then redirect with a message; a refusal of the
core re-renders the page with its message and status (>= 400: the edge rolls
back, so nothing is half-written).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from app.auth.access import check_csrf, require_role
from app.auth.roles import (
    COUNTER_OFFICER,
    role_labels,
)
from app.backoffice.views import official_required
from app.calendar.deadlines import explain_lines
from app.calendar.workcal import VN_TZ, to_local
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.errors import DomainError, NotFound
from app.core.i18n import current_lang, tr
from app.core.sites import TENANT
from app.dossiers import actions, documents, files, forms_input, interop, page_queries, queries, records
from app.dossiers import intake as intake_core
from app.dossiers.actions import InvalidAction
from app.dossiers.desk import Actor, Desk
from app.dossiers.downloads import download
from app.dossiers.forms_input import int_or_none
from app.dossiers.intake import CHANNEL_NAMES, DELIVERY_NAMES, InvalidDossier
from app.dossiers.status import PROCESSING, RECEIVED, STATUS_NAMES, TRANSITIONS, status_name
from app.officials.services import officials_for_step
from app.processes.checks import CONDITIONS

blp = Blueprint("dossiers_ui", __name__, subdomain=TENANT, url_prefix="/backoffice/dossiers")

PER_PAGE = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Actions the dossier page offers, in the order shown; each maps to one core function.
HANDLERS = {
    "accept": intake_core.accept,
    "guide": actions.guide,
    "refuse": actions.refuse,
    "claim": actions.claim,
    "reassign": actions.reassign,
    "transfer": actions.transfer,
    "forward": actions.forward,
    "request_supplement": actions.request_supplement,
    "receive_supplement": actions.receive_supplement,
    "request_payment": actions.request_payment,
    "confirm_payment": actions.confirm_payment,
    "apologise": actions.apologise,
    "complete": actions.complete,
    "return_result": actions.return_result,
    "stop": actions.stop,
    "withdraw": actions.withdraw,
}
# History rows of actions that are not transitions of the state machine.
EXTRA_ACTION_NAMES = {
    "receive": ("Tiếp nhận tại quầy (mẫu 01)", "Received at the counter (form 01)"),
    "claim": ("Nhận xử lý", "Picked up"),
    "reassign": ("Giao lại", "Reassigned"),
    "create_draft": ("Tạo hồ sơ nháp", "Draft created"),
    "add_documents": ("Công dân gửi thêm giấy tờ theo hướng dẫn", "Applicant sent documents as guided"),
}
ON_TIME_NAMES = {
    "early": ("Trước hạn", "Early"),
    "on_time": ("Đúng hạn", "On time"),
    "late": ("Quá hạn", "Late"),
}
MARKER_NAMES = {"soon": ("Sắp đến hạn", "Due soon"), "overdue": ("Quá hạn", "Overdue")}
FORM_NAMES = {
    "01": ("Giấy tiếp nhận hồ sơ và hẹn trả kết quả", "Receipt and appointment slip"),
    "02": ("Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ", "Request to complete the dossier"),
    "03": ("Phiếu từ chối tiếp nhận giải quyết hồ sơ", "Refusal to receive the dossier"),
    "04": ("Phiếu xin lỗi và hẹn lại ngày trả kết quả", "Apology and new appointment"),
    "05": ("Phiếu kiểm soát quá trình giải quyết hồ sơ", "Tracking slip"),
    "06": ("Sổ theo dõi hồ sơ", "Dossier logbook"),
}


# --- helpers ----------------------------------------------------------------------------------


def local_dt(value: datetime | None) -> str:
    return to_local(value).strftime("%H:%M %d/%m/%Y") if value is not None else "—"


def _pair(names: dict, key, fallback: str = "—") -> str:
    pair = names.get(key)
    return tr(*pair) if pair else (str(key) if key is not None else fallback)


def action_label(name: str) -> str:
    if name in TRANSITIONS:
        return tr(TRANSITIONS[name].vi, TRANSITIONS[name].en)
    return _pair(EXTRA_ACTION_NAMES, name)


@blp.context_processor
def _helpers() -> dict:
    return {
        "local_dt": local_dt,
        "status_label": lambda code: tr(*status_name(code)) if code is not None else "—",
        "channel_label": lambda code: _pair(CHANNEL_NAMES, code),
        "delivery_label": lambda code: _pair(DELIVERY_NAMES, code),
        "role_label": lambda role: tr(*role_labels(role)) if role else "—",
        "marker_label": lambda marker: _pair(MARKER_NAMES, marker, ""),
        "on_time_label": lambda cls: _pair(ON_TIME_NAMES, cls),
        "form_label": lambda no: _pair(FORM_NAMES, no),
        "action_label": action_label,
        "pair": lambda names, key: _pair(names, key),
    }


def _desk() -> Desk:
    return Desk(tenant_db(), get_current_tenant())


def _actor(official) -> Actor:
    return Actor.official(official.account.id, official.membership.roles, official.account.full_name)


def _page(template: str, official, status: int = 200, **context):
    return render_template(template, tenant=get_current_tenant(), official=official, **context), status


def _problem_text(problems: dict) -> tuple[str, str]:
    vi = "; ".join(p["vi"] for p in problems.values())
    en = "; ".join(p["en"] for p in problems.values())
    return f"Hồ sơ chưa hợp lệ: {vi}.", f"The dossier is not valid: {en}."


# --- counter intake ------------------------------------------------------------------------------


@blp.get("/intake")
@official_required
def intake(official):
    """Pick the procedure (code or name, diacritics ignored), then its case, then the form."""
    require_role(official, COUNTER_OFFICER)
    session = tenant_db()
    q = (request.args.get("q") or "").strip()[:100]
    procedure_id = int_or_none(request.args.get("procedure_id"))
    if procedure_id is None:
        results = page_queries.find_procedures(session, q) if q else []
        return _page("dossiers/intake_pick.html", official, q=q, results=results)
    procedure = page_queries.get_active_procedure(session, procedure_id)
    cases = page_queries.cases_of(session, procedure.id)
    case_id = int_or_none(request.args.get("case_id"))
    if cases and case_id not in {c.id for c in cases}:
        return _page("dossiers/intake_case.html", official, procedure=procedure, cases=cases)
    return _intake_form(official, procedure, case_id if cases else None)


def _intake_form(official, procedure, case_id, *, values=None, errors=None, error=None, status=200):
    session = tenant_db()
    case = next((c for c in page_queries.cases_of(session, procedure.id) if c.id == case_id), None)
    return _page(
        "dossiers/intake_form.html",
        official,
        status,
        procedure=procedure,
        case=case,
        components=page_queries.components_for(session, procedure.id, case_id),
        values=values,
        errors=errors or {},
        error=error,
        applicant_types=forms_input.APPLICANT_TYPES,
        id_types=forms_input.ID_TYPES,
        deliveries=[d for d in DELIVERY_NAMES if d in (procedure.result_delivery or [])],
    )


@blp.post("/intake")
@official_required
def receive(official):
    require_role(official, COUNTER_OFFICER)
    check_csrf()
    parsed = forms_input.intake_from_form(request.form)
    desk = _desk()
    refused: InvalidDossier | None = None
    try:
        dossier = intake_core.receive_at_counter(desk, _actor(official), parsed.value)
    except InvalidDossier as exc:
        refused = exc
    if refused is None and not parsed.problems:
        flash(tr(f"Đã tiếp nhận hồ sơ {dossier.code}", f"Dossier {dossier.code} received"), "success")
        return redirect(url_for(".show", dossier_id=dossier.id))
    # Unreadable fields and the core's refusals are shown together; whatever the core wrote goes.
    desk.session.rollback()
    errors = {**parsed.problems, **(refused.errors if refused else {})}
    message = refused or DomainError(*_problem_text(errors))
    procedure = page_queries.get_active_procedure(desk.session, parsed.value.procedure_id)
    return _intake_form(
        official,
        procedure,
        parsed.value.case_id,
        values=request.form,
        errors=errors,
        error=message,
        status=422,
    )


# --- task queue and search -------------------------------------------------------------------------


def _pages(total: int, page: int) -> int:
    return max(1, (total + PER_PAGE - 1) // PER_PAGE)


@blp.get("/queue")
@official_required
def queue(official):
    desk, actor = _desk(), _actor(official)
    filters = forms_input.queue_filter(request.args)
    page = forms_input.page_number(request.args)
    total = queries.queue_count(desk, actor, filters)
    rows = queries.task_queue(desk, actor, filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    soon = queries.soon_limit(desk)
    due_markers = {
        row.dossier.id: queries.marker(row.dossier.due_at, desk.now, soon)
        for row in rows
        if row.dossier.status in (RECEIVED, PROCESSING)
    }
    dossiers = [row.dossier for row in rows]
    args = {k: v for k, v in request.args.items() if k not in ("page", "lang") and v}
    return _page(
        "dossiers/queue.html",
        official,
        rows=rows,
        due_markers=due_markers,
        total=total,
        page=page,
        pages=_pages(total, page),
        args=args,
        filters=filters,
        procedures=page_queries.procedure_names(desk.session, (d.procedure_id for d in dossiers)),
        steps=page_queries.steps_by_id(desk.session, (d.current_step_id for d in dossiers)),
        all_procedures=page_queries.active_procedures(desk.session),
        statuses=STATUS_NAMES,
        channels=CHANNEL_NAMES,
        due_filters=forms_input.DUE_FILTERS,
    )


@blp.get("/search")
@official_required
def search(official):
    session = tenant_db()
    q = (request.args.get("q") or "").strip()[:100]
    page = forms_input.page_number(request.args)
    found = queries.search(session, q, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE) if q else []
    has_next, found = len(found) > PER_PAGE, found[:PER_PAGE]
    today = datetime.now(VN_TZ).date().isoformat()
    return _page(
        "dossiers/search.html",
        official,
        q=q,
        page=page,
        has_next=has_next,
        found=found,
        procedures=page_queries.procedure_names(session, (d.procedure_id for d in found)),
        may_logbook=bool(set(documents.LOGBOOK_ROLES) & set(official.membership.roles or [])),
        today=today,
    )


# --- the dossier page --------------------------------------------------------------------------------


def _action_forms(desk: Desk, actor: Actor, dossier) -> tuple[list[str], dict]:
    """The actions this official may take now, and what their forms need (next step, candidates)."""
    allowed = [t.action for t in queries.available_actions(desk, actor, dossier)]
    following = page_queries.following_step(desk.session, dossier.current_step_id)
    last = following is not None and following.kind == "return"
    names = []
    for name in HANDLERS:
        if name == "claim":
            may_take = {"transfer", "forward"} & set(allowed)
            if dossier.current_account_id is None and may_take and dossier.current_step_id is not None:
                names.append(name)
        elif name == "reassign":
            if queries.may_reassign(desk, actor, dossier):
                names.append(name)
        elif name in allowed:
            if (name == "forward" and last) or (name == "complete" and not last):
                continue
            names.append(name)
    candidates = []
    if following is not None and {"transfer", "forward"} & set(names):
        candidates = officials_for_step(
            platform_db(),
            desk.session,
            desk.tenant.id,
            following.role,
            following.division_id,
            following.account_ids or (),
        )
    current = []
    if "reassign" in names:
        step = page_queries.steps_by_id(desk.session, [dossier.current_step_id])[dossier.current_step_id]
        current = officials_for_step(
            platform_db(), desk.session, desk.tenant.id, step.role, step.division_id, step.account_ids or ()
        )
    branches = page_queries.branches(desk.session, dossier.current_step_id) if "forward" in names else []
    return names, {
        "following": following,
        "candidates": candidates,
        "current_candidates": current,
        "branches": branches,
        "condition_labels": CONDITIONS,
    }


def _dossier_page(official, dossier_id: int, *, error=None, failed=None, status: int = 200):
    desk, actor = _desk(), _actor(official)
    session = desk.session
    dossier = page_queries.get_dossier(session, dossier_id)
    # Every look at an applicant's personal data is on record.
    records.log_personal_data_view(desk, official.account.id, dossier, "applicant")
    history = queries.history(session, dossier.id)
    names = page_queries.account_names(
        platform_db(),
        [dossier.current_account_id, dossier.received_by_account_id]
        + [a.actor_account_id for a, _ in history]
        + [a.to_account_id for a, _ in history],
    )
    action_names, action_context = _action_forms(desk, actor, dossier)
    step = page_queries.steps_by_id(session, [dossier.current_step_id]).get(dossier.current_step_id)
    forms = page_queries.forms_of(session, dossier.id)
    divisions = page_queries.division_names(
        session, [dossier.current_division_id] + [a.to_division_id for a, _ in history]
    )
    return _page(
        "dossiers/show.html",
        official,
        status,
        dossier=dossier,
        procedure=page_queries.procedure_names(session, [dossier.procedure_id]).get(dossier.procedure_id),
        step=step,
        division=divisions.get(dossier.current_division_id),
        divisions=divisions,
        explanation=explain_lines(dossier.due_explanation or {}, current_lang()),
        components=page_queries.components_of(session, dossier.id),
        history=history,
        names=names,
        forms=forms,
        files=files.files_of(desk, dossier.id),
        may_upload=bool(set(official.membership.roles) & set(files.UPLOADERS)),
        form01=next((f for f in forms if f.form_no == "01"), None),
        # Where the dossier went to other units (liên thông), and where it is now.
        interop_rows=interop.interop_panel(session, dossier.id, platform_session=platform_db()),
        action_names=action_names,
        stop_kinds=forms_input.STOP_KINDS,
        error=error,
        failed=failed or (None, {}),
        **action_context,
    )


@blp.get("/<int:dossier_id>")
@official_required
def show(official, dossier_id: int):
    return _dossier_page(official, dossier_id)


@blp.post("/<int:dossier_id>/actions/<action>")
@official_required
def act(official, dossier_id: int, action: str):
    """One action of the dossier page; the hidden row_version makes a stale page a 409, not an overwrite."""
    check_csrf()
    if action not in HANDLERS:
        abort(404)
    desk = _desk()
    # A form without its version is treated as stale: never act on a page we cannot date.
    expected = int_or_none(request.form.get("row_version"))
    try:
        kwargs = forms_input.action_kwargs(action, request.form)
        dossier = actions.load(desk, dossier_id, expected if expected is not None else 0)
        result = HANDLERS[action](desk, _actor(official), dossier, **kwargs)
    except NotFound:
        raise
    except DomainError as exc:
        desk.session.rollback()
        return _dossier_page(
            official, dossier_id, error=exc, failed=(action, request.form), status=exc.status
        )
    flash(_done_message(action, dossier, result), "success")
    return redirect(url_for(".show", dossier_id=dossier_id))


def _done_message(action: str, dossier, result) -> str:
    vi, en = f"Đã thực hiện “{action_label(action)}”", f"Done: “{action_label(action)}”"
    text = tr(f"{vi} cho hồ sơ {dossier.code}.", f"{en} for dossier {dossier.code}.")
    if action == "complete" and result in ON_TIME_NAMES:
        text += " " + tr(f"Kết quả: {ON_TIME_NAMES[result][0]}.", f"Result: {ON_TIME_NAMES[result][1]}.")
    return text


# --- files ---------------------------------------------------------------------------------------


@blp.post("/<int:dossier_id>/files")
@official_required
def upload(official, dossier_id: int):
    """Attach a scan to one of the dossier's documents (checked for size and real type)."""
    check_csrf()
    require_role(official, *files.UPLOADERS)
    desk = _desk()
    dossier = actions.load(desk, dossier_id)  # locked: the upload moves the dossier's version
    sent = request.files.get("file")
    try:
        if sent is None or not sent.filename:
            raise InvalidAction("Chưa chọn tệp để tải lên.", "Choose a file to upload.")
        row = files.attach(
            desk,
            _actor(official),
            dossier,
            sent.filename,
            sent.read(),
            component_id=int_or_none(request.form.get("component_id")),
        )
    except NotFound:
        raise
    except DomainError as exc:
        desk.session.rollback()
        return _dossier_page(official, dossier_id, error=exc, status=exc.status)
    flash(tr(f"Đã tải lên tệp {row.filename}.", f"Uploaded {row.filename}."), "success")
    return redirect(url_for(".show", dossier_id=dossier_id))


@blp.get("/<int:dossier_id>/files/<int:file_id>")
@official_required
def file(official, dossier_id: int, file_id: int):
    desk = _desk()
    dossier = page_queries.get_dossier(desk.session, dossier_id)
    row, data = files.open_file(desk, _actor(official), dossier, file_id)
    return download(data, row.content_type, row.filename, inline=True)


@blp.get("/<int:dossier_id>/forms/<int:form_id>")
@official_required
def document(official, dossier_id: int, form_id: int):
    desk = _desk()
    dossier = page_queries.get_dossier(desk.session, dossier_id)
    form = page_queries.get_form(desk.session, dossier.id, form_id)
    records.log_personal_data_view(desk, official.account.id, dossier, f"form_{form.form_no}")
    return download(
        documents.form_pdf(desk, form),
        "application/pdf",
        f"mau-{form.form_no}-{dossier.code}.pdf",
        inline=True,
    )


@blp.get("/<int:dossier_id>/tracking-slip")
@official_required
def tracking_slip(official, dossier_id: int):
    desk = _desk()
    dossier = page_queries.get_dossier(desk.session, dossier_id)
    records.log_personal_data_view(desk, official.account.id, dossier, "form_05")
    return download(
        documents.tracking_slip_pdf(desk, dossier),
        "application/pdf",
        f"mau-05-{dossier.code}.pdf",
        inline=True,
    )


@blp.get("/logbook")
@official_required
def logbook(official):
    """Form 06 for a period: PDF inline, or ``format=xlsx`` as a download."""
    require_role(official, *documents.LOGBOOK_ROLES)
    desk = _desk()
    day_from, day_to, fmt = forms_input.logbook_period(request.args, desk.now.date())
    data = documents.logbook(desk, day_from, day_to, fmt, account_id=official.account.id)
    name = f"so-theo-doi-{day_from:%Y%m%d}-{day_to:%Y%m%d}.{fmt}"
    if fmt == "xlsx":
        return download(data, XLSX, name, inline=False)
    return download(data, "application/pdf", name, inline=True)
