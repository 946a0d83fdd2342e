"""Whether the current unit asks this account for a second factor (officials only, when the unit says so)."""

from __future__ import annotations

from app.auth.queries import find_membership
from app.core.db import get_current_tenant, platform_db, tenant_db
from app.officials.settings import get_setting


def required_here(account_id: int) -> bool:
    """True on a unit whose setting requires TOTP, for an account holding a role there."""
    tenant = get_current_tenant()
    if tenant is None:
        return False
    membership = find_membership(platform_db(), account_id, tenant.id)
    if membership is None or not membership.roles:
        return False
    return get_setting(tenant_db(), "officials_second_factor") == "required"
