"""Divisions, officials' places in them, and who may act on a step (DOMAIN.md §2.1).

"Permissions down to each responsible official": a step names a role, maybe a
division, maybe named officials; only someone who holds that role in the unit's
membership, sits (actively) in that division and, when officials are named, is
one of them, may pick the step up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import any_, select
from sqlalchemy.orm import Session

from app.auth.access import Forbidden
from app.auth.models import Account, Membership
from app.auth.roles import check_tenant_roles, role_labels
from app.core.errors import Conflict, DomainError, NotFound
from app.officials.models import Division, OfficialAssignment

# kind -> (Vietnamese, English), the order shown to people.
DIVISION_KINDS: dict[str, tuple[str, str]] = {
    "one_stop": ("Bộ phận một cửa", "One-stop counter"),
    "specialised": ("Phòng chuyên môn", "Specialised division"),
    "leadership": ("Lãnh đạo đơn vị", "Leadership"),
    "records": ("Văn thư", "Records office"),
    "accounting": ("Kế toán", "Accounting"),
}

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
NAME_MAX = 255
TITLE_MAX = 255
SORT_ORDER_MAX = 9999
ID_MAX = 2**63 - 1  # ids are BIGINT


class InvalidDivision(DomainError):
    status = 422


class InvalidAssignment(DomainError):
    status = 422


# --- divisions --------------------------------------------------------------


def divisions(session: Session, *, active_only: bool = False) -> list[Division]:
    query = select(Division).order_by(Division.sort_order, Division.name, Division.id)
    if active_only:
        query = query.where(Division.is_active.is_(True))
    return list(session.scalars(query))


def get_division(session: Session, division_id: int) -> Division:
    # An id no BIGINT can hold names no division (and must not reach the database).
    division = session.get(Division, division_id) if 0 < division_id <= ID_MAX else None
    if division is None:
        raise NotFound("Không có phòng ban này", "no such division")
    return division


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_numbers(parent_id, sort_order) -> None:
    """Numbers a form may send as anything: refused with a field message before the database sees them."""
    if not _is_int(sort_order) or not 0 <= sort_order <= SORT_ORDER_MAX:
        raise InvalidDivision(
            f"Thứ tự hiển thị là một số nguyên từ 0 đến {SORT_ORDER_MAX}",
            f"the display order is a whole number from 0 to {SORT_ORDER_MAX}",
            errors={"sort_order": ["out_of_range"]},
        )
    if parent_id is not None and (not _is_int(parent_id) or not 1 <= parent_id <= ID_MAX):
        raise InvalidDivision(
            "Phòng ban cấp trên không hợp lệ: hãy chọn một phòng ban trong danh sách",
            "the parent division is not valid: choose one from the list",
            errors={"parent_id": ["invalid"]},
        )


def _clean_division(
    session: Session, code: str, name: str, kind: str, parent_id: int | None, sort_order: int, own_id=None
):
    _check_numbers(parent_id, sort_order)
    code, name = (code or "").strip(), (name or "").strip()
    if not _CODE.match(code):
        raise InvalidDivision(
            "Mã phòng ban gồm 1–32 ký tự chữ không dấu, số, '.', '_' hoặc '-'",
            "the division code is 1–32 letters, digits, '.', '_' or '-'",
            errors={"code": ["invalid"]},
        )
    if not name or len(name) > NAME_MAX:
        raise InvalidDivision(
            f"Tên phòng ban không được để trống (tối đa {NAME_MAX} ký tự)",
            f"the division needs a name (at most {NAME_MAX} characters)",
            errors={"name": ["invalid"]},
        )
    if kind not in DIVISION_KINDS:
        raise InvalidDivision(
            f"Loại phòng ban không hợp lệ: {kind!r} (chỉ nhận: {', '.join(DIVISION_KINDS)})",
            f"unknown division kind {kind!r} (one of: {', '.join(DIVISION_KINDS)})",
            errors={"kind": ["invalid"]},
        )
    taken = session.scalar(select(Division.id).where(Division.code == code))
    if taken is not None and taken != own_id:
        raise Conflict(f"Mã phòng ban {code!r} đã được dùng", f"division code {code!r} is already taken")
    if parent_id is not None:
        parent = get_division(session, parent_id)
        # Walk up from the parent: meeting ourselves would make a loop.
        seen = set()
        while parent is not None and parent.id not in seen:
            if parent.id == own_id:
                raise InvalidDivision(
                    "Phòng ban không thể trực thuộc chính nó hoặc phòng ban cấp dưới của nó",
                    "a division cannot sit under itself or one of its own sub-divisions",
                )
            seen.add(parent.id)
            parent = session.get(Division, parent.parent_id) if parent.parent_id else None
    return code, name


def create_division(
    session: Session,
    code: str,
    name: str,
    kind: str,
    parent_id: int | None = None,
    *,
    phone: str | None = None,
    sort_order: int = 0,
) -> Division:
    code, name = _clean_division(session, code, name, kind, parent_id, sort_order)
    division = Division(
        code=code,
        name=name,
        kind=kind,
        parent_id=parent_id,
        phone=(phone or "").strip() or None,
        sort_order=sort_order,
        is_active=True,
    )
    session.add(division)
    session.flush()
    return division


def update_division(
    session: Session,
    division_id: int,
    *,
    code: str,
    name: str,
    kind: str,
    parent_id: int | None = None,
    phone: str | None = None,
    sort_order: int = 0,
    is_active: bool = True,
) -> Division:
    division = get_division(session, division_id)
    code, name = _clean_division(session, code, name, kind, parent_id, sort_order, own_id=division.id)
    division.code, division.name, division.kind, division.parent_id = code, name, kind, parent_id
    division.phone = (phone or "").strip() or None
    division.sort_order = sort_order
    division.is_active = is_active
    session.flush()
    return division


# --- assignments ------------------------------------------------------------


def assign(
    session: Session, account_id: int, division_id: int, roles: Iterable[str] = (), title: str | None = None
) -> OfficialAssignment:
    """Place an official in a division (or update their roles and title there)."""
    division = get_division(session, division_id)
    if not division.is_active:
        raise InvalidAssignment(
            f"Phòng ban {division.name} đã ngừng hoạt động", f"division {division.code} is inactive"
        )
    cleaned = check_tenant_roles(roles)
    title = (title or "").strip() or None
    if title is not None and len(title) > TITLE_MAX:
        raise InvalidAssignment(
            f"Chức vụ dài tối đa {TITLE_MAX} ký tự", f"the title is at most {TITLE_MAX} characters"
        )
    row = session.scalar(
        select(OfficialAssignment).where(
            OfficialAssignment.account_id == account_id, OfficialAssignment.division_id == division_id
        )
    )
    if row is None:
        row = OfficialAssignment(account_id=account_id, division_id=division_id)
        session.add(row)
    row.roles, row.title, row.is_active, row.ends_on = cleaned, title, True, None
    session.flush()
    return row


def unassign(session: Session, account_id: int, division_id: int | None = None) -> int:
    """End an official's place in a division (every division when None). Returns how many ended.

    The row stays, inactive, so earlier handovers still name a known place.
    """
    query = select(OfficialAssignment).where(
        OfficialAssignment.account_id == account_id, OfficialAssignment.is_active.is_(True)
    )
    if division_id is not None:
        query = query.where(OfficialAssignment.division_id == division_id)
    rows = list(session.scalars(query))
    for row in rows:
        row.is_active = False
    session.flush()
    return len(rows)


def assignments(session: Session, *, account_id: int | None = None) -> list[OfficialAssignment]:
    """Active assignments, optionally of one official."""
    query = select(OfficialAssignment).where(OfficialAssignment.is_active.is_(True))
    if account_id is not None:
        query = query.where(OfficialAssignment.account_id == account_id)
    return list(session.scalars(query.order_by(OfficialAssignment.division_id)))


def _in_division(tenant_session: Session, division_id: int) -> set[int]:
    rows = tenant_session.scalars(
        select(OfficialAssignment.account_id)
        .join(Division, Division.id == OfficialAssignment.division_id)
        .where(
            OfficialAssignment.division_id == division_id,
            OfficialAssignment.is_active.is_(True),
            Division.is_active.is_(True),
        )
    )
    return set(rows)


# --- officials ----------------------------------------------------------------


@dataclass(frozen=True)
class OfficialRow:
    """An official of the unit: the account and its roles in the unit's membership."""

    account_id: int
    email: str
    full_name: str
    roles: tuple[str, ...]
    is_active: bool


def officials(platform_session: Session, tenant_id: int) -> list[OfficialRow]:
    """Accounts with a membership in the tenant, with their roles there, by name."""
    rows = platform_session.execute(
        select(Account, Membership.roles)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(Account.full_name, Account.email)
    )
    return [OfficialRow(a.id, a.email, a.full_name, tuple(roles or ()), a.is_active) for a, roles in rows]


def find_official(platform_session: Session, tenant_id: int, account_id: int) -> OfficialRow | None:
    return next((o for o in officials(platform_session, tenant_id) if o.account_id == account_id), None)


def get_official(platform_session: Session, tenant_id: int, account_id: int) -> OfficialRow:
    """The official, or 404 (also for an account that is not a member of this unit)."""
    official = find_official(platform_session, tenant_id, account_id)
    if official is None:
        raise NotFound("Không có cán bộ này tại đơn vị", "no such official in this unit")
    return official


def officials_for_step(
    platform_session: Session,
    tenant_session: Session,
    tenant_id: int,
    role: str,
    division_id: int | None = None,
    account_ids: Iterable[int] = (),
) -> list[OfficialRow]:
    """Who may pick up a step: holds ``role`` here, sits in ``division_id``, is one of ``account_ids``."""
    named = set(account_ids)
    query = (
        select(Account, Membership.roles)
        .join(Membership, Membership.account_id == Account.id)
        .where(
            Membership.tenant_id == tenant_id,
            any_(Membership.roles) == role,
            Account.is_active.is_(True),
        )
        .order_by(Account.full_name, Account.email)
    )
    if named:
        query = query.where(Account.id.in_(named))
    candidates = [
        OfficialRow(a.id, a.email, a.full_name, tuple(roles or ()), a.is_active)
        for a, roles in platform_session.execute(query)
    ]
    if division_id is None:
        return candidates
    seated = _in_division(tenant_session, division_id)
    return [c for c in candidates if c.account_id in seated]


def may_act(
    platform_session: Session,
    tenant_session: Session,
    tenant_id: int,
    account_id: int,
    role: str,
    division_id: int | None = None,
    account_ids: Iterable[int] = (),
) -> bool:
    named = set(account_ids)
    if named and account_id not in named:
        return False
    return bool(
        officials_for_step(platform_session, tenant_session, tenant_id, role, division_id, [account_id])
    )


def check_may_act(
    platform_session: Session,
    tenant_session: Session,
    tenant_id: int,
    account_id: int,
    role: str,
    division_id: int | None = None,
    account_ids: Iterable[int] = (),
) -> None:
    """Forbidden (403) unless the account may act; the message names the role and division needed."""
    named = tuple(account_ids)
    if may_act(platform_session, tenant_session, tenant_id, account_id, role, division_id, named):
        return
    role_vi, role_en = role_labels(role)
    where_vi = where_en = ""
    if division_id is not None:
        division = tenant_session.get(Division, division_id)
        label = division.name if division is not None else f"#{division_id}"
        where_vi, where_en = f" thuộc {label}", f" in {label}"
    named_vi = " và được phân công đích danh cho việc này" if named else ""
    named_en = " and be named for this task" if named else ""
    raise Forbidden(
        f"Việc này cần cán bộ có vai trò {role_vi}{where_vi}{named_vi}.",
        f"This needs an official with the role {role_en}{where_en}{named_en}.",
    )
