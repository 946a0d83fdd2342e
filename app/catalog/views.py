"""Catalog API on the tenant site: the unit's procedures.

Reads are public (level 1 information); writes need an API token with
``catalog:write`` (or a back-office session) of a unit administrator.
"""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import Forbidden
from app.auth.api_access import Principal, api_auth
from app.auth.roles import UNIT_ADMIN
from app.catalog import api_services
from app.catalog.queries import (
    count_procedures,
    get_admin_procedure,
    get_procedure,
    list_procedures,
    procedure_detail,
)
from app.catalog.schemas import (
    ProcedureDetailSchema,
    ProcedurePatchSchema,
    ProcedureSchema,
    ProcedureWriteSchema,
)
from app.core.db import tenant_db
from app.core.sites import TENANT

blp = Blueprint(
    "procedures",
    __name__,
    url_prefix="/api/v1/procedures",
    subdomain=TENANT,
    description="Thủ tục hành chính của đơn vị / the unit's administrative procedures",
)
PUBLIC: list = []  # no security requirement in the OpenAPI document


def require_unit_admin(principal: Principal) -> None:
    if UNIT_ADMIN not in principal.roles:
        raise Forbidden(
            "Chỉ quản trị đơn vị mới được sửa danh mục thủ tục.",
            "Only the unit administrator may change the procedure catalogue.",
        )


@blp.route("/")
class Procedures(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.response(200, ProcedureSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """List the unit's active procedures."""
        pagination_parameters.item_count = count_procedures()
        return list_procedures(limit=pagination_parameters.page_size, offset=pagination_parameters.first_item)

    @api_auth("catalog:write")
    @blp.arguments(ProcedureWriteSchema)
    @blp.response(201, ProcedureDetailSchema)
    @blp.alt_response(401, description="no or bad credentials")
    @blp.alt_response(403, description="no catalog:write scope, or not a unit administrator")
    @blp.alt_response(409, description="the unit already has a procedure with this code")
    @blp.alt_response(422, description="the procedure breaks a rule; errors name every field")
    def post(self, data: dict, principal: Principal):
        """Create a procedure of the unit's own (not from the standard catalogue)."""
        require_unit_admin(principal)
        procedure = api_services.create_procedure(tenant_db(), data)
        tenant_db().flush()
        tenant_db().refresh(procedure)  # numbers as stored (scale 2), defaults filled in
        location = url_for("procedures.ProcedureById", procedure_id=procedure.id)
        return procedure_detail(procedure), 201, {"Location": location}


@blp.route("/<int:procedure_id>")
class ProcedureById(MethodView):
    @blp.doc(security=PUBLIC)
    @blp.response(200, ProcedureDetailSchema)
    def get(self, procedure_id: int):
        """One active procedure of this unit with its cases, components and fees (404 if another unit's)."""
        return procedure_detail(get_procedure(procedure_id))

    @api_auth("catalog:write")
    @blp.arguments(ProcedurePatchSchema(partial=True))
    @blp.response(200, ProcedureDetailSchema)
    @blp.alt_response(401, description="no or bad credentials")
    @blp.alt_response(403, description="no catalog:write scope, or not a unit administrator")
    @blp.alt_response(404, description="no such procedure in this unit")
    @blp.alt_response(422, description="the result would break a rule; errors name every field")
    def patch(self, changes: dict, procedure_id: int, principal: Principal):
        """Change the unit's procedure: the fields given replace its own (components and fees included).

        A procedure taken from the city's standard catalogue becomes *overridden*
        when it ends up different from the standard.
        """
        require_unit_admin(principal)
        procedure = get_admin_procedure(procedure_id)
        api_services.update_procedure(tenant_db(), procedure, changes)
        tenant_db().flush()
        tenant_db().refresh(procedure)
        return procedure_detail(procedure)
