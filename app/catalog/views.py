"""Catalog API on the tenant site: the unit's procedures (public, level 1 information)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.catalog.queries import count_procedures, get_procedure, list_procedures
from app.catalog.schemas import ProcedureSchema
from app.core.sites import TENANT

blp = Blueprint(
    "procedures",
    __name__,
    url_prefix="/api/v1/procedures",
    subdomain=TENANT,
    description="Thủ tục hành chính của đơn vị / the unit's administrative procedures",
)


@blp.route("/")
class Procedures(MethodView):
    @blp.response(200, ProcedureSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """List the unit's active procedures."""
        pagination_parameters.item_count = count_procedures()
        return list_procedures(limit=pagination_parameters.page_size, offset=pagination_parameters.first_item)


@blp.route("/<int:procedure_id>")
class ProcedureById(MethodView):
    @blp.response(200, ProcedureSchema)
    def get(self, procedure_id: int):
        """One procedure of this unit (404 if it belongs to another unit or does not exist)."""
        return get_procedure(procedure_id)
