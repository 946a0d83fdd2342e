"""``GET /api/v1/whoami`` on a tenant site: who the API sees (an API token or a back-office session)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth.api_access import Principal, api_auth, require_scope
from app.auth.api_tokens import SCOPES
from app.auth.roles import TENANT_ROLES
from app.core.db import get_current_tenant
from app.core.sites import TENANT

blp = Blueprint(
    "whoami",
    __name__,
    url_prefix="/api/v1",
    subdomain=TENANT,
    description="Người gọi API / the API caller",
)


class WhoamiSchema(Schema):
    kind = fields.String(metadata={"description": "token | session"})
    account_id = fields.Integer()
    token_id = fields.Integer(allow_none=True)
    tenant = fields.String(metadata={"description": "the unit's slug"})
    roles = fields.List(fields.String())
    scopes = fields.List(fields.String(), metadata={"description": "a session has every scope"})


class WhoamiQuerySchema(Schema):
    scope = fields.String(
        validate=validate.OneOf(list(SCOPES)),
        metadata={"description": "also check that the caller has this scope (403 if not)"},
    )


@blp.route("/whoami")
class Whoami(MethodView):
    # Authenticate before anything else is looked at: a stranger learns nothing from a 422.
    @api_auth()
    @blp.arguments(WhoamiQuerySchema, location="query")
    @blp.response(200, WhoamiSchema)
    @blp.alt_response(401, description="missing, invalid, expired or revoked token")
    @blp.alt_response(403, description="the token lacks the scope asked for")
    def get(self, args: dict, principal: Principal):
        """The caller: kind, account, roles in this unit and scopes."""
        if args.get("scope"):
            require_scope(principal, args["scope"])
        return _describe(principal)

    @blp.response(200, WhoamiSchema)
    @blp.alt_response(400, description="a session caller without the X-CSRF-Token header")
    @blp.alt_response(401, description="missing, invalid, expired or revoked token")
    @api_auth()
    def post(self, principal: Principal):
        """The same answer for an unsafe method: proves the caller may write (sessions need X-CSRF-Token)."""
        return _describe(principal)


def _describe(principal: Principal) -> dict:
    scopes = SCOPES if principal.scopes is None else principal.scopes
    return {
        "kind": principal.kind,
        "account_id": principal.account_id,
        "token_id": principal.token_id,
        "tenant": get_current_tenant().slug,
        "roles": [r for r in TENANT_ROLES if r in principal.roles],
        "scopes": [s for s in SCOPES if s in scopes],
    }
