"""Dossier statuses (DVCQG codes 1-10 plus draft) and which action may move a dossier from which status.

DOMAIN.md §2.3 is the source; the table below is its transition table, one row per
action. Action functions check it first, so a wrong move is a 409 that says what
can be done now.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.auth import roles as r
from app.core.errors import Conflict

DRAFT = 0
SUBMITTED = 1  # Mới đăng ký
RECEIVED = 2  # Được tiếp nhận
REFUSED = 3  # Không được tiếp nhận
PROCESSING = 4  # Đang xử lý
SUPPLEMENT = 5  # Yêu cầu bổ sung giấy tờ
FINANCIAL = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
STOPPED = 8  # Dừng xử lý
RESULT_READY = 9  # Đã xử lý xong
RETURNED = 10  # Đã trả kết quả

STATUS_NAMES: dict[int, tuple[str, str]] = {
    DRAFT: ("Bản nháp", "Draft"),
    SUBMITTED: ("Mới đăng ký", "Submitted"),
    RECEIVED: ("Được tiếp nhận", "Received"),
    REFUSED: ("Không được tiếp nhận", "Refused"),
    PROCESSING: ("Đang xử lý", "Being processed"),
    SUPPLEMENT: ("Yêu cầu bổ sung giấy tờ", "Supplement requested"),
    FINANCIAL: ("Yêu cầu thực hiện nghĩa vụ tài chính", "Waiting for payment of fees or taxes"),
    WITHDRAWN: ("Công dân yêu cầu rút hồ sơ", "Withdrawn by the applicant"),
    STOPPED: ("Dừng xử lý", "Processing stopped"),
    RESULT_READY: ("Đã xử lý xong", "Result ready"),
    RETURNED: ("Đã trả kết quả", "Result returned"),
}
TERMINAL = frozenset({REFUSED, WITHDRAWN, STOPPED, RETURNED})
# Statuses in which the dossier sits in someone's task queue.
OPEN = (RECEIVED, PROCESSING, SUPPLEMENT, FINANCIAL, RESULT_READY)

# Who acts: a tenant role, or "step" (whoever may act on the dossier's current step), or "applicant".
STEP = "step"
APPLICANT = "applicant"


@dataclass(frozen=True)
class Transition:
    action: str
    vi: str
    en: str
    sources: frozenset[int]
    target: int | None  # None: the status does not change
    actors: frozenset[str]


def _t(action: str, vi: str, en: str, sources: set[int], target: int | None, actors: set[str]) -> Transition:
    return Transition(action, vi, en, frozenset(sources), target, frozenset(actors))


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("submit", "Nộp hồ sơ", "Submit", {DRAFT}, SUBMITTED, {APPLICANT, r.COUNTER_OFFICER}),
        _t("accept", "Tiếp nhận", "Accept", {SUBMITTED}, RECEIVED, {r.COUNTER_OFFICER}),
        _t(
            "guide",
            "Hướng dẫn bổ sung (mẫu 02)",
            "Ask to complete before acceptance (form 02)",
            {SUBMITTED},
            None,
            {r.COUNTER_OFFICER},
        ),
        _t(
            "refuse",
            "Từ chối tiếp nhận (mẫu 03)",
            "Refuse (form 03)",
            {SUBMITTED},
            REFUSED,
            {r.COUNTER_OFFICER},
        ),
        _t("transfer", "Chuyển xử lý", "Transfer for processing", {RECEIVED}, PROCESSING, {STEP}),
        _t(
            "forward", "Chuyển bước tiếp theo", "Hand over to the next step", {PROCESSING}, PROCESSING, {STEP}
        ),
        _t(
            "request_supplement",
            "Yêu cầu bổ sung (mẫu 02)",
            "Request a supplement (form 02)",
            {PROCESSING},
            SUPPLEMENT,
            {STEP},
        ),
        _t(
            "receive_supplement",
            "Nhận hồ sơ bổ sung",
            "Supplement received",
            {SUPPLEMENT},
            PROCESSING,
            {r.COUNTER_OFFICER, STEP, APPLICANT},
        ),
        _t(
            "request_payment",
            "Yêu cầu thực hiện nghĩa vụ tài chính",
            "Ask for fees or taxes",
            {PROCESSING},
            FINANCIAL,
            {STEP, r.FEE_COLLECTOR},
        ),
        _t(
            "confirm_payment",
            "Xác nhận đã nộp phí, thuế",
            "Confirm payment",
            {FINANCIAL},
            PROCESSING,
            {r.FEE_COLLECTOR, r.COUNTER_OFFICER},
        ),
        _t(
            "apologise",
            "Xin lỗi và hẹn lại (mẫu 04)",
            "Apologise and set a new date (form 04)",
            {PROCESSING, SUPPLEMENT, FINANCIAL},
            None,
            {r.HEAD_OF_UNIT},
        ),
        _t(
            "stop",
            "Dừng xử lý",
            "Stop processing",
            {PROCESSING, SUPPLEMENT},
            STOPPED,
            {r.HEAD_OF_DIVISION, r.HEAD_OF_UNIT},
        ),
        _t(
            "withdraw",
            "Rút hồ sơ theo yêu cầu",
            "Withdraw at the applicant's request",
            {SUBMITTED, RECEIVED, PROCESSING, SUPPLEMENT},
            WITHDRAWN,
            {r.COUNTER_OFFICER, APPLICANT},
        ),
        _t("complete", "Hoàn thành, có kết quả", "Result ready", {PROCESSING}, RESULT_READY, {STEP}),
        _t("return_result", "Trả kết quả", "Return the result", {RESULT_READY}, RETURNED, {STEP}),
    )
}


# Who may move a dossier between officials of one step (someone is away, overloaded, or named wrongly).
REASSIGNERS = frozenset({r.HEAD_OF_DIVISION, r.HEAD_OF_UNIT})

# While a liên thông step has the dossier at the partner unit, the owner may only send form 04.
ALLOWED_AWAY = frozenset({"apologise"})


def status_name(code: int) -> tuple[str, str]:
    return STATUS_NAMES.get(code, (str(code), str(code)))


def transitions_from(status: int) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if status in t.sources]


def check_transition(action: str, status: int) -> Transition:
    """The transition for ``action``, or a 409 naming the status and what is allowed now."""
    transition = TRANSITIONS[action]
    if status in transition.sources:
        return transition
    now_vi, now_en = status_name(status)
    allowed = transitions_from(status)
    allowed_vi = ", ".join(t.vi for t in allowed) or "không thao tác nào (hồ sơ đã kết thúc)"
    allowed_en = ", ".join(t.en for t in allowed) or "nothing (the dossier is closed)"
    raise Conflict(
        f"Hồ sơ đang ở trạng thái “{now_vi}”, không thể “{transition.vi}”. Có thể: {allowed_vi}.",
        f"The dossier is “{now_en}”; “{transition.en}” is not possible. Allowed now: {allowed_en}.",
        errors={"status": status, "allowed": [t.action for t in allowed]},
    )
