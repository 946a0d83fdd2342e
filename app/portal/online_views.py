"""A unit portal's online submission (level 3) and the citizen's own dossiers on that unit.

Thin views over ``app.dossiers.online`` (rules) and ``app.dossiers.citizen_index`` ("My
dossiers"). Every page needs a signed-in account; a draft or a dossier of another account,
or of another unit, is a 404 like one that does not exist.

Saving is the citizen's own act and is kept whatever happens next: the form's fields and
files are saved and the submission runs in a savepoint of the same transaction, so a refused
submission (422 with every problem listed) rolls back only itself and the save is committed.
The draft row stays locked from the save to the commit: a second click waits, then finds the
dossier the first one made.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.auth.access import check_csrf
from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure
from app.core.db import commit_scope, get_current_tenant, get_platform, platform_db, tenant_db
from app.core.errors import DomainError
from app.core.sites import TENANT
from app.dossiers import citizen_index, online
from app.dossiers.desk import Actor, Desk
from app.dossiers.downloads import download
from app.dossiers.forms_input import APPLICANT_FIELDS, APPLICANT_TYPES, ID_TYPES, int_or_none
from app.dossiers.models import DossierComponent
from app.dossiers.online_models import SUBMITTED
from app.dossiers.status import SUBMITTED as WAITING_FOR_COUNTER
from app.dossiers.status import SUPPLEMENT
from app.portal import lookup
from app.portal.citizen_access import citizen_required
from app.portal.procedure_views import DELIVERY, label

blp = Blueprint("online", __name__, subdomain=TENANT)

POSTAL_FIELDS = ("postal_recipient", "postal_phone", "postal_address")


def _desk() -> Desk:
    return Desk(tenant_db(), get_current_tenant())


def _actor(account) -> Actor:
    return Actor.applicant(account.id, account.full_name)


def _index(draft, dossier=None) -> None:
    citizen_index.record(
        platform_db(),
        account_id=draft.owner_account_id,
        tenant_id=get_current_tenant().id,
        reference=draft.reference,
        dossier_id=dossier.id if dossier is not None else None,
        code=dossier.code if dossier is not None else None,
        submitted_at=dossier.submitted_at if dossier is not None else None,
    )


# --- the form ------------------------------------------------------------------------------------


def _prefilled(account) -> dict:
    """A new form starts with what the account knows about its holder."""
    return {
        "applicant.name": account.full_name or "",
        "applicant.email": account.email or "",
        "applicant.phone": account.phone or "",
        "applicant.type": "citizen",
        "number_of_sets": "1",
    }


def _values_of(draft) -> dict:
    values = {f"applicant.{name}": (draft.applicant or {}).get(name) or "" for name in APPLICANT_FIELDS}
    values["applicant.type"] = values["applicant.type"] or "citizen"
    values.update({name: getattr(draft, name) or "" for name in POSTAL_FIELDS})
    values.update(
        case_id=str(draft.case_id or ""),
        result_delivery=draft.result_delivery or "",
        number_of_sets=str(draft.number_of_sets),
        note=draft.note or "",
    )
    return values


def _draft_input(form: MultiDict) -> online.DraftInput:
    return online.DraftInput(
        applicant={name: form.get(f"applicant.{name}", "") for name in APPLICANT_FIELDS},
        case_id=int_or_none(form.get("case_id")),
        result_delivery=(form.get("result_delivery") or "").strip() or None,
        postal_recipient=form.get("postal_recipient"),
        postal_phone=form.get("postal_phone"),
        postal_address=form.get("postal_address"),
        number_of_sets=int_or_none(form.get("number_of_sets")) or 1,
        note=form.get("note"),
    )


def _form_page(procedure, draft, values: dict, problems=None, message=None, status: int = 200, closed=None):
    """The form; ``closed`` (vi, en): the procedure no longer takes dossiers online, read-only."""
    desk = _desk()
    case_id = int_or_none(values.get("case_id"))
    components = online.components_of(desk, procedure.id, case_id)
    shown = {c.id for c in components}
    attached: dict[int, list] = {}
    outside: list = []  # files of another case's documents: kept, but not filed on submission
    if draft is not None:
        names = {c.id: c.name for c in online.procedure_components(desk, procedure.id)}
        for row in online.draft_files(desk, draft.id):
            if row.procedure_component_id in shown:
                attached.setdefault(row.procedure_component_id, []).append(row)
            else:
                outside.append((row, names.get(row.procedure_component_id)))
    page = render_template(
        "portal/online_form.html",
        tenant=get_current_tenant(),
        procedure=procedure,
        draft=draft,
        values=values,
        components=components,
        cases=online.cases_of(desk, procedure.id),
        attached=attached,
        outside=outside,
        closed=closed,
        deliveries=[(key, label(DELIVERY, key)) for key in procedure.result_delivery or []],
        applicant_types=APPLICANT_TYPES,
        id_types=ID_TYPES,
        problems=problems or {},
        message=message,
        notices=get_flashed_messages(),
        max_mb=f"{get_platform().settings.max_upload_bytes / (1024 * 1024):g}",
    )
    return page, status


def _save_posted(desk: Desk, draft, procedure) -> dict:
    """Fields and files of the posted form into the draft; what could not be kept, per field.

    A file is accepted for any document of the procedure, so one chosen before the case was
    changed in the same post is kept (the page then lists it apart, as not filed with this case).
    A "remove" for a file no longer on the draft (a stale page) has nothing left to do.
    """
    problems = online.save_draft(desk, draft, _draft_input(request.form))
    for component in online.procedure_components(desk, procedure.id):
        for upload in request.files.getlist(f"file_{component.id}"):
            if not upload or not upload.filename:
                continue
            try:
                online.add_file(desk, draft, component.id, upload.filename, upload.read())
            except DomainError as exc:
                problems[f"file_{component.id}"] = {"vi": exc.vi, "en": exc.en}
    op = request.form.get("op", "save")
    if op.startswith("remove:"):
        online.remove_file(desk, draft, int_or_none(op.removeprefix("remove:")) or 0)
    return problems


def _handle_post(account, procedure, draft):
    """Save, then (op=submit) submit in a savepoint; ``draft`` comes locked and stays so until the commit."""
    desk = _desk()
    problems = _save_posted(desk, draft, procedure)
    _index(draft)
    op = request.form.get("op", "save")
    if problems:
        commit_scope()  # the citizen's save is kept though the answer is a 422
        message = ("Một số thông tin chưa được lưu.", "Some of what you entered was not kept.")
        return _form_page(procedure, draft, request.form.to_dict(), problems, message, status=422)
    if op != "submit":
        flash("saved")
        return redirect(url_for(".draft_page", draft_id=draft.id), 303)
    left_out = [row.filename for row in online.files_outside_case(desk, draft)]
    try:
        with desk.session.begin_nested():
            dossier = online.submit_draft(desk, _actor(account), draft.id)
    except DomainError as exc:
        commit_scope()  # only the submission was rolled back (its savepoint); the save is kept
        values = _values_of(online.get_draft(desk, account.id, draft.id))
        return _form_page(procedure, draft, values, exc.errors, (exc.vi, exc.en), status=exc.status)
    _index(draft, dossier)
    flash("submitted")
    if left_out:
        flash("left_out:" + ", ".join(left_out))
    return redirect(url_for(".dossier_page", dossier_id=dossier.id), 303)


@blp.route("/thu-tuc/<int:procedure_id>/nop-truc-tuyen", methods=["GET", "POST"])
@citizen_required(TENANT)
def new_draft(account, procedure_id: int):
    desk = _desk()
    procedure = online.online_procedure(desk, procedure_id)
    if request.method == "GET":
        return _form_page(procedure, None, _prefilled(account) | {"reference": str(uuid.uuid4())})
    check_csrf()
    draft = online.start_draft(desk, account.id, procedure.id, _reference(request.form.get("reference")))
    if draft.status == SUBMITTED:  # the same form posted again after it was submitted
        return redirect(url_for(".dossier_page", dossier_id=draft.dossier_id), 303)
    return _handle_post(account, procedure, draft)


def _reference(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((raw or "").strip())
    except ValueError:
        return None


CLOSED = (
    "Thủ tục này không còn nhận hồ sơ trực tuyến; bản nháp chỉ còn để xem. Bạn có thể xóa bản nháp.",
    "This procedure is no longer offered online; the draft can only be viewed. You can delete it.",
)


@blp.route("/ho-so-nhap/<int:draft_id>", methods=["GET", "POST"])
@citizen_required(TENANT)
def draft_page(account, draft_id: int):
    desk = _desk()
    if request.method == "GET":
        draft = online.get_draft(desk, account.id, draft_id)
    else:
        check_csrf()
        draft = online.get_draft(desk, account.id, draft_id, lock=True)
    if draft.status == SUBMITTED:  # submitted already (another device, a second click): its dossier
        return redirect(url_for(".dossier_page", dossier_id=draft.dossier_id), 303)
    # Deleting needs only ownership, whatever became of the procedure.
    if request.method == "POST" and request.form.get("op") == "delete":
        reference = draft.reference
        online.delete_draft(desk, draft)
        citizen_index.forget_draft(platform_db(), get_current_tenant().id, reference)
        return redirect(url_for(".my_dossiers"), 303)
    if request.method == "GET":
        try:
            procedure = online.online_procedure(desk, draft.procedure_id)
        except DomainError:  # inactive, level changed, channel removed: shown read-only, may be deleted
            procedure = desk.session.get(Procedure, draft.procedure_id)
            return _form_page(procedure, draft, _values_of(draft), closed=CLOSED)
        return _form_page(procedure, draft, _values_of(draft))
    return _handle_post(account, online.online_procedure(desk, draft.procedure_id), draft)


# --- after submission ----------------------------------------------------------------------------


@blp.get("/ho-so-cua-toi")
@citizen_required(TENANT)
def my_dossiers(account):
    tenant = get_current_tenant()
    # This unit's own rows are the truth: any index row a failed platform commit missed is written again.
    citizen_index.reconcile(platform_db(), tenant_db(), account.id, tenant.id)
    raw = request.args.get("page", "").strip()
    page = int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1
    size = citizen_index.PAGE_SIZE
    entries = citizen_index.entries_in_unit(tenant_db(), account.id, limit=size + 1, offset=(page - 1) * size)
    return render_template(
        "portal/my_dossiers.html",
        tenant=tenant,
        entries=entries[:size],
        page=page,
        has_next=len(entries) > size,
        city_url=_city_url(),
        tz=VN_TZ,
    )


def _city_url() -> str:
    port = ":" + request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    return f"{request.scheme}://{get_platform().settings.platform_domain}{port}/ho-so-cua-toi"


def _dossier_page(account, dossier, problems=None, message=None, status: int = 200):
    """One dossier; in status 5, or in status 1 after the counter's guidance (form 02), a form for files."""
    desk = _desk()
    found = lookup.facts(desk.session, dossier)  # the lookup's plain-language facts
    components = list(
        desk.session.query(DossierComponent)
        .filter(DossierComponent.dossier_id == dossier.id)
        .order_by(DossierComponent.id)
    )
    page = render_template(
        "portal/my_dossier.html",
        tenant=get_current_tenant(),
        dossier=dossier,
        found=found,
        files=online.dossier_files(desk, dossier),
        components=components,
        may_answer=dossier.status == SUPPLEMENT or (dossier.status == WAITING_FOR_COUNTER and found.asked),
        guided=dossier.status == WAITING_FOR_COUNTER,
        delivery_label=label(DELIVERY, dossier.result_delivery),
        problems=problems or {},
        message=message,
        notices=get_flashed_messages(),
        tz=VN_TZ,
    )
    return page, status


@blp.get("/ho-so-cua-toi/<int:dossier_id>")
@citizen_required(TENANT)
def dossier_page(account, dossier_id: int):
    return _dossier_page(account, online.get_own_dossier(_desk(), account.id, dossier_id))


@blp.post("/ho-so-cua-toi/<int:dossier_id>/bo-sung")
@citizen_required(TENANT)
def answer_supplement(account, dossier_id: int):
    check_csrf()
    desk = _desk()
    dossier = online.get_own_dossier(desk, account.id, dossier_id, lock=True)
    uploads = []
    for component in desk.session.query(DossierComponent).filter(DossierComponent.dossier_id == dossier.id):
        for upload in request.files.getlist(f"file_{component.id}"):
            if upload and upload.filename:
                uploads.append(online.Upload(component.id, upload.filename, upload.read()))
    guided = dossier.status == WAITING_FOR_COUNTER  # status 1 stays 1: files only, for the counter to see
    answer = online.add_documents if guided else online.answer_supplement
    try:
        answer(desk, _actor(account), dossier, uploads, note=request.form.get("note"))
    except DomainError as exc:
        desk.session.rollback()
        dossier = online.get_own_dossier(desk, account.id, dossier_id)
        return _dossier_page(account, dossier, exc.errors, (exc.vi, exc.en), status=exc.status)
    flash("documents_added" if guided else "supplemented")
    return redirect(url_for(".dossier_page", dossier_id=dossier.id), 303)


@blp.get("/ho-so-cua-toi/<int:dossier_id>/tep/<int:file_id>")
@citizen_required(TENANT)
def own_file(account, dossier_id: int, file_id: int):
    desk = _desk()
    dossier = online.get_own_dossier(desk, account.id, dossier_id)
    row, data = online.open_own_file(desk, _actor(account), dossier, file_id)
    return download(data, row.content_type, row.filename)
