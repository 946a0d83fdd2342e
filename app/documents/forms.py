"""The standard forms of Circular 01/2018/TT-VPCP (DOMAIN.md §2.5) as plain data.

The dossier lifecycle fills these; ``app.documents.pdf.render`` prints them. Every
datetime must be timezone-aware; it is printed in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

RESULT_DELIVERIES = ("counter", "online", "postal")
STEP_RESULTS = ("early", "on_time", "late")


@dataclass
class Unit:
    """The issuing unit (cơ quan): its name and the body above it, as printed in the header."""

    name: str
    parent_name: str
    unit_code: str
    address: str | None = None
    phone: str | None = None


@dataclass
class ComponentLine:
    """A document received (thành phần hồ sơ). ``original_or_copy``: original, copy,
    certified_copy, electronic, or any text to print as is."""

    name: str
    original_or_copy: str
    quantity: int


@dataclass
class Form01:
    """Mẫu số 01 — Giấy tiếp nhận hồ sơ và hẹn trả kết quả."""

    unit: Unit
    number: str
    dossier_code: str
    lookup_url: str
    applicant_name: str
    applicant_address: str | None
    applicant_phone: str | None
    applicant_email: str | None
    procedure_name: str
    components: list[ComponentLine]
    number_of_sets: int
    legal_time_text: str
    received_at: datetime
    due_at: datetime
    result_delivery: str
    logbook_book: str
    logbook_seq: int | str
    receiver_name: str

    def __post_init__(self) -> None:
        if self.result_delivery not in RESULT_DELIVERIES:
            raise ValueError(f"result_delivery must be one of {RESULT_DELIVERIES}: {self.result_delivery!r}")


@dataclass
class Form02:
    """Mẫu số 02 — Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ."""

    unit: Unit
    number: str
    dossier_code: str | None
    applicant_name: str
    procedure_name: str
    items: list[str]
    reason: str
    officer_name: str
    officer_phone: str | None
    issued_at: datetime
    signer_name: str


@dataclass
class Form03:
    """Mẫu số 03 — Phiếu từ chối tiếp nhận giải quyết hồ sơ."""

    unit: Unit
    number: str
    dossier_code: str | None
    applicant_name: str
    procedure_name: str
    reasons: list[str]
    issued_at: datetime
    signer_name: str


@dataclass
class Form04:
    """Mẫu số 04 — Phiếu xin lỗi và hẹn lại ngày trả kết quả (signed by the head of the unit)."""

    unit: Unit
    number: str
    dossier_code: str
    applicant_name: str
    received_at: datetime
    original_due_at: datetime
    reason: str
    new_due_at: datetime
    issued_at: datetime
    signer_name: str


@dataclass
class Form05Row:
    """One handover: ``giver`` → ``receiver`` (unit and/or person, as printed)."""

    giver: str
    receiver: str
    handed_at: datetime
    step_name: str
    result: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.result is not None and self.result not in STEP_RESULTS:
            raise ValueError(f"result must be one of {STEP_RESULTS} or None, not {self.result!r}")


@dataclass
class Form05:
    """Mẫu số 05 — Phiếu kiểm soát quá trình giải quyết hồ sơ."""

    unit: Unit
    dossier_code: str
    lead_agency: str
    coordinating: list[str] = field(default_factory=list)
    rows: list[Form05Row] = field(default_factory=list)


@dataclass
class LogbookRow:
    """One line of Mẫu số 06. ``address_phone`` is printed as given ("12 Lê Lợi - 0912…")."""

    seq: int
    dossier_code: str
    procedure_name: str
    number_of_sets: int
    applicant_name: str
    address_phone: str | None
    lead_agency: str
    received_at: datetime
    due_at: datetime
    sent_at: datetime | None = None
    result_received_at: datetime | None = None
    returned_at: datetime | None = None
    note: str | None = None


@dataclass
class Logbook:
    """Mẫu số 06 — Sổ theo dõi hồ sơ, for the days ``period_from``..``period_to`` (inclusive)."""

    unit: Unit
    period_from: date
    period_to: date
    rows: list[LogbookRow] = field(default_factory=list)
