"""Dossier API on the tenant site: intake, lists, one dossier, its actions, files and printable documents.

Thin views over the dossier core: the caller (API token or back-office session)
becomes an ``Actor`` with their roles in this unit, and the core decides what
they may do (403 with the roles needed). Every change of a dossier needs
``If-Match`` with its ETag (``W/"<row_version>"``): missing → 428, stale → 412,
so two officials acting at once never overwrite each other silently.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from flask_smorest.fields import Upload
from marshmallow import ValidationError
from sqlalchemy import select

from app.auth.access import Forbidden
from app.auth.api_access import Principal, api_auth
from app.auth.queries import find_account
from app.calendar.deadlines import explain_lines
from app.catalog.models import Procedure
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.core.errors import DomainError
from app.core.sites import TENANT
from app.dossiers import actions, documents, files, queries, records
from app.dossiers import intake as intake_core
from app.dossiers.api_schemas import (
    ACTION_SCHEMAS,
    DossierCreateSchema,
    DossierQueryArgsSchema,
    DossierSchema,
    DossierSummarySchema,
    FileSchema,
    FileUploadSchema,
    FormSchema,
    HistoryRowSchema,
    LogbookArgsSchema,
)
from app.dossiers.desk import Actor, Desk, check_actor
from app.dossiers.downloads import download
from app.dossiers.models import Dossier
from app.dossiers.page_queries import components_of, forms_of, get_dossier, get_form
from app.dossiers.queries import QueueFilter
from app.dossiers.status import TRANSITIONS, status_name
from app.processes.models import ProcessStep

blp = Blueprint(
    "dossiers",
    __name__,
    url_prefix="/api/v1",
    subdomain=TENANT,
    description="Hồ sơ thủ tục hành chính của đơn vị / the unit's dossiers",
)

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOGBOOK_MAX_DAYS = 366
BINARY = {"type": "string", "format": "binary"}

HANDLERS = {
    "accept": intake_core.accept,
    "guide": actions.guide,
    "refuse": actions.refuse,
    "transfer": actions.transfer,
    "forward": actions.forward,
    "claim": actions.claim,
    "reassign": actions.reassign,
    "request_supplement": actions.request_supplement,
    "receive_supplement": actions.receive_supplement,
    "request_payment": actions.request_payment,
    "confirm_payment": actions.confirm_payment,
    "apologise": actions.apologise,
    "stop": actions.stop,
    "withdraw": actions.withdraw,
    "complete": actions.complete,
    "return_result": actions.return_result,
}
CLAIM = ("Nhận xử lý", "Pick up")
REASSIGN = ("Giao lại", "Reassign")
# History rows of actions that are not transitions of the state machine.
EXTRA_ACTION_NAMES = {
    "receive": ("Tiếp nhận tại quầy (mẫu 01)", "Received at the counter (form 01)"),
    "claim": CLAIM,
    "reassign": REASSIGN,
    "create_draft": ("Tạo hồ sơ nháp", "Draft created"),
}
FORM_NAMES = {
    "01": ("Giấy tiếp nhận hồ sơ và hẹn trả kết quả", "Receipt and appointment slip"),
    "02": ("Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ", "Request to complete the dossier"),
    "03": ("Phiếu từ chối tiếp nhận giải quyết hồ sơ", "Refusal to receive the dossier"),
    "04": ("Phiếu xin lỗi và hẹn lại ngày trả kết quả", "Apology and new appointment"),
}


# Columns copied as they are into the answers.
SUMMARY_FIELDS = (
    "id",
    "code",
    "reference",
    "status",
    "procedure_id",
    "case_id",
    "channel",
    "result_delivery",
    "applicant_name",
    "submitted_at",
    "received_at",
    "due_at",
    "completed_at",
    "returned_at",
    "current_role",
    "current_account_id",
    "current_division_id",
    "current_step_due_at",
    "row_version",
)
APPLICANT_FIELDS = (
    "type",
    "name",
    "id_type",
    "id_number",
    "phone",
    "email",
    "address",
    "province_code",
    "district_code",
    "ward_code",
)
HISTORY_FIELDS = (
    "id",
    "action",
    "at",
    "actor_account_id",
    "role",
    "from_status",
    "to_status",
    "to_account_id",
    "step_due_at",
    "on_time_class",
    "note",
)


class PreconditionRequired(DomainError):
    status = 428


class PreconditionFailed(DomainError):
    status = 412


# --- the caller and the dossier's version ---------------------------------------------------------


def _desk() -> Desk:
    return Desk(tenant_db(), get_current_tenant())


def _actor(principal: Principal) -> Actor:
    account = find_account(platform_db(), principal.account_id)
    return Actor.official(principal.account_id, principal.roles, account.full_name if account else "")


def etag(dossier: Dossier) -> str:
    return f'W/"{dossier.row_version}"'


def _if_match_version() -> int:
    """The row version named by If-Match; 428 without one. A tag that is no version matches nothing."""
    header = (request.headers.get("If-Match") or "").strip()
    if not header or header == "*":
        raise PreconditionRequired(
            "Cần gửi tiêu đề If-Match bằng ETag của hồ sơ (lấy từ GET hồ sơ) để không ghi đè thay đổi "
            "của người khác.",
            "Send the If-Match header with the dossier's ETag (from GET of the dossier), so that nobody's "
            "change is overwritten.",
        )
    tag = header.split(",")[0].strip().removeprefix("W/").strip('"')
    return int(tag) if tag.isascii() and tag.isdigit() else -1


def _if_match(view):
    """Decorator: pass ``expected_version=`` (checked before the body is read)."""

    def wrapper(*args, **kwargs):
        return view(*args, expected_version=_if_match_version(), **kwargs)

    wrapper.__name__, wrapper.__doc__ = view.__name__, view.__doc__
    wrapper.__dict__.update(view.__dict__)
    return wrapper


def _load_for_change(desk: Desk, dossier_id: int, expected: int) -> Dossier:
    """The dossier, locked for this transaction; 412 if it changed since the caller's ETag."""
    try:
        return actions.load(desk, dossier_id, expected)
    except actions.StaleDossier as exc:
        raise PreconditionFailed(exc.vi, exc.en, errors=exc.errors) from None


def _changed(desk: Desk, actor: Actor, dossier: Dossier, status: int = 200):
    """Answer with the dossier and its new ETag; every change moves the version, even one only adding rows."""
    dossier.updated_at = desk.now
    desk.session.flush()
    headers = {"ETag": etag(dossier)}
    if status == 201:
        headers["Location"] = url_for("dossiers.DossierById", dossier_id=dossier.id)
    return _detail(desk, actor, dossier), status, headers


# --- what a dossier looks like --------------------------------------------------------------------


def _pair(pair: tuple[str, str]) -> dict:
    return {"vi": pair[0], "en": pair[1]}


def _summary(dossier: Dossier, procedure_name: str, marker: str | None) -> dict[str, Any]:
    return {
        **{name: getattr(dossier, name) for name in SUMMARY_FIELDS},
        "status_name": _pair(status_name(dossier.status)),
        "procedure_name": procedure_name,
        "appointment_at": dossier.rescheduled_due_at or dossier.due_at,
        "marker": marker,
    }


def _allowed(desk: Desk, actor: Actor, dossier: Dossier) -> list[dict]:
    allowed = [
        {"action": t.action, "vi": t.vi, "en": t.en} for t in queries.available_actions(desk, actor, dossier)
    ]
    may_take = {"transfer", "forward"} & {a["action"] for a in allowed}
    if dossier.current_account_id is None and dossier.current_step_id is not None and may_take:
        allowed.append({"action": "claim", **_pair(CLAIM)})
    if queries.may_reassign(desk, actor, dossier):
        allowed.append({"action": "reassign", **_pair(REASSIGN)})
    return allowed


def _detail(desk: Desk, actor: Actor, dossier: Dossier) -> dict[str, Any]:
    """The whole dossier for this caller; an official's look at applicant data is on record."""
    session = desk.session
    records.log_personal_data_view(desk, actor.account_id, dossier, "applicant")
    procedure = session.get(Procedure, dossier.procedure_id)
    step = session.get(ProcessStep, dossier.current_step_id) if dossier.current_step_id else None
    marker = queries.marker(dossier.current_step_due_at, desk.now, queries.soon_limit(desk))
    explanation = dossier.due_explanation or {}
    applicant = {name: getattr(dossier, f"applicant_{name}") for name in APPLICANT_FIELDS}
    applicant.update(delegate_name=dossier.delegate_name, delegate_phone=dossier.delegate_phone)
    return {
        **_summary(dossier, procedure.name, marker),
        "applicant": applicant,
        "number_of_sets": dossier.number_of_sets,
        "stop_reason": dossier.stop_reason,
        "rescheduled_due_at": dossier.rescheduled_due_at,
        "due_explanation": {"vi": explain_lines(explanation, "vi"), "en": explain_lines(explanation, "en")},
        "current_step": step,
        "components": components_of(session, dossier.id),
        "allowed_actions": _allowed(desk, actor, dossier),
    }


# --- the list -------------------------------------------------------------------------------------


def _queue_filter(args: dict) -> QueueFilter:
    q = (args.get("q") or "").strip()
    return QueueFilter(
        status=args.get("status"),
        procedure_id=args.get("procedure_id"),
        channel=args.get("channel"),
        due=args.get("due"),
        q=q or None,
    )


def _procedure_names(desk: Desk, dossiers: list[Dossier]) -> dict[int, str]:
    ids = {d.procedure_id for d in dossiers}
    if not ids:
        return {}
    rows = desk.session.execute(select(Procedure.id, Procedure.name).where(Procedure.id.in_(ids)))
    return {procedure_id: name for procedure_id, name in rows}


# --- intake, list, one dossier --------------------------------------------------------------------


def _intake(data: dict) -> intake_core.Intake:
    ticks: dict[int, int] = {}
    for tick in data["components"]:
        ticks[tick["component_id"]] = ticks.get(tick["component_id"], 0) + tick["quantity"]
    return intake_core.Intake(
        procedure_id=data["procedure_id"],
        case_id=data["case_id"],
        applicant=intake_core.Applicant(**data["applicant"]),
        components=ticks,
        number_of_sets=data["number_of_sets"],
        result_delivery=data["result_delivery"],
        channel=data["channel"],
        note=data["note"],
    )


@blp.route("/dossiers")
class Dossiers(MethodView):
    @api_auth("dossiers:read")
    @blp.arguments(DossierQueryArgsSchema, location="query")
    @blp.response(200, DossierSummarySchema(many=True))
    @blp.paginate()
    def get(self, args: dict, pagination_parameters, principal: Principal):
        """List the unit's dossiers (by due date), or with ``mine=true`` the caller's task queue.

        The X-Pagination header gives the total, the pages and the neighbours.
        """
        desk, f = _desk(), _queue_filter(args)
        limit, offset = pagination_parameters.page_size, pagination_parameters.first_item
        if args["mine"]:
            actor = _actor(principal)
            pagination_parameters.item_count = queries.queue_count(desk, actor, f)
            dossiers = [row.dossier for row in queries.task_queue(desk, actor, f, limit=limit, offset=offset)]
        else:
            dossiers, pagination_parameters.item_count = queries.list_dossiers(
                desk, f, limit=limit, offset=offset
            )
        names, soon = _procedure_names(desk, dossiers), queries.soon_limit(desk)
        return [
            _summary(d, names.get(d.procedure_id, ""), queries.marker(d.current_step_due_at, desk.now, soon))
            for d in dossiers
        ]

    @api_auth("dossiers:write")
    @blp.arguments(DossierCreateSchema)
    @blp.response(201, DossierSchema)
    @blp.alt_response(403, description="the caller is not a counter officer")
    @blp.alt_response(404, description="no such procedure in this unit")
    @blp.alt_response(
        422, description="the dossier is not valid: errors names each field; nothing is written"
    )
    def post(self, data: dict, principal: Principal):
        """Receive a dossier: at the counter (channel 1: accepted at once, form 01) or a draft (2, 3)."""
        desk, actor = _desk(), _actor(principal)
        intake = _intake(data)
        if intake.channel == intake_core.COUNTER:
            dossier = intake_core.receive_at_counter(desk, actor, intake)
        else:
            # Officials log postal pickups and help with online drafts; that is the counter's work.
            check_actor(desk.session, actor, TRANSITIONS["submit"], None, None, None)
            dossier = intake_core.create_draft(desk, actor, intake)
        return _changed(desk, actor, dossier, status=201)


@blp.route("/dossiers/<int:dossier_id>")
class DossierById(MethodView):
    @api_auth("dossiers:read")
    @blp.response(200, DossierSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(404, description="no such dossier in this unit")
    def get(self, dossier_id: int, principal: Principal):
        """One dossier: applicant, components, current step, due-date explanation, what the caller may do."""
        desk = _desk()
        dossier = get_dossier(desk.session, dossier_id)
        return _detail(desk, _actor(principal), dossier), 200, {"ETag": etag(dossier)}


@blp.route("/dossiers/<int:dossier_id>/history")
class DossierHistory(MethodView):
    @api_auth("dossiers:read")
    @blp.response(200, HistoryRowSchema(many=True))
    @blp.alt_response(404, description="no such dossier in this unit")
    def get(self, dossier_id: int, principal: Principal):
        """Every action on the dossier in order (who, role, step, statuses, on time or late)."""
        session = tenant_db()
        dossier = get_dossier(session, dossier_id)
        return [
            {
                **{name: getattr(row, name) for name in HISTORY_FIELDS},
                "label": _pair(_action_names(row.action)),
                "step_name": step.name if step is not None else None,
            }
            for row, step in queries.history(session, dossier.id)
        ]


def _action_names(action: str) -> tuple[str, str]:
    if action in TRANSITIONS:
        return TRANSITIONS[action].vi, TRANSITIONS[action].en
    return EXTRA_ACTION_NAMES.get(action, (action, action))


# --- actions --------------------------------------------------------------------------------------


def _kwargs(action: str, body: dict) -> dict:
    if action == "accept":
        ticks = body["components"]
        return {"received": None if ticks is None else {t["component_id"]: t["quantity"] for t in ticks}}
    return dict(body)


def _act(action: str, body: dict, dossier_id: int, principal: Principal, expected_version: int):
    desk, actor = _desk(), _actor(principal)
    dossier = _load_for_change(desk, dossier_id, expected_version)
    HANDLERS[action](desk, actor, dossier, **_kwargs(action, body))
    return _changed(desk, actor, dossier)


def _action_doc(action: str) -> str:
    vi, en = {"claim": CLAIM, "reassign": REASSIGN}.get(action) or (
        TRANSITIONS[action].vi,
        TRANSITIONS[action].en,
    )
    return (
        f"{en} — {vi}.\n\nNeeds If-Match with the dossier's ETag (428 without it, 412 if stale); "
        "the caller's roles decide whether the action is allowed (403 names the roles needed)."
    )


def _register_action(action: str) -> None:
    def view(body: dict, dossier_id: int, principal: Principal, expected_version: int):
        return _act(action, body, dossier_id, principal, expected_version)

    view.__name__ = f"action_{action}"
    view.__doc__ = _action_doc(action)
    decorated = blp.response(200, DossierSchema)(view)
    for status, text in (
        (403, "the caller's roles do not allow this action, or no dossiers:write scope"),
        (404, "no such dossier in this unit"),
        (409, "the dossier's status does not allow this action"),
        (412, "the dossier changed since the ETag sent"),
        (428, "If-Match is missing"),
    ):
        decorated = blp.alt_response(status, description=text)(decorated)
    decorated = blp.arguments(ACTION_SCHEMAS[action])(decorated)
    decorated = _if_match(decorated)
    decorated = api_auth("dossiers:write")(decorated)
    blp.route(f"/dossiers/<int:dossier_id>/actions/{action}", methods=["POST"], endpoint=view.__name__)(
        decorated
    )


for _action in HANDLERS:
    _register_action(_action)


@blp.route("/dossiers/<int:dossier_id>/submit", methods=["POST"])
@api_auth("dossiers:write")
@_if_match
@blp.response(200, DossierSchema)
@blp.alt_response(412, description="the dossier changed since the ETag sent")
@blp.alt_response(422, description="mandatory documents are missing")
@blp.alt_response(428, description="If-Match is missing")
def submit(dossier_id: int, principal: Principal, expected_version: int):
    """Submit a draft (0 → 1): it gets its dossier code now. Needs If-Match."""
    desk, actor = _desk(), _actor(principal)
    dossier = _load_for_change(desk, dossier_id, expected_version)
    intake_core.submit(desk, actor, dossier)
    return _changed(desk, actor, dossier)


# --- files ----------------------------------------------------------------------------------------


class UploadDocSchema(FileUploadSchema):
    file = Upload(metadata={"description": "PDF, JPEG, PNG or DOCX"})


def _file_form() -> dict:
    try:
        return FileUploadSchema().load(request.form.to_dict())
    except ValidationError as exc:
        abort(422, messages={"form": exc.messages})


@blp.route("/dossiers/<int:dossier_id>/files")
class DossierFiles(MethodView):
    @api_auth("dossiers:read")
    @blp.response(200, FileSchema(many=True))
    @blp.alt_response(404, description="no such dossier in this unit")
    def get(self, dossier_id: int, principal: Principal):
        """The dossier's files (component scans, results)."""
        desk = _desk()
        dossier = get_dossier(desk.session, dossier_id)
        return files.files_of(desk, dossier.id)

    @api_auth("dossiers:write")
    @blp.arguments(UploadDocSchema, location="files")
    @blp.response(201, FileSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(403, description="not a counter or case officer (a result: not at the current step)")
    @blp.alt_response(404, description="no such dossier (or component) in this unit")
    @blp.alt_response(409, description="the dossier is closed")
    @blp.alt_response(413, description="the file is too large")
    @blp.alt_response(415, description="not a PDF, JPEG, PNG or DOCX (by its content)")
    def post(self, uploaded: dict, dossier_id: int, principal: Principal):
        """Attach a file (multipart: file, component_id, kind); its real type is checked by content.

        Counter and case officers upload; ``kind=result`` only the official at the current step.
        A new file is a change of the dossier: the answer's ETag is its new version.
        """
        form = _file_form()
        upload = uploaded.get("file")
        if upload is None:
            abort(422, messages={"files": {"file": ["Cần chọn tệp / Choose a file (field 'file')."]}})
        desk = _desk()
        dossier = actions.load(desk, dossier_id)  # locked: the upload moves the dossier's version
        row = files.attach(
            desk,
            _actor(principal),
            dossier,
            upload.filename or "",
            upload.read(),
            component_id=form["component_id"],
            kind=form["kind"],
        )
        return row, 201, {"ETag": etag(dossier)}


@blp.route("/dossiers/<int:dossier_id>/files/<int:file_id>")
@api_auth("dossiers:read")
@blp.response(200, BINARY, content_type="application/octet-stream")
@blp.alt_response(404, description="no such dossier or file in this unit")
def download_file(dossier_id: int, file_id: int, principal: Principal):
    """Download one file of the dossier; the look is logged."""
    desk = _desk()
    dossier = get_dossier(desk.session, dossier_id)
    row, data = files.open_file(desk, _actor(principal), dossier, file_id)
    return download(data, row.content_type, row.filename)


# --- printable documents --------------------------------------------------------------------------


@blp.route("/dossiers/<int:dossier_id>/forms")
@api_auth("documents:read")
@blp.response(200, FormSchema(many=True))
@blp.alt_response(404, description="no such dossier in this unit")
def list_forms(dossier_id: int, principal: Principal):
    """The forms issued for the dossier (Circular 01/2018 forms 01-04)."""
    session = tenant_db()
    dossier = get_dossier(session, dossier_id)
    return [
        {
            "id": form.id,
            "form_no": form.form_no,
            "name": _pair(FORM_NAMES.get(form.form_no, (form.form_no, form.form_no))),
            "number": form.number,
            "issued_at": form.issued_at,
            "issued_by_account_id": form.issued_by_account_id,
            "pdf_url": url_for("dossiers.form_pdf", dossier_id=dossier.id, form_id=form.id),
        }
        for form in forms_of(session, dossier.id)
    ]


@blp.route("/dossiers/<int:dossier_id>/forms/<int:form_id>.pdf")
@api_auth("documents:read")
@blp.response(200, BINARY, content_type=PDF)
@blp.alt_response(404, description="no such dossier or form in this unit")
def form_pdf(dossier_id: int, form_id: int, principal: Principal):
    """One issued form as a PDF (A5), the same document on every reprint."""
    desk = _desk()
    dossier = get_dossier(desk.session, dossier_id)
    form = get_form(desk.session, dossier.id, form_id)
    records.log_personal_data_view(desk, principal.account_id, dossier, f"form_{form.form_no}")
    name = f"mau-{form.form_no}-{dossier.code or dossier.reference}.pdf"
    return download(documents.form_pdf(desk, form), PDF, name, inline=True)


@blp.route("/dossiers/<int:dossier_id>/tracking-slip.pdf")
@api_auth("documents:read")
@blp.response(200, BINARY, content_type=PDF)
@blp.alt_response(404, description="no such dossier in this unit")
def tracking_slip_pdf(dossier_id: int, principal: Principal):
    """Form 05, the tracking slip: one row per handover with its on-time result."""
    desk = _desk()
    dossier = get_dossier(desk.session, dossier_id)
    records.log_personal_data_view(desk, principal.account_id, dossier, "form_05")
    name = f"mau-05-{dossier.code or dossier.reference}.pdf"
    return download(documents.tracking_slip_pdf(desk, dossier), PDF, name, inline=True)


class InvalidPeriod(DomainError):
    status = 422


@blp.route("/logbook")
@api_auth("documents:read")
@blp.arguments(LogbookArgsSchema, location="query")
@blp.response(200, BINARY, content_type=PDF)
@blp.alt_response(403, description="the caller's roles do not include the logbook")
@blp.alt_response(422, description="the period is not valid")
def logbook(args: dict, principal: Principal):
    """Form 06, the logbook of dossiers received in a period (PDF on A4, or ``format=xlsx``)."""
    if not set(documents.LOGBOOK_ROLES) & principal.roles:
        raise Forbidden(
            "Sổ theo dõi hồ sơ dành cho cán bộ một cửa, văn thư, lãnh đạo và quản trị đơn vị.",
            "The logbook is for counter officers, records clerks, heads and unit administrators.",
        )
    desk = _desk()
    day_from = args.get("from_") or desk.now.date()
    day_to = args.get("to") or day_from
    if day_to < day_from or day_to - day_from > timedelta(days=LOGBOOK_MAX_DAYS):
        raise InvalidPeriod(
            f"Khoảng thời gian không hợp lệ: 'to' phải từ 'from' trở đi, tối đa {LOGBOOK_MAX_DAYS} ngày.",
            f"Invalid period: 'to' must not be before 'from', and at most {LOGBOOK_MAX_DAYS} days.",
            errors={"to": {"vi": "ngoài khoảng cho phép", "en": "out of range"}},
        )
    fmt = args["format"]
    data = documents.logbook(desk, day_from, day_to, fmt, account_id=principal.account_id)
    name = f"so-theo-doi-{day_from:%Y%m%d}-{day_to:%Y%m%d}.{fmt}"
    return download(data, XLSX if fmt == "xlsx" else PDF, name, inline=fmt == "pdf")
