"""Unit settings: the choices DOMAIN.md leaves to each unit, with their defaults and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import DomainError
from app.officials.models import TenantSetting


class InvalidSetting(DomainError):
    status = 422


@dataclass(frozen=True)
class SettingSpec:
    default: Any
    choices: tuple[Any, ...] | None  # None: a whole number within [low, high]
    label_vi: str
    label_en: str
    low: int = 0
    high: int = 0


SETTINGS: dict[str, SettingSpec] = {
    # DOMAIN.md §3.5: compare dates (same day = on time) or full timestamps.
    "classification_granularity": SettingSpec(
        "date", ("date", "timestamp"), "Cách xếp loại đúng hạn", "On-time classification granularity"
    ),
    # DOMAIN.md §3.5: which moment counts as completion for KPIs.
    "completion_basis": SettingSpec(
        "completed_at", ("completed_at", "returned_at"), "Mốc tính hoàn thành", "Completion timestamp"
    ),
    # DOMAIN.md §2.3: days the applicant has to answer a supplement request (form 02).
    "supplement_deadline_days": SettingSpec(
        30, None, "Thời hạn bổ sung hồ sơ (ngày)", "Supplement deadline (days)", low=1, high=365
    ),
    # Issue #4: officials of this unit must sign in with an authenticator-app code as well.
    "officials_second_factor": SettingSpec(
        "optional", ("optional", "required"), "Xác thực hai bước cho cán bộ", "Two-step sign-in for officials"
    ),
}


def _spec(key: str) -> SettingSpec:
    if key not in SETTINGS:
        raise InvalidSetting(f"Không có thiết lập {key!r}", f"no setting named {key!r}")
    return SETTINGS[key]


def get_setting(session: Session, key: str) -> Any:
    """The unit's value for ``key``, or its default."""
    spec = _spec(key)
    value = session.scalar(select(TenantSetting.value).where(TenantSetting.key == key))
    return spec.default if value is None else value


def all_settings(session: Session) -> dict[str, Any]:
    stored = {key: value for key, value in session.execute(select(TenantSetting.key, TenantSetting.value))}
    return {key: stored.get(key, spec.default) for key, spec in SETTINGS.items()}


def clean_value(key: str, raw: Any) -> Any:
    """Check (and coerce form strings) before saving; raises InvalidSetting with both languages."""
    spec = _spec(key)
    if spec.choices is not None:
        if raw not in spec.choices:
            allowed = ", ".join(map(str, spec.choices))
            raise InvalidSetting(
                f"{spec.label_vi}: giá trị {raw!r} không hợp lệ (chọn một trong: {allowed})",
                f"{spec.label_en}: {raw!r} is not allowed (one of: {allowed})",
            )
        return raw
    try:
        number = int(str(raw).strip())
    except ValueError:
        number = None
    if number is None or not spec.low <= number <= spec.high:
        raise InvalidSetting(
            f"{spec.label_vi}: cần một số nguyên từ {spec.low} đến {spec.high}",
            f"{spec.label_en}: must be a whole number from {spec.low} to {spec.high}",
        )
    return number


def set_setting(session: Session, key: str, raw: Any, *, account_id: int | None = None) -> Any:
    value = clean_value(key, raw)
    row = session.scalar(select(TenantSetting).where(TenantSetting.key == key))
    if row is None:
        row = TenantSetting(key=key)
        session.add(row)
    row.value = value
    row.updated_by_account_id = account_id
    session.flush()
    return value


# Labels of each choice, for the settings page (value -> (Vietnamese, English)).
CHOICE_LABELS: dict[str, dict[Any, tuple[str, str]]] = {
    "classification_granularity": {
        "date": ("Theo ngày (trả trong ngày hẹn là đúng hạn)", "By date (same day as due counts as on time)"),
        "timestamp": ("Theo giờ phút", "By exact time"),
    },
    "completion_basis": {
        "completed_at": ("Khi có kết quả", "When the result is ready"),
        "returned_at": ("Khi trả kết quả cho người dân", "When the result is handed over"),
    },
    "officials_second_factor": {
        "optional": ("Tùy chọn (cán bộ tự bật)", "Optional (each official may turn it on)"),
        "required": ("Bắt buộc với mọi cán bộ của đơn vị", "Required of every official of this unit"),
    },
}


def choice_label(key: str, value: Any) -> tuple[str, str]:
    return CHOICE_LABELS.get(key, {}).get(value, (str(value), str(value)))


def save_settings(session: Session, submitted: dict[str, Any], *, account_id: int | None = None) -> dict:
    """Check every submitted setting first and save them only if all are valid.

    Raises InvalidSetting whose ``errors`` maps each bad key to its (vi, en) message;
    nothing is written then. Keys not submitted keep their value.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, tuple[str, str]] = {}
    for key in SETTINGS:
        if key not in submitted:
            continue
        try:
            cleaned[key] = clean_value(key, submitted[key])
        except InvalidSetting as exc:
            errors[key] = (exc.vi, exc.en)
    if errors:
        raise InvalidSetting(
            "Có thiết lập không hợp lệ; chưa lưu gì. Sửa các ô được đánh dấu rồi lưu lại.",
            "Some settings are invalid; nothing was saved. Fix the marked fields and save again.",
            errors=errors,
        )
    for key, value in cleaned.items():
        set_setting(session, key, value, account_id=account_id)
    return cleaned
