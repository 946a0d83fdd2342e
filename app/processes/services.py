"""Internal processes as versioned data: templates, drafts, steps, validation and publishing.

DOMAIN.md §2.6: each procedure (or case) has a process template; its versions are
step DAGs. A draft is edited freely; publishing checks the graph and that the
longest path fits the legal time (§3.3), then freezes the version. Dossiers use
the published version. Functions flush and never commit: the edge owns the
transaction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Procedure, ProcedureCase
from app.core.cache import UnitCache
from app.core.errors import Conflict, DomainError, NotFound
from app.officials.models import Division
from app.processes.checks import (
    CONDITIONS,
    KINDS,
    MAX_CODE,
    PathBudget,
    Problem,
    check_specs,
    longest_budget_path,
    path_too_long,
    validate_steps,
)
from app.processes.legal import HOURS_PER_DAY, LegalTime, legal_hours, legal_time_of
from app.processes.models import ProcessStep, ProcessStepLink, ProcessTemplate, ProcessVersion

__all__ = [
    "CONDITIONS",
    "KINDS",
    "LinkSpec",
    "PathBudget",
    "Problem",
    "ProcessRefused",
    "StepSpec",
    "create_template",
    "find_template",
    "first_step",
    "get_template",
    "get_version",
    "legal_hours",
    "legal_time_for",
    "links_as_specs",
    "longest_path_of",
    "new_draft",
    "next_steps",
    "publish",
    "published_version",
    "set_steps",
    "standard_steps",
    "steps_of",
    "validate",
    "versions_of",
]

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class StepSpec:
    key: str
    name: str
    kind: str
    role: str
    duration_hours: Decimal
    division_id: int | None = None
    account_ids: tuple[int, ...] = ()
    partner_tenant_id: int | None = None
    sort_order: int = 0


@dataclass
class LinkSpec:
    from_key: str
    to_key: str
    condition: str = "default"
    label: str | None = None


class ProcessRefused(DomainError):
    """Publishing (or saving) was refused; ``problems`` lists every reason."""

    status = 422

    def __init__(self, problems: list[Problem]):
        super().__init__(
            " ".join(p.vi for p in problems),
            " ".join(p.en for p in problems),
            errors={"problems": [{"code": p.code, "vi": p.vi, "en": p.en} for p in problems]},
        )
        self.problems = problems


# --- templates and versions ---------------------------------------------------


def _get_procedure(session: Session, procedure_id: int) -> Procedure:
    procedure = session.get(Procedure, procedure_id)
    if procedure is None:
        raise NotFound("Không tìm thấy thủ tục", "Procedure not found")
    return procedure


def _get_case(session: Session, procedure_id: int, case_id: int | None) -> ProcedureCase | None:
    if case_id is None:
        return None
    case = session.get(ProcedureCase, case_id)
    if case is None or case.procedure_id != procedure_id:
        raise NotFound("Không tìm thấy trường hợp của thủ tục", "Case of the procedure not found")
    return case


def get_template(session: Session, template_id: int, *, lock: bool = False) -> ProcessTemplate:
    query = select(ProcessTemplate).where(ProcessTemplate.id == template_id)
    template = session.scalar(query.with_for_update() if lock else query)
    if template is None:
        raise NotFound("Không tìm thấy quy trình", "Process not found")
    return template


def get_version(session: Session, version_id: int) -> ProcessVersion:
    version = session.get(ProcessVersion, version_id)
    if version is None:
        raise NotFound("Không tìm thấy phiên bản quy trình", "Process version not found")
    return version


def find_template(session: Session, procedure_id: int, case_id: int | None) -> ProcessTemplate | None:
    case_test = ProcessTemplate.case_id.is_(None) if case_id is None else ProcessTemplate.case_id == case_id
    return session.scalar(
        select(ProcessTemplate).where(ProcessTemplate.procedure_id == procedure_id, case_test)
    )


def legal_time_for(session: Session, template: ProcessTemplate) -> LegalTime:
    procedure = _get_procedure(session, template.procedure_id)
    return legal_time_of(procedure, _get_case(session, procedure.id, template.case_id))


def create_template(
    session: Session, procedure_id: int, *, case_id: int | None = None, name: str, code: str | None = None
) -> ProcessTemplate:
    """A process for a procedure (or one of its cases); one per procedure and case."""
    procedure = _get_procedure(session, procedure_id)
    _get_case(session, procedure.id, case_id)
    name = (name or "").strip()
    if not name:
        raise DomainError("Cần nhập tên quy trình.", "The process needs a name.", status=422)
    if code and len(code.strip()) > MAX_CODE:
        raise DomainError(
            f"Mã quy trình dài quá {MAX_CODE} ký tự.",
            f"The process code is longer than {MAX_CODE} characters.",
            status=422,
        )
    if find_template(session, procedure_id, case_id) is not None:
        raise Conflict(
            "Thủ tục (trường hợp) này đã có quy trình; hãy mở quy trình đó và tạo bản nháp mới.",
            "This procedure (case) already has a process; open it and create a new draft.",
        )
    template = ProcessTemplate(
        procedure_id=procedure_id, case_id=case_id, name=name, code=(code or "").strip() or None
    )
    session.add(template)
    session.flush()
    return template


def versions_of(session: Session, template_id: int) -> list[ProcessVersion]:
    query = select(ProcessVersion).where(ProcessVersion.template_id == template_id)
    return list(session.scalars(query.order_by(ProcessVersion.version.desc())))


def new_draft(
    session: Session,
    template_id: int,
    *,
    account_id: int | None = None,
    copy_from_version_id: int | None = None,
) -> ProcessVersion:
    """The next version as a draft, with the steps and links of ``copy_from`` (default: the latest)."""
    template = get_template(session, template_id, lock=True)  # serialises version numbers
    versions = versions_of(session, template.id)
    drafts = [v for v in versions if v.status == "draft"]
    if drafts:
        raise Conflict(
            f"Quy trình đã có bản nháp phiên bản {drafts[0].version}; hãy sửa bản nháp đó.",
            f"The process already has a draft (version {drafts[0].version}); edit that draft.",
        )
    source = versions[0] if versions else None
    if copy_from_version_id is not None:
        source = get_version(session, copy_from_version_id)
        if source.template_id != template.id:
            raise NotFound("Không tìm thấy phiên bản quy trình", "Process version not found")
    legal = legal_time_for(session, template)
    draft = ProcessVersion(
        template_id=template.id,
        version=(versions[0].version + 1) if versions else 1,
        status="draft",
        time_unit=legal.unit,
        total_budget_hours=source.total_budget_hours if source else Decimal(0),
        created_by_account_id=account_id,
    )
    session.add(draft)
    session.flush()
    if source is not None:
        _copy_graph(session, source.id, draft.id)
    return draft


def _copy_graph(session: Session, source_id: int, target_id: int) -> None:
    _write_graph(session, target_id, steps_as_specs(session, source_id), links_as_specs(session, source_id))


def steps_as_specs(session: Session, version_id: int) -> list[StepSpec]:
    """A version's steps as specs, e.g. to edit a draft's graph and ``set_steps`` it back."""
    return [_spec_of(step) for step in steps_of(session, version_id)]


def _spec_of(step: ProcessStep) -> StepSpec:
    return StepSpec(
        key=step.key,
        name=step.name,
        kind=step.kind,
        role=step.role,
        duration_hours=Decimal(step.duration_hours),
        division_id=step.division_id,
        account_ids=tuple(step.account_ids or ()),
        partner_tenant_id=step.partner_tenant_id,
        sort_order=step.sort_order,
    )


# --- editing a draft -----------------------------------------------------------


def _refuse_unless_draft(version: ProcessVersion) -> None:
    if version.status != "draft":
        state_vi = "ban hành" if version.status == "published" else "hết hiệu lực"
        raise Conflict(
            f"Phiên bản {version.version} đã {state_vi} nên không thể sửa. "
            "Hãy tạo bản nháp mới để thay đổi quy trình.",
            f"Version {version.version} is {version.status} and cannot be changed. "
            "Create a new draft to change the process.",
        )


def _locked_draft(session: Session, version_id: int) -> ProcessVersion:
    """The version, still a draft now that we hold its template's lock (one writer per template)."""
    version = get_version(session, version_id)
    get_template(session, version.template_id, lock=True)
    session.refresh(version)  # the status as it is now that we hold the lock
    _refuse_unless_draft(version)
    return version


def set_steps(session: Session, version_id: int, steps: list[StepSpec], links: list[LinkSpec]) -> None:
    """Replace the steps and links of a draft. Without links, steps are chained by sort_order.

    Structural errors (duplicate keys, unknown kinds or roles, missing divisions,
    links to unknown keys) are refused here; graph rules wait for ``publish`` so
    a draft can be saved half-finished.
    """
    version = _locked_draft(session, version_id)
    division_ids = set(session.scalars(select(Division.id)))
    problems = check_specs(steps, links, division_ids)
    if problems:
        raise ProcessRefused(problems)
    if not links:
        ordered = sorted(enumerate(steps), key=lambda pair: (pair[1].sort_order, pair[0]))
        links = [LinkSpec(a.key, b.key) for (_, a), (_, b) in itertools.pairwise(ordered)]
    problems = path_too_long(longest_budget_path(steps, links))
    if problems:
        raise ProcessRefused(problems)
    for link in _links_of(session, version.id):
        session.delete(link)
    for step in steps_of(session, version.id):
        session.delete(step)
    session.flush()
    _write_graph(session, version.id, steps, links)
    budget = longest_path_of(session, version)
    version.total_budget_hours = budget.hours if budget else Decimal(0)
    session.flush()


def _write_graph(session: Session, version_id: int, steps: list[StepSpec], links: list[LinkSpec]) -> None:
    rows = {
        spec.key: ProcessStep(
            version_id=version_id,
            key=spec.key,
            name=spec.name,
            kind=spec.kind,
            role=spec.role,
            division_id=spec.division_id,
            account_ids=list(spec.account_ids),
            duration_hours=Decimal(spec.duration_hours),
            partner_tenant_id=spec.partner_tenant_id,
            sort_order=spec.sort_order,
        )
        for spec in steps
    }
    session.add_all(rows.values())
    session.flush()
    session.add_all(
        ProcessStepLink(
            version_id=version_id,
            from_step_id=rows[link.from_key].id,
            to_step_id=rows[link.to_key].id,
            condition=link.condition,
            label=link.label,
        )
        for link in links
    )
    session.flush()


# --- validating and publishing ------------------------------------------------


def _links_of(session: Session, version_id: int) -> list[ProcessStepLink]:
    query = select(ProcessStepLink).where(ProcessStepLink.version_id == version_id)
    return list(session.scalars(query.order_by(ProcessStepLink.id)))


def links_as_specs(session: Session, version_id: int) -> list[LinkSpec]:
    names = {s.id: s.key for s in steps_of(session, version_id)}
    return [
        LinkSpec(names[link.from_step_id], names[link.to_step_id], link.condition, link.label)
        for link in _links_of(session, version_id)
    ]


def longest_path_of(session: Session, version: ProcessVersion) -> PathBudget | None:
    """The longest path from start to a return step (None if the graph does not allow one)."""
    return longest_budget_path(steps_of(session, version.id), links_as_specs(session, version.id))


def validate(
    session: Session, version: ProcessVersion, hours_per_day: Decimal = HOURS_PER_DAY
) -> list[Problem]:
    """Every reason the version cannot be published (empty: it can)."""
    template = get_template(session, version.template_id)
    divisions = session.execute(select(Division.id, Division.name, Division.is_active)).all()
    return validate_steps(
        steps_of(session, version.id),
        links_as_specs(session, version.id),
        {d.id for d in divisions},
        legal_time_for(session, template),
        hours_per_day,
        inactive_divisions={d.id: d.name for d in divisions if not d.is_active},
    )


def publish(
    session: Session,
    version_id: int,
    *,
    account_id: int | None = None,
    hours_per_day: Decimal = HOURS_PER_DAY,
) -> ProcessVersion:
    """Check the draft, retire the template's published version and publish this one."""
    version = _locked_draft(session, version_id)  # one publisher (or editor) per template at a time
    problems = validate(session, version, hours_per_day)
    if problems:
        raise ProcessRefused(problems)
    budget = longest_path_of(session, version)
    assert budget is not None  # validate() refuses a graph without a path to a return step
    template = get_template(session, version.template_id)
    legal = legal_time_for(session, template)
    for previous in versions_of(session, template.id):
        if previous.status == "published":
            previous.status = "retired"
    session.flush()  # the partial unique index allows one published version per template
    now = datetime.now(UTC)
    version.status = "published"
    version.published_at = now
    version.published_by_account_id = account_id
    version.time_unit = legal.unit
    version.total_budget_hours = budget.hours
    # The online budget is the same path; it is recorded where an online legal time exists.
    version.total_budget_hours_online = budget.hours if legal.online_value is not None else None
    if version.effective_from is None:
        version.effective_from = now.astimezone(LOCAL_TZ).date()
    session.flush()
    PROCESS_STARTS.forget_after_commit(session)  # new dossiers start with this version from now on
    return version


# --- reads used by the dossier lifecycle ----------------------------------------


def published_version(
    session: Session, procedure_id: int, case_id: int | None = None
) -> ProcessVersion | None:
    """The version dossiers use: the case's own process first, then the procedure's case-less one."""
    for candidate_case in ([case_id] if case_id is not None else []) + [None]:
        template = find_template(session, procedure_id, candidate_case)
        if template is None or not template.is_active:
            continue
        version = session.scalar(
            select(ProcessVersion).where(
                ProcessVersion.template_id == template.id, ProcessVersion.status == "published"
            )
        )
        if version is not None:
            return version
    return None


@dataclass(frozen=True)
class StepRef:
    """A published step as plain values (published steps never change), safe to keep between requests."""

    id: int
    key: str
    name: str
    kind: str
    role: str
    division_id: int | None
    duration_hours: Decimal
    account_ids: tuple[int, ...]
    partner_tenant_id: int | None


@dataclass(frozen=True)
class ProcessStart:
    version_id: int
    step: StepRef


# Every intake starts a process; which version is published changes only when one is published.
PROCESS_STARTS = UnitCache(ttl=60)


def published_start(session: Session, procedure_id: int, case_id: int | None = None) -> ProcessStart | None:
    """The published version dossiers of this procedure (case) start with, and its start step."""

    def load() -> ProcessStart | None:
        version = published_version(session, procedure_id, case_id)
        if version is None:
            return None
        s = first_step(session, version.id)
        step = StepRef(
            s.id, s.key, s.name, s.kind, s.role, s.division_id, Decimal(s.duration_hours),
            tuple(s.account_ids or ()), s.partner_tenant_id,
        )  # fmt: skip
        return ProcessStart(version.id, step)

    return PROCESS_STARTS.get(session, ("start", procedure_id, case_id), load)


def steps_of(session: Session, version_id: int) -> list[ProcessStep]:
    query = select(ProcessStep).where(ProcessStep.version_id == version_id)
    return list(session.scalars(query.order_by(ProcessStep.sort_order, ProcessStep.id)))


def first_step(session: Session, version_id: int) -> ProcessStep:
    step = session.scalar(
        select(ProcessStep)
        .where(ProcessStep.version_id == version_id, ProcessStep.kind == "start")
        .order_by(ProcessStep.id)
        .limit(1)
    )
    if step is None:
        raise NotFound("Quy trình không có bước bắt đầu", "The process has no start step")
    return step


def next_steps(session: Session, step_id: int, condition: str = "default") -> list[ProcessStep]:
    query = (
        select(ProcessStep)
        .join(ProcessStepLink, ProcessStepLink.to_step_id == ProcessStep.id)
        .where(ProcessStepLink.from_step_id == step_id, ProcessStepLink.condition == condition)
        .order_by(ProcessStep.sort_order, ProcessStep.id)
    )
    return list(session.scalars(query))


# --- the usual chain ------------------------------------------------------------

# (key, vi name, kind, role, share of the budget, division) — DOMAIN.md §2.1 roles.
_STANDARD = (
    ("receive", "Tiếp nhận", "start", "counter_officer", Decimal("0.10"), "one_stop"),
    ("appraise", "Thẩm định, xử lý", "task", "case_officer", Decimal("0.55"), "specialised"),
    ("review", "Xem xét", "approval", "head_of_division", Decimal("0.15"), "specialised"),
    ("sign", "Ký duyệt", "signing", "head_of_unit", None, None),  # takes the rest
    ("return", "Trả kết quả", "return", "counter_officer", Decimal(0), "one_stop"),
    ("end", "Kết thúc", "end", "counter_officer", Decimal(0), None),
)
_QUARTER = Decimal("0.25")


def standard_steps(
    total_hours: Decimal,
    *,
    one_stop_division_id: int | None = None,
    specialised_division_id: int | None = None,
) -> tuple[list[StepSpec], list[LinkSpec]]:
    """Tiếp nhận → Thẩm định → Xem xét → Ký duyệt → Trả kết quả → Kết thúc.

    The budget is split 10/55/15/20 %, each share rounded down to a quarter hour
    and the signing step taking what is left, so the path sums exactly to
    ``total_hours``. No supplement branch: an edge back to reception would make
    a cycle, and a supplement request is a pause of the dossier (status 5), not a
    step of the graph.
    """
    total = Decimal(total_hours)
    divisions = {"one_stop": one_stop_division_id, "specialised": specialised_division_id, None: None}
    steps: list[StepSpec] = []
    for order, (key, name, kind, role, share, division) in enumerate(_STANDARD, start=1):
        if share is None:
            hours = total - sum((s.duration_hours for s in steps), Decimal(0))
        else:
            hours = (total * share / _QUARTER).to_integral_value(ROUND_FLOOR) * _QUARTER
        steps.append(StepSpec(key, name, kind, role, hours, divisions[division], sort_order=order * 10))
    links = [LinkSpec(a.key, b.key) for a, b in itertools.pairwise(steps)]
    return steps, links
