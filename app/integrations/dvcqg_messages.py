"""Payloads of the national portal's ``DongBoHoSoMC`` (dossier) and ``CapNhatTienDoHoSoMC``
(progress) messages, built from a unit's Dossier, DossierAction, components, fees and the
procedure's national code (DOMAIN §6.1). Every date is ``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Account
from app.catalog.models import FeeLine, Procedure, Sector
from app.dossiers.models import Dossier, DossierAction, DossierComponent, DossierPause
from app.officials.models import Division, OfficialAssignment
from tenants.models import Tenant

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
APPLICANT_KIND = {"citizen": 1, "enterprise": 2, "organisation": 4}
ID_KIND = {"cccd": 1, "cmnd": 2}
FEE_KIND = {"fee": 1, "charge": 2}  # LoaiPhiLePhi: 1 phí, 2 lệ phí
ACTION_LABELS = {
    "submit": "Nộp hồ sơ",
    "receive": "Tiếp nhận hồ sơ",
    "transfer": "Chuyển xử lý",
    "finish_step": "Hoàn thành bước xử lý",
    "request_supplement": "Yêu cầu bổ sung hồ sơ",
    "complete": "Đã xử lý xong",
    "return_result": "Trả kết quả",
    "withdraw": "Rút hồ sơ",
    "stop": "Dừng xử lý",
    "refuse": "Từ chối tiếp nhận",
}
MAX_ACTOR_NAME = 50
# TrangThaiBoSung: the portal's specification at hand names the field but not its codes; we send
# 0 while the applicant is still to supplement and 1 once the supplement was taken in.
SUPPLEMENT_WAITING, SUPPLEMENT_RECEIVED = 0, 1


def fmt(moment: datetime | None) -> str:
    """``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh ("" when unknown, as the portal accepts)."""
    if moment is None:
        return ""
    return moment.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


@dataclass
class Source:
    """A dossier with what its messages need; ``after`` = the last action id already queued."""

    dossier: Dossier
    actions: list[DossierAction]
    after: int
    procedure: Procedure | None
    sector: Sector | None
    components: list[DossierComponent]
    fees: list[FeeLine]
    unit_name: str
    people: dict[int, str] = field(default_factory=dict)  # account id -> full name
    titles: dict[int, str] = field(default_factory=dict)  # account id -> chức danh
    divisions: dict[int, str] = field(default_factory=dict)  # division id -> name
    supplements: list[DossierPause] = field(default_factory=list)  # supplement pauses, oldest first

    def new_actions(self) -> Iterator[tuple[DossierAction, int]]:
        """(action, the dossier's status right after it) for each action newer than ``after``."""
        state: int | None = None
        for action in self.actions:
            if action.to_status is not None:
                state = action.to_status
            elif state is None:
                state = action.from_status if action.from_status is not None else self.dossier.status
            if action.id > self.after:
                yield action, state

    def previous_at(self, action: DossierAction) -> datetime | None:
        earlier = [a.at for a in self.actions if a.id < action.id]
        return earlier[-1] if earlier else None


def load_sources(
    platform_session: Session,
    tenant_id: int,
    tenant_session: Session,
    dossier_ids: list[int],
    *,
    after: dict[int, int],
) -> list[Source]:
    """One Source per dossier that has actions newer than ``after`` (few queries for the batch)."""
    dossiers = tenant_session.scalars(
        select(Dossier).where(Dossier.id.in_(dossier_ids)).order_by(Dossier.id)
    ).all()
    dossiers = [d for d in dossiers if d.status != 0 and d.code]
    if not dossiers:
        return []
    ids = [d.id for d in dossiers]
    actions: dict[int, list[DossierAction]] = {i: [] for i in ids}
    for action in tenant_session.scalars(
        select(DossierAction).where(DossierAction.dossier_id.in_(ids)).order_by(DossierAction.id)
    ):
        actions[action.dossier_id].append(action)
    dossiers = [d for d in dossiers if actions[d.id] and actions[d.id][-1].id > after.get(d.id, 0)]
    if not dossiers:
        return []
    return build_sources(platform_session, tenant_id, tenant_session, dossiers, actions, after)


def build_sources(platform_session, tenant_id, tenant_session, dossiers, actions, after) -> list[Source]:
    ids = [d.id for d in dossiers]
    procedure_ids = {d.procedure_id for d in dossiers}
    procedures = {
        p.id: p for p in tenant_session.scalars(select(Procedure).where(Procedure.id.in_(procedure_ids)))
    }
    sectors = {s.id: s for s in tenant_session.scalars(select(Sector))} if procedures else {}
    components: dict[int, list[DossierComponent]] = {i: [] for i in ids}
    for comp in tenant_session.scalars(
        select(DossierComponent).where(DossierComponent.dossier_id.in_(ids)).order_by(DossierComponent.id)
    ):
        components[comp.dossier_id].append(comp)
    fees: dict[int, list[FeeLine]] = {}
    for fee in tenant_session.scalars(
        select(FeeLine)
        .where(FeeLine.procedure_id.in_(procedure_ids))
        .order_by(FeeLine.sort_order, FeeLine.id)
    ):
        fees.setdefault(fee.procedure_id, []).append(fee)
    actor_ids = {a.actor_account_id for acts in actions.values() for a in acts if a.actor_account_id}
    people = (
        dict(
            platform_session.execute(
                select(Account.id, Account.full_name).where(Account.id.in_(actor_ids))
            ).all()
        )
        if actor_ids
        else {}
    )
    titles: dict[int, str] = {}
    if actor_ids:
        for account_id, title in tenant_session.execute(
            select(OfficialAssignment.account_id, OfficialAssignment.title).where(
                OfficialAssignment.account_id.in_(actor_ids), OfficialAssignment.title.is_not(None)
            )
        ):
            titles.setdefault(account_id, title)
    divisions = dict(tenant_session.execute(select(Division.id, Division.name)).all())
    supplements: dict[int, list[DossierPause]] = {i: [] for i in ids}
    for pause in tenant_session.scalars(
        select(DossierPause)
        .where(DossierPause.dossier_id.in_(ids), DossierPause.kind == "supplement")
        .order_by(DossierPause.started_at, DossierPause.id)
    ):
        supplements[pause.dossier_id].append(pause)
    unit_name = platform_session.scalar(select(Tenant.name).where(Tenant.id == tenant_id)) or ""
    result = []
    for d in dossiers:
        procedure = procedures.get(d.procedure_id)
        result.append(
            Source(
                dossier=d,
                actions=actions[d.id],
                after=after.get(d.id, 0),
                procedure=procedure,
                sector=sectors.get(procedure.sector_id) if procedure else None,
                components=components[d.id],
                fees=[f for f in fees.get(d.procedure_id, []) if f.case_id in (None, d.case_id)],
                unit_name=unit_name,
                people=people,
                titles=titles,
                divisions=divisions,
                supplements=supplements[d.id],
            )
        )
    return result


def dossier_payload(item: Source, *, status: int) -> dict[str, Any]:
    """The ``data`` item of ``DongBoHoSoMC``: the dossier's current state with ``status`` as of the action."""
    d = item.dossier
    p = item.procedure
    payload: dict[str, Any] = {
        "MaHoSo": d.code,
        "MaTTHC": (p.dvcqg_code or p.code) if p else "",
        "TenTTHC": p.name if p else "",
        "MaLinhVuc": item.sector.code if item.sector else "",
        "TenLinhVuc": item.sector.name if item.sector else "",
        "KenhThucHien": d.channel,
        "ChuHoSo": d.applicant_name,
        "LoaiDoiTuong": APPLICANT_KIND.get(d.applicant_type, 4),
        "SoGiayToChuHoSo": d.applicant_id_number or "",
        "Email": d.applicant_email or "",
        "SoDienThoai": d.applicant_phone or "",
        "TrichYeuHoSo": ((p.name if p else "") + " - " + d.applicant_name)[:1000],
        "NgayNopHoSo": fmt(d.submitted_at or d.received_at),
        "NgayTiepNhan": fmt(d.received_at),
        "NgayHenTra": fmt(d.due_at),
        "NgayTra": fmt(d.returned_at) if status == 10 else "",
        "NgayKetThucXuLy": fmt(d.completed_at) if status in (9, 10) else "",
        "NgayTuChoi": fmt(_status_time(item, 3)) if status == 3 else "",
        "TrangThaiHoSo": status,
        "HinhThuc": 1 if d.result_delivery == "postal" else 0,
        "DonViXuLy": item.unit_name,
        "NoiNopHoSo": 1 if d.channel == 2 else 0,
        "TaiKhoanDuocXacThucVoiVNeID": 1 if d.is_vneid_verified else 0,
        "DuocThanhToanTrucTuyen": 1 if d.is_paid_online else 0,
        "HoSoCoThanhPhanSoHoa": 1 if d.is_digitised else 0,
        "TaiLieuNop": [
            {
                "TepDinhKemId": str(c.id),
                "TenTepDinhKem": c.name,
                "IsDeleted": False,
                "MaThanhPhanHoSo": c.code or "",
                "DuocSoHoa": c.is_digitised,
                "DuocTaiSuDung": c.is_reused,
            }
            for c in item.components
        ],
        "DanhSachLePhi": [
            {
                "TenPhiLePhi": f.description,
                "MaPhiLePhi": str(f.id),
                "HinhThucThu": 2 if d.is_paid_online else 1,
                "Gia": f.online_amount if d.channel == 2 and f.online_amount is not None else f.amount,
                "LoaiPhiLePhi": FEE_KIND.get(f.kind, 1),
            }
            for f in item.fees
        ],
    }
    if item.supplements:
        payload["DanhSachHoSoBoSung"] = supplement_history(item)
    id_kind = ID_KIND.get(d.applicant_id_type or "")
    if id_kind and d.applicant_id_number:
        payload["DinhDanhCHS"] = [{"LoaiDinhDanh": id_kind, "SoDinhDanh": d.applicant_id_number}]
    return payload


def supplement_history(item: Source) -> list[dict[str, Any]]:
    """``DanhSachHoSoBoSung``: each supplement request (a supplement pause) with who asked and when,
    who took the supplement in and when, and the appointment before and after the pause (from the
    dossier's due explanation, which records both when the clock resumes)."""
    moved = {
        entry.get("from"): entry
        for entry in (item.dossier.due_explanation or {}).get("pauses", [])
        if entry.get("kind") == "supplement"
    }
    history = []
    for pause in item.supplements:
        asked = _action_at(item, pause.started_at, to_status=5)
        taken = _action_at(item, pause.ended_at, from_status=5) if pause.ended_at else None
        due = moved.get(pause.started_at.astimezone(VN_TZ).isoformat(), {})
        history.append(
            {
                "HoSoBoSungId": str(pause.id),
                "NguoiYeuCauBoSung": _person(item, asked),
                "NoiDungBoSung": (pause.reason or "")[:2000],
                "NgayBoSung": fmt(pause.started_at),
                "NguoiTiepNhanBoSung": _person(item, taken),
                "ThongTinTiepNhan": (taken.note or "")[:2000] if taken else "",
                "NgayTiepNhanBoSung": fmt(pause.ended_at),
                "TrangThaiBoSung": SUPPLEMENT_RECEIVED if pause.ended_at else SUPPLEMENT_WAITING,
                "NgayHenTraTruoc": fmt(_parse(due.get("due_before"))),
                "NgayHenTraMoi": fmt(_parse(due.get("due_after"))),
            }
        )
    return history


def _action_at(item: Source, moment: datetime, **status) -> DossierAction | None:
    """The action taken at ``moment`` that moved the dossier into (out of) supplement."""
    for action in item.actions:
        if action.at == moment and all(getattr(action, k) == v for k, v in status.items()):
            return action
    return None


def _person(item: Source, action: DossierAction | None) -> str:
    actor = action.actor_account_id if action else None
    return item.people.get(actor, "")[:MAX_ACTOR_NAME] if actor else ""


def _parse(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _status_time(item: Source, status: int) -> datetime | None:
    times = [a.at for a in item.actions if a.to_status == status]
    return times[-1] if times else None


def progress_payload(item: Source, action: DossierAction, *, status: int) -> dict[str, Any]:
    """The ``data`` item of ``CapNhatTienDoHoSoMC`` for one action (one step of progress)."""
    actor = action.actor_account_id
    name = item.people.get(actor, "") if actor else ""
    division_id = action.division_id or action.to_division_id
    return {
        "MaHoSo": item.dossier.code,
        "NguoiXuLy": (name or "Hệ thống")[:MAX_ACTOR_NAME],
        "ChucDanh": item.titles.get(actor, "") if actor else "",
        "ThoiDiemXuLy": fmt(action.at),
        "PhongBanXuLy": item.divisions.get(division_id, "") if division_id else "",
        "NoiDungXuLy": (action.note or ACTION_LABELS.get(action.action, action.action))[:2000],
        "TrangThai": status,
        "NgayBatDau": fmt(item.previous_at(action) or action.at),
        "NgayKetThucTheoQuyDinh": fmt(action.step_due_at or item.dossier.due_at),
    }
