"""Marshmallow schemas of the procedure catalog API."""

from __future__ import annotations

from marshmallow import Schema, fields


class ProcedureSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True, metadata={"description": "Mã TTHC, e.g. 1.001193"})
    name = fields.String(dump_only=True)
    service_level = fields.Integer(dump_only=True)
    time_value = fields.Decimal(dump_only=True, as_string=True)
    time_unit = fields.String(dump_only=True)
    channels = fields.List(fields.Integer(), dump_only=True)
