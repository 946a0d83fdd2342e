"""Demo accounts for ``make run``: provider ops, a unit admin per tenant, some counter officers.

Every demo account's password is ``motcua-demo``. Seeding is idempotent: existing
accounts keep their password and gain any missing role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.auth import actions, queries
from app.auth.models import Account
from app.auth.passwords import hash_password
from app.auth.roles import (
    CASE_OFFICER,
    COUNTER_OFFICER,
    FEE_COLLECTOR,
    HEAD_OF_DIVISION,
    HEAD_OF_UNIT,
    PROVIDER_OPS,
    RECORDS_CLERK,
    UNIT_ADMIN,
)
from tenants.engines import ShardEngines

DEMO_PASSWORD = "motcua-demo"
OPS_EMAIL = "ops@motcua.local"


# A citizen for trying the portals: online submission, My dossiers, ratings.
CITIZEN_EMAIL = "congdan@motcua.local"
CITIZEN_PERSONAL_ID = "031099000001"  # 031 = Hai Phong in the CCCD numbering; demo only


def unit_admin_email(slug: str) -> str:
    return f"admin@{slug}.motcua.local"


def counter_officer_email(slug: str) -> str:
    return f"motcua@{slug}.motcua.local"


# The rest of a featured unit's staff: mailbox -> (role, name prefix), so every step of a process has someone.
STAFF = {
    "chuyenvien": (CASE_OFFICER, "Chuyên viên"),
    "truongphong": (HEAD_OF_DIVISION, "Trưởng phòng"),
    "lanhdao": (HEAD_OF_UNIT, "Lãnh đạo"),
    "vanthu": (RECORDS_CLERK, "Văn thư"),
    "ketoan": (FEE_COLLECTOR, "Kế toán"),
}


def staff_email(mailbox: str, slug: str) -> str:
    return f"{mailbox}@{slug}.motcua.local"


def seed_demo_accounts(
    shards: ShardEngines,
    tenants_by_slug: Mapping[str, actions.TenantLike],
    *,
    counter_officer_slugs: Iterable[str] | None = None,
) -> dict[str, list[str]]:
    """Create (or complete) the demo accounts in one transaction; returns emails by kind.

    ``tenants_by_slug`` maps slug -> a Tenant or TenantRef (anything with ``id``,
    ``slug``, ``name`` and ``status``). ``counter_officer_slugs`` picks who gets a
    counter officer; by default the first three tenants given.
    """
    if counter_officer_slugs is None:
        counter_officer_slugs = list(tenants_by_slug)[:3]
    officer_slugs = [s for s in counter_officer_slugs if s in tenants_by_slug]
    # One hash for every demo account: hashing hundreds of times would slow `make run`
    # and the password is public anyway.
    demo_hash = hash_password(DEMO_PASSWORD)
    seeded: dict[str, list[str]] = {
        "ops": [OPS_EMAIL],
        "unit_admins": [],
        "counter_officers": [],
        "citizens": [CITIZEN_EMAIL],
    }
    with shards.platform_session() as session, session.begin():
        citizen = _ensure(session, CITIZEN_EMAIL, "Nguyễn Thị Dân", demo_hash)
        if citizen.email_verified_at is None:
            citizen.email_verified_at = datetime.now(UTC)
            citizen.phone = "0912345678"
            citizen.personal_id = CITIZEN_PERSONAL_ID
        ops = _ensure(session, OPS_EMAIL, "Vận hành Motcua", demo_hash)
        if PROVIDER_OPS not in ops.platform_roles:
            actions.set_platform_roles(session, ops, [*ops.platform_roles, PROVIDER_OPS])
        for slug, tenant in tenants_by_slug.items():
            admin = _ensure(session, unit_admin_email(slug), f"Quản trị {tenant.name}", demo_hash)
            actions.grant_membership(session, admin, tenant, [UNIT_ADMIN])
            seeded["unit_admins"].append(admin.email)
        for slug in officer_slugs:
            tenant = tenants_by_slug[slug]
            name = f"Cán bộ một cửa {tenant.name}"
            officer = _ensure(session, counter_officer_email(slug), name, demo_hash)
            actions.grant_membership(session, officer, tenant, [COUNTER_OFFICER])
            seeded["counter_officers"].append(officer.email)
            for mailbox, (role, title) in STAFF.items():
                person = _ensure(session, staff_email(mailbox, slug), f"{title} {tenant.name}", demo_hash)
                actions.grant_membership(session, person, tenant, [role])
                seeded.setdefault("staff", []).append(person.email)
    return seeded


def _ensure(session: Session, email: str, full_name: str, password_hash: str) -> Account:
    account = queries.find_account_by_email(session, email)
    if account is None:
        account = actions.create_account(session, email=email, full_name=full_name)
        account.password_hash = password_hash
        session.flush()
    return account
