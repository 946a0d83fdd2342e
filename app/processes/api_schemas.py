"""Marshmallow schemas of the internal-process API (templates, versions, steps and links)."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.auth.roles import TENANT_ROLES
from app.processes.checks import CONDITIONS, KINDS


def _choices(names) -> dict:
    return {"description": "one of: " + ", ".join(names)}


class VersionSummarySchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    status = fields.String(metadata=_choices(("draft", "published", "retired")))
    time_unit = fields.String()
    total_budget_hours = fields.Decimal(as_string=True)
    effective_from = fields.Date(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)


class TemplateSchema(Schema):
    id = fields.Integer(dump_only=True)
    procedure_id = fields.Integer(dump_only=True)
    case_id = fields.Integer(allow_none=True, load_default=None)
    name = fields.String(required=True)
    code = fields.String(
        allow_none=True, load_default=None, metadata={"description": "ISO code, e.g. QT-TP-01"}
    )
    is_active = fields.Boolean(dump_only=True)
    versions = fields.List(fields.Nested(VersionSummarySchema), dump_only=True)


class StepSchema(Schema):
    id = fields.Integer(dump_only=True)
    key = fields.String(required=True, metadata={"description": "stable id of the step inside the version"})
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata=_choices(KINDS))
    role = fields.String(required=True, metadata=_choices(TENANT_ROLES))
    duration_hours = fields.Decimal(required=True, as_string=True)
    division_id = fields.Integer(allow_none=True, load_default=None)
    account_ids = fields.List(fields.Integer(), load_default=list)
    partner_tenant_id = fields.Integer(allow_none=True, load_default=None)
    sort_order = fields.Integer(load_default=0)


class LinkSchema(Schema):
    from_key = fields.String(required=True)
    to_key = fields.String(required=True)
    condition = fields.String(load_default="default", metadata=_choices(CONDITIONS))
    label = fields.String(allow_none=True, load_default=None)


class ProblemSchema(Schema):
    code = fields.String()
    vi = fields.String()
    en = fields.String()


class VersionSchema(VersionSummarySchema):
    template_id = fields.Integer()
    steps = fields.List(fields.Nested(StepSchema))
    links = fields.List(fields.Nested(LinkSchema))
    problems = fields.List(
        fields.Nested(ProblemSchema),
        metadata={"description": "why a draft cannot be published yet (empty: it can)"},
    )


class StepsInSchema(Schema):
    steps = fields.List(fields.Nested(StepSchema), required=True)
    links = fields.List(
        fields.Nested(LinkSchema),
        load_default=list,
        metadata={"description": "without links the steps are chained by sort_order"},
    )


class DraftInSchema(Schema):
    copy_from_version_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "default: the latest version"}
    )
