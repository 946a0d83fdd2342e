"""Marshmallow schemas of the dossier API: intake, list filters, the dossier, one body per action.

Bodies check types only; the dossier core checks the rules and answers 422 with
one bilingual line per field. Server fields are ``dump_only``.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.calendar.workcal import VN_TZ
from app.dossiers.actions import STOP_REASONS
from app.processes.checks import CONDITIONS


def _required(vi: str, en: str) -> dict:
    return {"required": True, "error_messages": {"required": f"{vi} / {en}"}}


def _choices(names) -> dict:
    return {"description": "one of: " + ", ".join(str(n) for n in names)}


class LabelSchema(Schema):
    vi = fields.String()
    en = fields.String()


# --- intake ---------------------------------------------------------------------------------------


class ApplicantSchema(Schema):
    name = fields.String(**_required("Cần nhập họ tên người nộp", "The applicant's name is required"))
    type = fields.String(load_default="citizen", metadata=_choices(("citizen", "enterprise", "organisation")))
    id_type = fields.String(
        allow_none=True, load_default=None, metadata=_choices(("cccd", "cmnd", "passport", "tax"))
    )
    id_number = fields.String(allow_none=True, load_default=None)
    phone = fields.String(allow_none=True, load_default=None)
    email = fields.String(allow_none=True, load_default=None)
    address = fields.String(allow_none=True, load_default=None)
    province_code = fields.String(allow_none=True, load_default=None)
    district_code = fields.String(allow_none=True, load_default=None)
    ward_code = fields.String(allow_none=True, load_default=None)
    delegate_name = fields.String(allow_none=True, load_default=None)
    delegate_phone = fields.String(allow_none=True, load_default=None)


class ComponentTickSchema(Schema):
    component_id = fields.Integer(
        **_required("Cần mã thành phần", "component_id is required"),
        metadata={"description": "id of the procedure's component (GET /api/v1/procedures/<id>)"},
    )
    quantity = fields.Integer(load_default=1, validate=validate.Range(0, 100))


class DossierCreateSchema(Schema):
    procedure_id = fields.Integer(**_required("Cần chọn thủ tục", "procedure_id is required"))
    case_id = fields.Integer(allow_none=True, load_default=None)
    channel = fields.Integer(
        load_default=1,
        validate=validate.OneOf((1, 2, 3)),
        metadata={"description": "1 at the counter (received at once), 2 online or 3 by post (a draft)"},
    )
    applicant = fields.Nested(
        ApplicantSchema, **_required("Cần thông tin người nộp", "applicant is required")
    )
    components = fields.List(
        fields.Nested(ComponentTickSchema),
        load_default=list,
        metadata={"description": "the documents received (counter) or expected (draft)"},
    )
    number_of_sets = fields.Integer(load_default=1)
    result_delivery = fields.String(
        load_default="counter", metadata=_choices(("counter", "online", "postal"))
    )
    note = fields.String(allow_none=True, load_default=None)


# --- the list ---------------------------------------------------------------------------------------


class DossierQueryArgsSchema(Schema):
    status = fields.Integer(validate=validate.Range(0, 10), metadata={"description": "DVCQG status code"})
    procedure_id = fields.Integer()
    channel = fields.Integer(validate=validate.OneOf((1, 2, 3)))
    due = fields.String(
        validate=validate.OneOf(("overdue", "soon")),
        metadata={"description": "against the current step's deadline (soon: within one working day)"},
    )
    q = fields.String(
        validate=validate.Length(max=100),
        metadata={"description": "code, applicant name (diacritics ignored), phone or ID number"},
    )
    mine = fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: the caller's task queue (held by them or waiting in their roles' pools)"
        },
    )


# --- the dossier --------------------------------------------------------------------------------------


class ApplicantOutSchema(Schema):
    type = fields.String()
    name = fields.String()
    id_type = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    province_code = fields.String(allow_none=True)
    district_code = fields.String(allow_none=True)
    ward_code = fields.String(allow_none=True)
    delegate_name = fields.String(allow_none=True)
    delegate_phone = fields.String(allow_none=True)


class DossierComponentSchema(Schema):
    id = fields.Integer(metadata={"description": "the component_id of POST …/files"})
    procedure_component_id = fields.Integer(allow_none=True)
    code = fields.String(allow_none=True)
    name = fields.String()
    original_or_copy = fields.String()
    quantity = fields.Integer()
    is_received = fields.Boolean()


class StepOutSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    name = fields.String()
    kind = fields.String()
    role = fields.String()
    division_id = fields.Integer(allow_none=True)


class AllowedActionSchema(LabelSchema):
    action = fields.String(metadata={"description": "POST /api/v1/dossiers/<id>/actions/<action>"})


class DossierSummarySchema(Schema):
    id = fields.Integer()
    code = fields.String(allow_none=True, metadata={"description": "mã hồ sơ; null while a draft"})
    reference = fields.UUID()
    status = fields.Integer(metadata={"description": "DVCQG status 1-10, 0 draft"})
    status_name = fields.Nested(LabelSchema)
    procedure_id = fields.Integer()
    procedure_name = fields.String()
    case_id = fields.Integer(allow_none=True)
    channel = fields.Integer()
    result_delivery = fields.String()
    applicant_name = fields.String()
    submitted_at = fields.AwareDateTime(allow_none=True)
    received_at = fields.AwareDateTime(allow_none=True)
    due_at = fields.AwareDateTime(allow_none=True, metadata={"description": "the legal due date"})
    appointment_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "the date given to the applicant (form 04's if any)"}
    )
    completed_at = fields.AwareDateTime(allow_none=True)
    returned_at = fields.AwareDateTime(allow_none=True)
    current_role = fields.String(allow_none=True)
    current_account_id = fields.Integer(allow_none=True)
    current_division_id = fields.Integer(allow_none=True)
    current_step_due_at = fields.AwareDateTime(allow_none=True)
    marker = fields.String(allow_none=True, metadata=_choices(("overdue", "soon")))
    row_version = fields.Integer(metadata={"description": 'the ETag is W/"<row_version>"'})


class DossierSchema(DossierSummarySchema):
    applicant = fields.Nested(ApplicantOutSchema)
    number_of_sets = fields.Integer()
    stop_reason = fields.String(allow_none=True)
    rescheduled_due_at = fields.AwareDateTime(allow_none=True)
    due_explanation = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "why the due date is what it is: {vi: [lines], en: [lines]}"},
    )
    current_step = fields.Nested(StepOutSchema, allow_none=True)
    components = fields.List(fields.Nested(DossierComponentSchema))
    allowed_actions = fields.List(fields.Nested(AllowedActionSchema))


class HistoryRowSchema(Schema):
    id = fields.Integer()
    action = fields.String()
    label = fields.Nested(LabelSchema)
    at = fields.AwareDateTime()
    actor_account_id = fields.Integer(allow_none=True)
    role = fields.String(allow_none=True)
    step_name = fields.String(allow_none=True)
    from_status = fields.Integer(allow_none=True)
    to_status = fields.Integer(allow_none=True)
    to_account_id = fields.Integer(allow_none=True)
    step_due_at = fields.AwareDateTime(allow_none=True)
    on_time_class = fields.String(allow_none=True, metadata=_choices(("early", "on_time", "late")))
    note = fields.String(allow_none=True)


# --- action bodies --------------------------------------------------------------------------------------


class EmptySchema(Schema):
    pass


class NoteSchema(Schema):
    note = fields.String(allow_none=True, load_default=None)


class AcceptSchema(Schema):
    components = fields.List(
        fields.Nested(ComponentTickSchema),
        load_default=None,
        metadata={"description": "quantities checked at the counter (optional)"},
    )


class ItemsSchema(Schema):
    items = fields.List(fields.String(), load_default=list, metadata={"description": "every missing item"})
    reason = fields.String(allow_none=True, load_default=None)


class RefuseSchema(Schema):
    reasons = fields.List(fields.String(), load_default=list)


class TransferSchema(NoteSchema):
    to_account_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "an official who may take the next step; none: the role's pool"},
    )


class ForwardSchema(TransferSchema):
    condition = fields.String(load_default="default", validate=validate.OneOf(list(CONDITIONS)))


class ReasonSchema(Schema):
    reason = fields.String(load_default="")


class ApologiseSchema(Schema):
    new_due_at = fields.AwareDateTime(
        default_timezone=VN_TZ,
        **_required("Cần nhập ngày hẹn mới", "new_due_at is required"),
        metadata={
            "description": "a working day after the current appointment (Asia/Ho_Chi_Minh if no offset)"
        },
    )
    reason = fields.String(load_default="")


class StopSchema(ReasonSchema):
    kind = fields.String(load_default="refused", validate=validate.OneOf(STOP_REASONS))


class WithdrawSchema(Schema):
    reason = fields.String(allow_none=True, load_default=None)


ACTION_SCHEMAS: dict[str, type[Schema]] = {
    "accept": AcceptSchema,
    "guide": ItemsSchema,
    "refuse": RefuseSchema,
    "transfer": TransferSchema,
    "forward": ForwardSchema,
    "claim": EmptySchema,
    "reassign": TransferSchema,
    "request_supplement": ItemsSchema,
    "receive_supplement": NoteSchema,
    "request_payment": ReasonSchema,
    "confirm_payment": NoteSchema,
    "apologise": ApologiseSchema,
    "stop": StopSchema,
    "withdraw": WithdrawSchema,
    "complete": NoteSchema,
    "return_result": NoteSchema,
}


# --- files and documents ----------------------------------------------------------------------------------


class FileUploadSchema(Schema):
    component_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "the dossier component (components[].id)"},
    )
    kind = fields.String(load_default="component", validate=validate.OneOf(("component", "result", "other")))


class FileSchema(Schema):
    id = fields.Integer()
    component_id = fields.Integer(allow_none=True)
    kind = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()
    sha256 = fields.String()
    uploaded_by_account_id = fields.Integer(allow_none=True)
    uploaded_at = fields.AwareDateTime()


class FormSchema(Schema):
    id = fields.Integer()
    form_no = fields.String(metadata={"description": "Circular 01/2018 form: 01-04"})
    name = fields.Nested(LabelSchema)
    number = fields.String(allow_none=True)
    issued_at = fields.AwareDateTime()
    issued_by_account_id = fields.Integer(allow_none=True)
    pdf_url = fields.String()


class LogbookArgsSchema(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "first day (local), default today"})
    to = fields.Date(metadata={"description": "last day (local), default = from"})
    format = fields.String(load_default="pdf", validate=validate.OneOf(("pdf", "xlsx")))
