"""Internal-process API: a procedure's process templates, their versions, drafts, steps and publishing.

Reads need ``catalog:read`` or ``processes:write``; writes need ``processes:write``
and the unit administrator's role (as the back-office process pages do).
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from app.auth.access import Forbidden
from app.auth.api_access import Principal, api_auth, require_scope
from app.auth.roles import UNIT_ADMIN
from app.catalog.models import Procedure
from app.core.db import tenant_db
from app.core.errors import NotFound
from app.core.sites import TENANT
from app.processes import services
from app.processes.api_schemas import DraftInSchema, StepsInSchema, TemplateSchema, VersionSchema
from app.processes.models import ProcessTemplate, ProcessVersion

blp = Blueprint(
    "processes_api",
    __name__,
    url_prefix="/api/v1",
    subdomain=TENANT,
    description="Quy trình nội bộ (ISO 9001) của thủ tục / internal processes of procedures",
)


def _may_read(principal: Principal) -> None:
    if not principal.has_scope("processes:write"):
        require_scope(principal, "catalog:read")


def _require_admin(principal: Principal) -> None:
    if UNIT_ADMIN not in principal.roles:
        raise Forbidden(
            "Chỉ quản trị đơn vị mới được sửa quy trình nội bộ.",
            "Only the unit administrator may change internal processes.",
        )


def _template_out(template: ProcessTemplate) -> dict:
    return {
        "id": template.id,
        "procedure_id": template.procedure_id,
        "case_id": template.case_id,
        "name": template.name,
        "code": template.code,
        "is_active": template.is_active,
        "versions": services.versions_of(tenant_db(), template.id),
    }


def _version_out(version: ProcessVersion) -> dict:
    session = tenant_db()
    problems = services.validate(session, version) if version.status == "draft" else []
    return {
        "id": version.id,
        "template_id": version.template_id,
        "version": version.version,
        "status": version.status,
        "time_unit": version.time_unit,
        "total_budget_hours": version.total_budget_hours,
        "effective_from": version.effective_from,
        "published_at": version.published_at,
        "steps": services.steps_of(session, version.id),
        "links": services.links_as_specs(session, version.id),
        "problems": problems,
    }


@blp.route("/procedures/<int:procedure_id>/processes")
class ProcessesOfProcedure(MethodView):
    @api_auth()
    @blp.response(200, TemplateSchema(many=True))
    @blp.alt_response(404, description="no such procedure in this unit")
    def get(self, procedure_id: int, principal: Principal):
        """The process templates of a procedure (one per case), each with its versions."""
        _may_read(principal)
        session = tenant_db()
        if session.get(Procedure, procedure_id) is None:
            raise NotFound("Không tìm thấy thủ tục", "Procedure not found")
        templates = session.scalars(
            select(ProcessTemplate)
            .where(ProcessTemplate.procedure_id == procedure_id)
            .order_by(ProcessTemplate.case_id.nulls_first(), ProcessTemplate.id)
        )
        return [_template_out(template) for template in templates]

    @api_auth("processes:write")
    @blp.arguments(TemplateSchema)
    @blp.response(201, TemplateSchema)
    @blp.alt_response(403, description="no processes:write scope, or not a unit administrator")
    @blp.alt_response(404, description="no such procedure (or case) in this unit")
    @blp.alt_response(409, description="the procedure (case) already has a process")
    def post(self, data: dict, procedure_id: int, principal: Principal):
        """Create the process template of a procedure (or of one of its cases)."""
        _require_admin(principal)
        template = services.create_template(
            tenant_db(), procedure_id, case_id=data["case_id"], name=data["name"], code=data["code"]
        )
        return _template_out(template)


@blp.route("/processes/<int:template_id>")
class ProcessById(MethodView):
    @api_auth()
    @blp.response(200, TemplateSchema)
    @blp.alt_response(404, description="no such process in this unit")
    def get(self, template_id: int, principal: Principal):
        """One process template with its versions, newest first."""
        _may_read(principal)
        return _template_out(services.get_template(tenant_db(), template_id))


@blp.route("/processes/<int:template_id>/drafts")
class Drafts(MethodView):
    @api_auth("processes:write")
    @blp.arguments(DraftInSchema)
    @blp.response(201, VersionSchema)
    @blp.alt_response(404, description="no such process (or version) in this unit")
    @blp.alt_response(409, description="the process already has a draft")
    def post(self, data: dict, template_id: int, principal: Principal):
        """A new draft version, copying the steps of the latest version (or of ``copy_from_version_id``)."""
        _require_admin(principal)
        draft = services.new_draft(
            tenant_db(),
            template_id,
            account_id=principal.account_id,
            copy_from_version_id=data["copy_from_version_id"],
        )
        return _version_out(draft)


@blp.route("/processes/versions/<int:version_id>")
class VersionById(MethodView):
    @api_auth()
    @blp.response(200, VersionSchema)
    @blp.alt_response(404, description="no such version in this unit")
    def get(self, version_id: int, principal: Principal):
        """One version with its steps and links; a draft also lists what stops it from being published."""
        _may_read(principal)
        return _version_out(services.get_version(tenant_db(), version_id))


@blp.route("/processes/versions/<int:version_id>/steps")
class VersionSteps(MethodView):
    @api_auth("processes:write")
    @blp.arguments(StepsInSchema)
    @blp.response(200, VersionSchema)
    @blp.alt_response(404, description="no such version in this unit")
    @blp.alt_response(409, description="the version is published or retired")
    @blp.alt_response(422, description="structural problems (errors.problems lists each)")
    def put(self, data: dict, version_id: int, principal: Principal):
        """Replace the steps and links of a draft (graph rules wait for publishing)."""
        _require_admin(principal)
        steps = [services.StepSpec(**{**s, "account_ids": tuple(s["account_ids"])}) for s in data["steps"]]
        links = [services.LinkSpec(**link) for link in data["links"]]
        services.set_steps(tenant_db(), version_id, steps, links)
        return _version_out(services.get_version(tenant_db(), version_id))


@blp.route("/processes/versions/<int:version_id>/publish")
class Publish(MethodView):
    @api_auth("processes:write")
    @blp.response(200, VersionSchema)
    @blp.alt_response(404, description="no such version in this unit")
    @blp.alt_response(409, description="the version is not a draft")
    @blp.alt_response(422, description="refused: errors.problems lists every reason")
    def post(self, version_id: int, principal: Principal):
        """Check the draft and publish it; the previously published version is retired."""
        _require_admin(principal)
        version = services.publish(tenant_db(), version_id, account_id=principal.account_id)
        return _version_out(version)
