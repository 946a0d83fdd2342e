"""JSON API of the signed-in official: ``GET /api/v1/me`` on a tenant site."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.auth.access import current_official
from app.auth.roles import role_labels
from app.core.db import get_current_tenant
from app.core.sites import TENANT

api_blp = Blueprint("auth_api", __name__, subdomain=TENANT, url_prefix="/api/v1")


@api_blp.get("/me")
def me():
    """The signed-in official's account and roles in this unit."""
    official = current_official(TENANT)
    tenant = get_current_tenant()
    account = official.account
    return jsonify(
        account={"id": account.id, "email": account.email, "full_name": account.full_name},
        tenant={"id": tenant.id, "slug": tenant.slug, "name": tenant.name},
        roles=[
            {"code": r, "label_vi": role_labels(r)[0], "label_en": role_labels(r)[1]}
            for r in official.membership.roles
        ],
    )
