"""Marshmallow schemas of the internal-process API (templates, versions, steps and links)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.auth.roles import TENANT_ROLES
from app.processes.checks import CONDITIONS, KINDS, MAX_CODE, MAX_HOURS, MAX_KEY, MAX_NAME

# What the columns hold: an id is a positive BIGINT, sort_order an INTEGER.
_ID = validate.Range(min=1, max=2**63 - 1)
_SORT_ORDER = validate.Range(min=-(2**31), max=2**31 - 1)


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
    case_id = fields.Integer(allow_none=True, load_default=None, validate=_ID)
    name = fields.String(required=True, validate=validate.Length(max=MAX_NAME))
    code = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=MAX_CODE),
        metadata={"description": "ISO code, e.g. QT-TP-01"},
    )
    is_active = fields.Boolean(dump_only=True)
    versions = fields.List(fields.Nested(VersionSummarySchema), dump_only=True)


class StepSchema(Schema):
    id = fields.Integer(dump_only=True)
    key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_KEY),
        metadata={"description": "stable id of the step inside the version"},
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NAME))
    kind = fields.String(required=True, metadata=_choices(KINDS))
    role = fields.String(required=True, metadata=_choices(TENANT_ROLES))
    duration_hours = fields.Decimal(
        required=True, as_string=True, validate=validate.Range(min=0, max=MAX_HOURS)
    )
    division_id = fields.Integer(allow_none=True, load_default=None, validate=_ID)
    account_ids = fields.List(fields.Integer(validate=_ID), load_default=list)
    partner_tenant_id = fields.Integer(allow_none=True, load_default=None, validate=_ID)
    sort_order = fields.Integer(load_default=0, validate=_SORT_ORDER)


class LinkSchema(Schema):
    from_key = fields.String(required=True)
    to_key = fields.String(required=True)
    condition = fields.String(load_default="default", metadata=_choices(CONDITIONS))
    label = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=MAX_NAME))


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
    """Steps and links of a draft; that the longest path fits (< 1,000,000 h) is checked on saving."""

    steps = fields.List(fields.Nested(StepSchema), required=True)
    links = fields.List(
        fields.Nested(LinkSchema),
        load_default=list,
        metadata={"description": "without links the steps are chained by sort_order"},
    )


class DraftInSchema(Schema):
    copy_from_version_id = fields.Integer(
        allow_none=True,
        load_default=None,
        validate=_ID,
        metadata={"description": "default: the latest version"},
    )
