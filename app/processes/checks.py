"""The rules a process must meet, each reported as a bilingual Problem.

``check_specs`` holds what a draft must meet to be saved at all (it would break
the table's constraints otherwise); ``validate_steps`` what a version must meet
to be published (DOMAIN.md §2.6: a DAG from one start step to a return step whose
longest path fits the legal time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from app.auth.roles import TENANT_ROLES
from app.processes import graph
from app.processes.legal import LegalTime, hours_text, number_text

# kind -> (Vietnamese, English)
KINDS: dict[str, tuple[str, str]] = {
    "start": ("Bắt đầu (tiếp nhận)", "Start (reception)"),
    "task": ("Xử lý", "Task"),
    "approval": ("Xem xét, phê duyệt", "Approval"),
    "signing": ("Ký duyệt", "Signing"),
    "interop": ("Liên thông", "Inter-unit hand-over"),
    "return": ("Trả kết quả", "Return the result"),
    "end": ("Kết thúc", "End"),
}
CONDITIONS: dict[str, tuple[str, str]] = {
    "default": ("Chuyển tiếp", "Next"),
    "supplement": ("Yêu cầu bổ sung", "Supplement"),
    "refuse": ("Từ chối", "Refuse"),
    "parallel": ("Song song", "Parallel"),
    "return": ("Trả lại", "Send back"),
}
MAX_HOURS = Decimal("9999.99")  # process_steps.duration_hours is NUMERIC(6, 2)
MAX_TOTAL_HOURS = Decimal("999999.99")  # process_versions.total_budget_hours is NUMERIC(8, 2)
MAX_KEY = 40
MAX_NAME = 255  # step names and link labels
MAX_CODE = 64  # process_templates.code
MAX_ID = 2**63 - 1  # ids are BIGINT
SORT_ORDER_RANGE = (-(2**31), 2**31 - 1)  # process_steps.sort_order is INTEGER


@dataclass(frozen=True)
class Problem:
    code: str
    vi: str
    en: str


class StepLike(Protocol):
    key: str
    name: str
    kind: str
    role: str
    duration_hours: Decimal
    division_id: int | None
    partner_tenant_id: int | None


class StepSpecLike(StepLike, Protocol):
    account_ids: Sequence[int]
    sort_order: int


class LinkLike(Protocol):
    from_key: str
    to_key: str
    condition: str
    label: str | None


@dataclass(frozen=True)
class PathBudget:
    """The longest path from start to a return step; ``hours`` excludes the return step."""

    hours: Decimal
    keys: tuple[str, ...]
    names: tuple[str, ...]  # the steps that use the budget (without the return step)

    def text(self) -> str:
        return " → ".join(self.names)


def _label(step: StepLike) -> str:
    return f"«{step.name or step.key}»"


def _role_names() -> str:
    return ", ".join(TENANT_ROLES)


def check_specs(
    steps: Sequence[StepSpecLike], links: Iterable[LinkLike], division_ids: set[int]
) -> list[Problem]:
    """What must hold for a draft to be saved."""
    problems: list[Problem] = []
    counts = Counter(step.key for step in steps)
    for step in steps:
        problems += _check_one(step, counts, division_ids)
    keys = set(counts)
    seen: set[tuple[str, str]] = set()
    for link in links:
        problems += _check_link(link, keys, seen)
    return problems


def _check_one(step: StepSpecLike, counts: Counter, division_ids: set[int]) -> list[Problem]:
    problems: list[Problem] = []
    if not step.key or len(step.key) > MAX_KEY:
        problems.append(
            Problem(
                "bad_key",
                f"Bước {_label(step)}: mã bước phải có từ 1 đến {MAX_KEY} ký tự.",
                f"Step {_label(step)}: the key must have 1 to {MAX_KEY} characters.",
            )
        )
    elif counts[step.key] > 1:
        problems.append(
            Problem(
                "duplicate_key",
                f"Mã bước {step.key!r} bị trùng; mỗi bước cần một mã riêng.",
                f"Step key {step.key!r} is used twice; each step needs its own key.",
            )
        )
    if not step.name or len(step.name) > MAX_NAME:
        problems.append(
            Problem(
                "bad_name",
                f"Bước {step.key!r}: tên bước phải có từ 1 đến {MAX_NAME} ký tự.",
                f"Step {step.key!r}: the name must have 1 to {MAX_NAME} characters.",
            )
        )
    if step.kind not in KINDS:
        kinds = ", ".join(KINDS)
        problems.append(
            Problem(
                "unknown_kind",
                f"Bước {_label(step)}: loại bước {step.kind!r} không hợp lệ (chọn một trong: {kinds}).",
                f"Step {_label(step)}: unknown kind {step.kind!r} (one of: {kinds}).",
            )
        )
    problems += _check_common(step, division_ids)
    problems += _check_numbers(step)
    if step.duration_hours is not None and step.duration_hours > MAX_HOURS:
        problems.append(
            Problem(
                "too_many_hours",
                f"Bước {_label(step)}: thời gian tối đa là {number_text(MAX_HOURS, 'vi')} giờ.",
                f"Step {_label(step)}: at most {MAX_HOURS} hours.",
            )
        )
    return problems


def _check_numbers(step: StepSpecLike) -> list[Problem]:
    """Ids and the order as the columns can hold them (a bigger number is no row of ours)."""
    problems: list[Problem] = []
    low, high = SORT_ORDER_RANGE
    if not low <= step.sort_order <= high:
        problems.append(
            Problem(
                "bad_order",
                f"Bước {_label(step)}: thứ tự phải từ {low} đến {high}.",
                f"Step {_label(step)}: the order must be between {low} and {high}.",
            )
        )
    for value, vi, en in (
        *((a, "mã cán bộ", "official id") for a in step.account_ids),
        (step.partner_tenant_id, "mã đơn vị phối hợp", "partner unit id"),
    ):
        if value is not None and not 1 <= value <= MAX_ID:
            problems.append(
                Problem(
                    "bad_id",
                    f"Bước {_label(step)}: {vi} {value} không hợp lệ.",
                    f"Step {_label(step)}: {en} {value} is not valid.",
                )
            )
    return problems


def path_too_long(budget: PathBudget | None) -> list[Problem]:
    """The longest path must fit the version's total (NUMERIC(8, 2)) even in a draft."""
    if budget is None or budget.hours <= MAX_TOTAL_HOURS:
        return []
    need_vi, need_en = hours_text(budget.hours)
    return [
        Problem(
            "path_too_long",
            f"Nhánh dài nhất ({budget.text()}) cần {need_vi}; "
            "tổng thời gian một nhánh phải dưới 1.000.000 giờ.",
            f"The longest path ({budget.text()}) needs {need_en}; a path must total under 1,000,000 hours.",
        )
    ]


def _check_common(step: StepLike, division_ids: set[int]) -> list[Problem]:
    """Checked when saving and again when publishing (rows may be written around the services)."""
    problems: list[Problem] = []
    if step.role not in TENANT_ROLES:
        problems.append(
            Problem(
                "unknown_role",
                f"Bước {_label(step)}: vai trò {step.role!r} không hợp lệ (chọn một trong: {_role_names()}).",
                f"Step {_label(step)}: unknown role {step.role!r} (one of: {_role_names()}).",
            )
        )
    if step.division_id is not None and step.division_id not in division_ids:
        problems.append(
            Problem(
                "unknown_division",
                f"Bước {_label(step)}: không tìm thấy phòng ban #{step.division_id} của đơn vị.",
                f"Step {_label(step)}: division #{step.division_id} does not exist in this unit.",
            )
        )
    hours = step.duration_hours
    if hours is None or not Decimal(hours).is_finite() or hours < 0:
        problems.append(
            Problem(
                "bad_duration",
                f"Bước {_label(step)}: thời gian xử lý phải là số giờ không âm.",
                f"Step {_label(step)}: the duration must be a number of hours, zero or more.",
            )
        )
    return problems


def _check_link(link: LinkLike, keys: set[str], seen: set[tuple[str, str]]) -> list[Problem]:
    arrow = f"{link.from_key} → {link.to_key}"
    for key in (link.from_key, link.to_key):
        if key not in keys:
            return [
                Problem(
                    "unknown_link_key",
                    f"Liên kết {arrow}: không có bước mã {key!r}.",
                    f"Link {arrow}: there is no step with key {key!r}.",
                )
            ]
    if link.from_key == link.to_key:
        return [
            Problem(
                "self_link",
                f"Bước {link.from_key!r} không thể chuyển tới chính nó.",
                f"Step {link.from_key!r} cannot lead to itself.",
            )
        ]
    if link.condition not in CONDITIONS:
        conditions = ", ".join(CONDITIONS)
        return [
            Problem(
                "unknown_condition",
                f"Liên kết {arrow}: điều kiện {link.condition!r} không hợp lệ "
                f"(chọn một trong: {conditions}).",
                f"Link {arrow}: unknown condition {link.condition!r} (one of: {conditions}).",
            )
        ]
    if (link.from_key, link.to_key) in seen:
        return [
            Problem(
                "duplicate_link",
                f"Liên kết {arrow} bị lặp lại.",
                f"Link {arrow} is given twice.",
            )
        ]
    seen.add((link.from_key, link.to_key))
    if link.label is not None and len(link.label) > MAX_NAME:
        return [
            Problem(
                "bad_label",
                f"Liên kết {arrow}: nhãn dài quá {MAX_NAME} ký tự.",
                f"Link {arrow}: the label is longer than {MAX_NAME} characters.",
            )
        ]
    return []


def longest_budget_path(steps: Sequence[StepLike], links: Iterable[LinkLike]) -> PathBudget | None:
    """None when there is no single start, the graph has a cycle, or no return step is reachable."""
    starts = [s for s in steps if s.kind == "start"]
    if len(starts) != 1:
        return None
    edges = graph.adjacency([s.key for s in steps], [(link.from_key, link.to_key) for link in links])
    if graph.find_cycle(edges) is not None:
        return None
    by_key = {s.key: s for s in steps}
    ends = {s.key for s in steps if s.kind == "return"}
    weight = {s.key: Decimal(s.duration_hours or 0) for s in steps}
    found = graph.longest_path(edges, starts[0].key, ends, weight)
    if found is None:
        return None
    hours, keys = found
    return PathBudget(hours, tuple(keys), tuple(by_key[k].name for k in keys[:-1]))


def validate_steps(
    steps: Sequence[StepLike],
    links: Sequence[LinkLike],
    division_ids: set[int],
    legal: LegalTime,
    hours_per_day: Decimal,
    *,
    inactive_divisions: Mapping[int, str] | None = None,
) -> list[Problem]:
    """Every reason a version cannot be published (``inactive_divisions``: id -> name)."""
    problems: list[Problem] = []
    for step in steps:
        problems += _check_common(step, division_ids)
        if step.division_id in (inactive_divisions or {}):
            name = inactive_divisions[step.division_id]
            problems.append(
                Problem(
                    "inactive_division",
                    f"Bước {_label(step)}: phòng ban «{name}» đã ngừng hoạt động; "
                    "hãy chọn phòng ban khác hoặc bỏ trống.",
                    f"Step {_label(step)}: division «{name}» is inactive; choose another division or none.",
                )
            )
        if step.kind == "interop" and step.partner_tenant_id is None:
            problems.append(
                Problem(
                    "interop_without_partner",
                    f"Bước liên thông {_label(step)} cần mã đơn vị phối hợp.",
                    f"Inter-unit step {_label(step)} needs the partner unit's id.",
                )
            )
    starts = [s for s in steps if s.kind == "start"]
    if len(starts) != 1:
        return [
            *problems,
            Problem(
                "start_count",
                f"Quy trình phải có đúng một bước bắt đầu (hiện có {len(starts)}).",
                f"The process needs exactly one start step (it has {len(starts)}).",
            ),
        ]
    edges = graph.adjacency([s.key for s in steps], [(link.from_key, link.to_key) for link in links])
    cycle = graph.find_cycle(edges)
    if cycle is not None:
        by_key = {s.key: s for s in steps}
        loop = " → ".join(by_key[k].name for k in cycle)
        return [
            *problems,
            Problem(
                "cycle",
                f"Quy trình có vòng lặp ({loop}); các bước phải đi theo một chiều, không quay lại.",
                f"The process has a cycle ({loop}); steps must lead forward, never back.",
            ),
        ]
    seen = graph.reachable(edges, starts[0].key)
    lost = [s for s in steps if s.key not in seen]
    if lost:
        names = ", ".join(_label(s) for s in lost)
        problems.append(
            Problem(
                "unreachable",
                f"Không đi tới được các bước sau từ bước bắt đầu: {names}.",
                f"These steps cannot be reached from the start step: {names}.",
            )
        )
    budget = longest_budget_path(steps, links)
    if budget is None:
        return [
            *problems,
            Problem(
                "no_return",
                "Không có bước trả kết quả nào đi tới được từ bước bắt đầu.",
                "No return step can be reached from the start step.",
            ),
        ]
    return problems + _budget_problems(budget, legal, hours_per_day)


def _budget_problems(budget: PathBudget, legal: LegalTime, hours_per_day: Decimal) -> list[Problem]:
    problems: list[Problem] = []
    need_vi, need_en = hours_text(budget.hours)
    need_en = need_en.replace(" hours", " working hours")
    path = budget.text()
    if budget.hours > legal.hours(hours_per_day):
        legal_vi, legal_en = legal.text(legal.value, hours_per_day)
        problems.append(
            Problem(
                "over_budget",
                f"Nhánh dài nhất ({path}) cần {need_vi} làm việc, vượt thời hạn luật định {legal_vi}.",
                f"The longest path ({path}) needs {need_en}, more than the legal time of {legal_en}.",
            )
        )
    online_hours = legal.online_hours(hours_per_day)
    if (
        online_hours is not None
        and budget.hours > online_hours
        and online_hours != legal.hours(hours_per_day)
    ):
        assert legal.online_value is not None
        online_vi, online_en = legal.text(legal.online_value, hours_per_day)
        problems.append(
            Problem(
                "over_budget_online",
                f"Nhánh dài nhất ({path}) cần {need_vi} làm việc, vượt thời hạn luật định "
                f"khi nộp trực tuyến {online_vi}.",
                f"The longest path ({path}) needs {need_en}, more than the legal time "
                f"for online submission of {online_en}.",
            )
        )
    return problems
