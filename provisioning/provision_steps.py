"""The "provision" pipeline: from a ProvisionSpec to a live unit, one idempotent step at a time.

reserve → schema → seed → theme → admin → hostnames → activate → notify

Each step looks at what is there before it writes (a step interrupted by a crash is
run again from the start), and the steps that build something have an ``undo`` so
a failed run can be rolled back: the schema dropped, the registry rows removed. A
unit stays in status ``provisioning`` (registered, not routable) until "activate".
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit.platform import record
from app.audit.platform_models import PlatformAuditEvent
from app.auth import actions as auth_actions
from app.auth.citizen_models import RESET, AccountToken
from app.auth.citizens import retire_tokens, token_hash
from app.auth.models import Account
from app.auth.queries import find_account_by_email, find_membership, normalize_email
from app.auth.roles import UNIT_ADMIN
from app.calendar.admin import YEARS_AHEAD, confirm_year
from app.catalog import standard
from app.catalog.rollout import perform_rollout
from app.catalog.standard_models import DONE, FAILED, StandardRollout
from app.core import mail
from app.core.errors import DomainError
from app.demo import onestop
from app.themes import actions as theme_actions
from app.themes import queries as theme_queries
from app.themes.manifest import find_theme
from billing import service_periods
from billing.contracts import vn_today
from provisioning.pipeline import AUDIT_ENTITY, Step, StepContext, register_pipeline
from provisioning.spec import ProvisionSpec
from tenants import registry
from tenants.models import Hostname, Tenant, TenantStatus

KIND = "provision"
# How long the invitation's set-a-password link stays usable (a reset-password link, longer-lived).
INVITATION_LIFETIME = timedelta(days=7)
VN_OFFSET = timedelta(hours=7)


class ProvisionInputError(DomainError):
    """The spec of a provision run cannot work; nothing was created."""


def _spec(ctx: StepContext) -> ProvisionSpec:
    if ctx.spec is None:
        raise ProvisionInputError("Lần chạy không có đặc tả đơn vị", "the run has no provision spec")
    return ctx.spec


def _tenant(session: Session, slug: str) -> Tenant:
    return registry.get_tenant(session, slug)


def portal_url(platform, slug: str) -> str:
    """The unit's public address as a person types it (http on the local development domain)."""
    domain = platform.settings.platform_domain
    scheme = "http" if domain == "localhost" or domain.endswith(".localhost") else "https"
    return f"{scheme}://{slug}.{domain}/"


def back_office_url(platform, slug: str) -> str:
    """The unit's sign-in (single sign-on at the platform's provider), coming back to the back office."""
    return f"{portal_url(platform, slug)}dang-nhap?next=/backoffice/"


def city_url(platform) -> str:
    domain = platform.settings.platform_domain
    scheme = "http" if domain == "localhost" or domain.endswith(".localhost") else "https"
    return f"{scheme}://{domain}/"


# -- checks before a run exists ------------------------------------------------------------------


def check_spec(session: Session, spec: ProvisionSpec | None, tenant_slug: str | None, params: dict) -> None:
    """Everything that can be known wrong before anything is written: one bilingual error."""
    if spec is None:
        raise ProvisionInputError("Thiếu đặc tả đơn vị", "a provision run needs a spec")
    platform = _current_platform()
    try:
        new = registry.check_new_tenant(
            platform.shards,
            name=spec.name,
            kind=spec.kind,
            unit_code=spec.unit_code,
            slug=spec.slug,
            gso_code=spec.gso_code,
            name_en=spec.name_en,
            shard=spec.shard,
            hostnames=spec.hostnames,
        )
        registry.check_registry(session, new, spec.parent_slug)
    except registry.TenantError as exc:
        raise ProvisionInputError(*_split(str(exc))) from None
    if new.slug != spec.slug:
        raise ProvisionInputError(
            f"Tên miền con không hợp lệ: {spec.slug!r}", f"invalid subdomain {spec.slug!r}"
        )
    if find_theme(spec.theme) is None:
        raise ProvisionInputError(f"Không có giao diện {spec.theme!r}", f"there is no theme {spec.theme!r}")
    if "@" not in normalize_email(spec.admin_email or "") or not (spec.admin_name or "").strip():
        raise ProvisionInputError(
            "Cần email và họ tên của quản trị đơn vị", "the unit admin's email and name are required"
        )
    if spec.catalog_kind:
        _catalog_version(session, spec)


def _split(message: str) -> tuple[str, str]:
    # Registry messages are bilingual already ("vi / en", the subject on the Vietnamese side): both keep all.
    return message, message


def _current_platform():
    return current_app.extensions["motcua"]


def _catalog_version(session: Session, spec: ProvisionSpec):
    """The published standard version the unit starts from (the latest one unless the spec names one)."""
    kind = standard.check_kind(spec.catalog_kind)
    if spec.catalog_version is not None:
        version = standard.get_version(session, kind, spec.catalog_version)
        if not version.is_published:
            raise ProvisionInputError(
                f"Phiên bản {spec.catalog_version} của danh mục chuẩn chưa được công bố",
                f"version {spec.catalog_version} of the standard catalogue is not published",
            )
        return version
    catalog = standard.find_catalog(session, kind)
    version = standard.latest_published(session, catalog.id) if catalog else None
    if version is None:
        raise ProvisionInputError(
            "Danh mục chuẩn của loại đơn vị này chưa có phiên bản công bố",
            "the standard catalogue of this kind has no published version",
        )
    return version


# -- the steps ---------------------------------------------------------------------------------


def _ours(shards, spec: ProvisionSpec) -> Tenant | None:
    """The registry row this run reserved: the slug's row with the spec's unit code (unique), or None.

    Undo steps touch nothing else, so a rollback never removes a unit someone else registered
    under the same slug (a reservation that failed because the slug was taken, say).
    """
    with shards.platform_session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == spec.slug))
        if tenant is None or tenant.unit_code != spec.unit_code:
            return None
        session.expunge(tenant)
        return tenant


def reserve(ctx: StepContext) -> None:
    """Register the unit as ``provisioning``, with its slug, codes and hostnames (unverified)."""
    spec = _spec(ctx)
    shards = ctx.platform.shards
    with shards.platform_session() as session:
        existing = session.scalar(select(Tenant).where(Tenant.slug == spec.slug))
    if existing is not None:
        if existing.status == TenantStatus.PROVISIONING and existing.unit_code == spec.unit_code:
            ctx.data["tenant_id"] = existing.id  # reserved by an earlier attempt of this run
            return
        raise ProvisionInputError(
            f"Tên miền con {spec.slug!r} đã được dùng", f"the subdomain {spec.slug!r} is already taken"
        )
    new = registry.check_new_tenant(
        shards,
        name=spec.name,
        kind=spec.kind,
        unit_code=spec.unit_code,
        slug=spec.slug,
        gso_code=spec.gso_code,
        name_en=spec.name_en,
        shard=spec.shard,
        hostnames=spec.hostnames,
    )
    tenant = registry.reserve_tenant(shards, new, parent=spec.parent_slug)
    ctx.data["tenant_id"] = tenant.id
    ctx.progress(f"reserved {tenant.slug} ({tenant.schema_name})")


def unreserve(ctx: StepContext) -> None:
    if _ours(ctx.platform.shards, _spec(ctx)) is not None:
        registry.discard_provisional(ctx.platform.shards, _spec(ctx).slug)


def build_schema(ctx: StepContext) -> None:
    created = registry.build_schema(ctx.platform.shards, _spec(ctx).slug, ctx.platform.trees.tenant_head)
    ctx.progress("schema created" if created else "schema already at head")


def drop_schema(ctx: StepContext) -> None:
    if _ours(ctx.platform.shards, _spec(ctx)) is not None:
        registry.drop_provisional_schema(ctx.platform.shards, _spec(ctx).slug)


def seed(ctx: StepContext) -> None:
    """Procedures from the standard catalogue, a published process for each, the working calendar."""
    spec = _spec(ctx)
    shards = ctx.platform.shards
    with shards.platform_session() as platform_session:
        tenant = _tenant(platform_session, spec.slug)
        shard, schema = tenant.shard, tenant.schema_name
        if spec.catalog_kind:
            _roll_out(ctx, platform_session, tenant, spec)
    with shards.tenant_session(shard, schema) as session, session.begin():
        ctx.data["processes_published"] = onestop.seed_processes(session)
    year = (datetime.now(UTC) + VN_OFFSET).year
    with shards.tenant_session(shard, schema) as session, session.begin():
        for y in (year, year + 1) if YEARS_AHEAD >= 1 else (year,):
            confirm_year(session, y, actor_account_id=None)
    ctx.progress(f"{ctx.data.get('procedures', 0)} procedures, {ctx.data['processes_published']} processes")


def _roll_out(ctx: StepContext, platform_session: Session, tenant: Tenant, spec: ProvisionSpec) -> None:
    version = _catalog_version(platform_session, spec)
    rollout = platform_session.scalar(
        select(StandardRollout).where(
            StandardRollout.version_id == version.id, StandardRollout.tenant_id == tenant.id
        )
    )
    if rollout is None:
        rollout = StandardRollout(version_id=version.id, tenant_id=tenant.id)
        platform_session.add(rollout)
        platform_session.flush()
    if rollout.status != DONE:
        with ctx.platform.shards.tenant_session(tenant.shard, tenant.schema_name) as tenant_session:
            rollout.started_at = datetime.now(UTC)
            perform_rollout(tenant_session, platform_session, rollout, tenant.slug)
            if rollout.status == FAILED:
                platform_session.commit()
                raise RuntimeError(f"danh mục chuẩn / standard catalogue: {rollout.error}")
            tenant_session.commit()
        platform_session.commit()
    ctx.data["catalog"] = {"kind": version.catalog.kind, "version": version.number}
    ctx.data["procedures"] = sum(1 for entry in rollout.results if entry.get("action") == "created")


def apply_theme(ctx: StepContext) -> None:
    spec = _spec(ctx)
    shards = ctx.platform.shards
    with shards.platform_session() as platform_session:
        tenant = _tenant(platform_session, spec.slug)
    with shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        published = theme_queries.find_published(session)
        if published is not None and published.theme == spec.theme:
            return
        theme_actions.choose_theme(session, spec.theme, actor_id=None)
        theme_actions.publish_draft(session, actor_id=None)


def invite_admin(ctx: StepContext) -> None:
    """The unit admin's account (made if missing), a unit-admin membership, and one invitation mail.

    The invitation is recorded in the platform audit in the same transaction as its
    link and sent just before that transaction commits: a mail server that is down fails
    the step (retried with backoff), and a step run again after the commit sends nothing.
    """
    spec = _spec(ctx)
    with ctx.platform.shards.platform_session() as session, session.begin():
        tenant = _tenant(session, spec.slug)
        account = find_account_by_email(session, spec.admin_email, for_update=True)
        created = account is None
        if created:
            account = auth_actions.create_account(
                session, email=spec.admin_email, full_name=spec.admin_name, phone=spec.admin_phone
            )
        membership = find_membership(session, account.id, tenant.id)
        if membership is None or UNIT_ADMIN not in membership.roles:
            auth_actions.grant_membership(session, account, tenant, [UNIT_ADMIN])
        ctx.data["admin_account_id"] = account.id
        earlier = _audit_data(session, ctx.run_id, "invitation_sent")
        # Made by this run now, or by an earlier attempt whose end was never recorded.
        if created or (earlier or {}).get("created_account"):
            ctx.data["admin_account_created"] = True
        if earlier is not None:
            return
        record(
            session,
            entity=AUDIT_ENTITY,
            entity_id=ctx.run_id,
            action="invitation_sent",
            actor_label="worker",
            data={
                "account_id": account.id,
                "tenant_slug": tenant.slug,
                "created_account": created,
            },
        )
        # Sent before the commit: a mail server that is down fails the step, which is retried.
        mail.send_now(_invitation(ctx, session, account, tenant))


def _audit_data(session: Session, run_id: int, action: str) -> dict | None:
    """The data of this run's audit row ``action`` (None when there is none)."""
    return session.scalar(
        select(PlatformAuditEvent.data).where(
            PlatformAuditEvent.entity == AUDIT_ENTITY,
            PlatformAuditEvent.entity_id == str(run_id),
            PlatformAuditEvent.action == action,
        )
    )


def _already(session: Session, run_id: int, action: str) -> bool:
    return _audit_data(session, run_id, action) is not None


def _invitation(ctx: StepContext, session: Session, account: Account, tenant: Tenant) -> mail.Mail:
    sign_in = back_office_url(ctx.platform, tenant.slug)
    links = [sign_in]
    if account.password_hash is None:
        link = f"{city_url(ctx.platform)}dat-lai-mat-khau/{_password_token(session, account)}"
        links.insert(0, link)
        days = INVITATION_LIFETIME.days
        first_vi = (
            "Đặt mật khẩu cho tài khoản của ông/bà "
            f"(liên kết dùng một lần, hiệu lực {days} ngày):\n{link}\n\n"
        )
        first_en = f"Set your account's password (a one-time link, valid for {days} days):\n{link}\n\n"
    else:
        first_vi = "Ông/bà đăng nhập bằng tài khoản Motcua hiện có của mình.\n\n"
        first_en = "Sign in with your existing Motcua account.\n\n"
    return mail.compose(
        account.email,
        subject=(f"Mời quản trị {tenant.name}", f"Invitation to administer {tenant.name}"),
        body=(
            f"Kính gửi {account.full_name},\n\nÔng/bà được giao vai trò Quản trị đơn vị của {tenant.name} "
            f"trên nền tảng Motcua.\n\n{first_vi}"
            f"Sau đó đăng nhập (đăng nhập một lần, SSO) tại:\n{sign_in}\n",
            f"Dear {account.full_name},\n\nYou have been made the unit administrator of {tenant.name} "
            f"on the Motcua platform.\n\n{first_en}"
            f"Then sign in (single sign-on) at:\n{sign_in}\n",
        ),
        links=links,
    )


def _password_token(session: Session, account: Account) -> str:
    """A set-a-password link of the citizen accounts' reset kind, valid as long as an invitation."""
    now = datetime.now(UTC)
    retire_tokens(session, account, RESET, now)
    token = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            account_id=account.id,
            purpose=RESET,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
    )
    session.flush()
    return token


def remove_admin(ctx: StepContext) -> None:
    """Undo: the membership goes with the tenant; an account made by this run and never used goes too."""
    account_id = ctx.data.get("admin_account_id")
    if not account_id or not ctx.data.get("admin_account_created"):
        return
    with ctx.platform.shards.platform_session() as session, session.begin():
        account = session.get(Account, account_id, with_for_update=True)
        if account is None or account.password_hash is not None or account.last_login_at is not None:
            return
        others = [m for m in account.memberships if m.tenant_id != ctx.data.get("tenant_id")]
        if not others and not account.platform_roles:
            # Its membership, tokens and sessions go with it (foreign keys ON DELETE CASCADE).
            session.execute(delete(Account).where(Account.id == account.id))


def activate_hostnames(ctx: StepContext) -> None:
    """The spec's custom domains were verified before the run (onboarding or ops): mark them so."""
    spec = _spec(ctx)
    if not spec.hostnames:
        return
    with ctx.platform.shards.platform_session() as session, session.begin():
        tenant = _tenant(session, spec.slug)
        for row in session.scalars(select(Hostname).where(Hostname.tenant_id == tenant.id)):
            if row.hostname in spec.hostnames:
                row.is_verified = True
                row.verification_token = None


def deactivate_hostnames(ctx: StepContext) -> None:
    spec = _spec(ctx)
    with ctx.platform.shards.platform_session() as session, session.begin():
        tenant = session.scalar(select(Tenant).where(Tenant.slug == spec.slug))
        if tenant is None or tenant.unit_code != spec.unit_code or tenant.status != TenantStatus.PROVISIONING:
            return
        for row in session.scalars(select(Hostname).where(Hostname.tenant_id == tenant.id)):
            row.is_verified = False


def activate(ctx: StepContext) -> None:
    """The unit goes live: routable by its host from now on (this process forgets cached misses)."""
    spec = _spec(ctx)
    with ctx.platform.shards.platform_session() as session, session.begin():
        tenant = session.scalar(select(Tenant).where(Tenant.slug == spec.slug).with_for_update())
        if tenant is None:
            raise registry.TenantNotFound(f"Không có đơn vị / no tenant with slug {spec.slug!r}")
        if tenant.status == TenantStatus.PROVISIONING:
            tenant.status = TenantStatus.ACTIVE.value
            tenant.status_reason = None
            record(
                session,
                entity="tenant",
                entity_id=tenant.id,
                action="activated",
                actor_label="worker",
                data={"slug": tenant.slug, "run_id": ctx.run_id},
            )
        elif tenant.status != TenantStatus.ACTIVE:
            raise ProvisionInputError(
                f"Đơn vị {spec.slug!r} đang ở trạng thái {tenant.status}",
                f"tenant {spec.slug!r} is {tenant.status}",
            )
        # Billed from today (Asia/Ho_Chi_Minh), in the same commit; a rerun keeps the first day.
        service_periods.activate(session, tenant.id, vn_today())
    ctx.platform.resolver.clear()
    ctx.data["portal_url"] = portal_url(ctx.platform, spec.slug)


def deactivate(ctx: StepContext) -> None:
    """Undo: back to ``provisioning`` (not routable), so the earlier undos may remove it."""
    spec = _spec(ctx)
    with ctx.platform.shards.platform_session() as session, session.begin():
        tenant = session.scalar(select(Tenant).where(Tenant.slug == spec.slug).with_for_update())
        if tenant is not None and tenant.unit_code == spec.unit_code and tenant.status == TenantStatus.ACTIVE:
            tenant.status = TenantStatus.PROVISIONING.value
            service_periods.cancel_activation(session, tenant.id)
    ctx.platform.resolver.clear()


def notify(ctx: StepContext) -> None:
    """Tell the admin (the requester) that the unit is live, with its address; once per run."""
    spec = _spec(ctx)
    url = portal_url(ctx.platform, spec.slug)
    with ctx.platform.shards.platform_session() as session, session.begin():
        if _already(session, ctx.run_id, "notified"):
            return
        tenant = _tenant(session, spec.slug)
        message = mail.compose(
            spec.admin_email,
            subject=(f"{tenant.name} đã hoạt động trên Motcua", f"{tenant.name} is live on Motcua"),
            body=(
                f"Cổng dịch vụ công của {tenant.name} đã hoạt động tại:\n{url}\n\n"
                f"Trang quản trị: {back_office_url(ctx.platform, spec.slug)}\n",
                f"The public service portal of {tenant.name} is live at:\n{url}\n\n"
                f"Administration: {back_office_url(ctx.platform, spec.slug)}\n",
            ),
            links=[url],
        )
        record(
            session,
            entity=AUDIT_ENTITY,
            entity_id=ctx.run_id,
            action="notified",
            actor_label="worker",
            data={"to": spec.admin_email, "url": url},
        )
        mail.send_now(message)  # before the commit, as in invite_admin


STEPS = [
    Step("reserve", ("Giữ chỗ tên miền và mã đơn vị", "Reserve slug and hostname"), reserve, unreserve),
    Step("schema", ("Tạo cơ sở dữ liệu của đơn vị", "Create the unit's schema"), build_schema, drop_schema),
    Step("seed", ("Nạp thủ tục, quy trình và lịch làm việc", "Seed procedures, processes, calendar"), seed),
    Step("theme", ("Áp dụng giao diện", "Apply the theme"), apply_theme),
    Step(
        "admin",
        ("Tạo quản trị đơn vị và gửi lời mời", "Unit admin and invitation"),
        invite_admin,
        remove_admin,
    ),
    Step("hostnames", ("Kích hoạt tên miền", "Activate hostnames"), activate_hostnames, deactivate_hostnames),
    Step(
        "activate",
        ("Đưa đơn vị vào hoạt động", "Mark the unit active"),
        activate,
        deactivate,
        no_rollback_after=True,  # live: people may already use it
    ),
    Step("notify", ("Thông báo", "Notify"), notify),
]

register_pipeline(KIND, STEPS, check=check_spec)
