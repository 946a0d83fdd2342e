"""Marshmallow schemas of the procedure catalog API.

Write schemas check types only; the catalogue's rules (codes, levels against
channels, cases referred to by components and fees …) are ``specs.check_spec``'s,
which answers 422 with one bilingual line per field.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from app.catalog.specs import APPLICANT_TYPES, FEE_KINDS, ORIGINAL_OR_COPY, RESULT_DELIVERY, TIME_UNITS


def _choices(names) -> dict:
    return {"description": "one of: " + ", ".join(str(n) for n in names)}


class ProcedureSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True, metadata={"description": "Mã TTHC, e.g. 1.001193"})
    name = fields.String(dump_only=True)
    service_level = fields.Integer(dump_only=True)
    time_value = fields.Decimal(dump_only=True, as_string=True)
    time_unit = fields.String(dump_only=True)
    channels = fields.List(fields.Integer(), dump_only=True)


# --- one procedure in full ----------------------------------------------------------------------


class SectorSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class CaseOutSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    time_value = fields.Decimal(as_string=True, allow_none=True)
    time_unit = fields.String(allow_none=True)
    online_time_value = fields.Decimal(as_string=True, allow_none=True)
    is_default = fields.Boolean()


class ComponentOutSchema(Schema):
    id = fields.Integer(metadata={"description": "the id a dossier intake ticks (components[].component_id)"})
    code = fields.String(allow_none=True)
    name = fields.String()
    original_or_copy = fields.String()
    quantity = fields.Integer()
    is_mandatory = fields.Boolean()
    template_file = fields.String(allow_none=True)
    case_id = fields.Integer(allow_none=True)


class FeeOutSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    description = fields.String()
    amount = fields.Integer(metadata={"description": "whole đồng (VND)"})
    online_amount = fields.Integer(allow_none=True)
    currency = fields.String()
    case_id = fields.Integer(allow_none=True)


class ProcedureDetailSchema(ProcedureSchema):
    sector = fields.Nested(SectorSchema, dump_only=True)
    online_time_value = fields.Decimal(dump_only=True, as_string=True, allow_none=True)
    applicant_types = fields.List(fields.String(), dump_only=True)
    result_delivery = fields.List(fields.String(), dump_only=True)
    result_document_type = fields.String(dump_only=True, allow_none=True)
    legal_basis = fields.String(dump_only=True, allow_none=True)
    is_active = fields.Boolean(dump_only=True)
    is_overridden = fields.Boolean(
        dump_only=True, metadata={"description": "a standard procedure the unit changed"}
    )
    standard_version = fields.Integer(dump_only=True, allow_none=True)
    cases = fields.List(fields.Nested(CaseOutSchema), dump_only=True)
    components = fields.List(fields.Nested(ComponentOutSchema), dump_only=True)
    fees = fields.List(fields.Nested(FeeOutSchema), dump_only=True)


# --- writes -------------------------------------------------------------------------------------


class CaseInSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    time_value = fields.Decimal(allow_none=True)
    time_unit = fields.String(allow_none=True, metadata=_choices(TIME_UNITS))
    online_time_value = fields.Decimal(allow_none=True)
    is_default = fields.Boolean()


class ComponentInSchema(Schema):
    code = fields.String(allow_none=True, metadata={"description": "matched on update; default TP01…"})
    name = fields.String(required=True)
    original_or_copy = fields.String(metadata=_choices(ORIGINAL_OR_COPY))
    quantity = fields.Integer(strict=True)
    is_mandatory = fields.Boolean()
    template_file = fields.String(allow_none=True)
    case = fields.String(allow_none=True, metadata={"description": "code of one of the cases"})


class FeeInSchema(Schema):
    kind = fields.String(metadata=_choices(FEE_KINDS))
    description = fields.String(required=True)
    amount = fields.Integer(required=True, strict=True, metadata={"description": "whole đồng (VND)"})
    online_amount = fields.Integer(allow_none=True, strict=True)
    case = fields.String(allow_none=True, metadata={"description": "code of one of the cases"})


class LegalDocumentInSchema(Schema):
    number = fields.String(required=True)
    kind = fields.String(allow_none=True)
    title = fields.String(required=True)
    issuer = fields.String(allow_none=True)
    issued_on = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD"})


class ProcedureWriteSchema(Schema):
    """A whole procedure (POST)."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    sector = fields.Nested(SectorSchema, required=True)
    service_level = fields.Integer(required=True, strict=True)
    time_value = fields.Decimal(allow_none=True)
    time_unit = fields.String(required=True, metadata=_choices(TIME_UNITS))
    online_time_value = fields.Decimal(allow_none=True)
    applicant_types = fields.List(fields.String(), metadata=_choices(APPLICANT_TYPES))
    channels = fields.List(
        fields.Integer(strict=True), required=True, metadata={"description": "1 counter, 2 online, 3 post"}
    )
    result_delivery = fields.List(fields.String(), required=True, metadata=_choices(RESULT_DELIVERY))
    result_document_type = fields.String(allow_none=True)
    legal_basis = fields.String(allow_none=True)
    legal_documents = fields.List(fields.Nested(LegalDocumentInSchema))
    cases = fields.List(fields.Nested(CaseInSchema))
    components = fields.List(fields.Nested(ComponentInSchema))
    fees = fields.List(fields.Nested(FeeInSchema))
    is_active = fields.Boolean(load_default=True)


class ProcedurePatchSchema(ProcedureWriteSchema):
    """PATCH: every field optional (load with ``partial=True``); a list given replaces the list."""
