"""The provisioning pipeline: named lists of idempotent steps, run and recorded one step at a time.

A *pipeline* is a kind ("provision", "suspend", "export" ...) and its ordered steps,
registered with ``register_pipeline``. A *run* (``ProvisioningRun``) executes one
pipeline for one tenant; each step's start, end, attempts and error are committed as
they happen, so a worker that dies mid-run leaves a record the next worker continues
from (every ``do`` and ``undo`` is idempotent: running it again after a crash is safe).

Life of a run::

    create_run (caller's transaction) -> commit -> enqueue_run (RQ) or execute_run (CLI)
    pending -> running -> done
                  `-> retrying (backoff) -> running ... -> failed
    failed --resume_run--> pending -> running ...
    failed/pending --rollback_run--> rolling_back -> rolled_back (done steps undone in reverse)

One process executes a run at a time: ``execute_run`` holds a PostgreSQL advisory lock
keyed by the run id on a connection of its own for as long as it works (the lock goes
with the connection if the process is killed). Runs whose job was lost (Redis down when
they were created, a worker killed) are enqueued again by ``sweep_runs``, a periodic job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from app.audit.platform import record
from app.core.errors import Conflict, DomainError, NotFound
from app.core.jobs import enqueue_for_platform, get_queue, import_job_modules
from app.core.scheduler import register_periodic
from provisioning.pipeline_models import (
    MOVING,
    UNFINISHED,
    ProvisioningRun,
    ProvisioningStep,
    RunStatus,
    StepStatus,
)
from provisioning.spec import ProvisionSpec

log = logging.getLogger("motcua.provisioning")

AUDIT_ENTITY = "provisioning_run"
LOCK_CLASS = 0x4D08  # first key of the two-key advisory lock; the second is the run id
SLUG_LOCK_CLASS = 0x4D09  # creating runs for one tenant slug (second key: hashtext(slug))
# Kinds that may start while the unit has a failed run waiting for a person.
ALONGSIDE_FAILED = ("suspend", "resume")
UNDO_PREFIX = "hoàn tác / undo: "  # starts the error of a run that failed while being rolled back
JOB_TIMEOUT_SECONDS = 3600
SWEEP_INTERVAL_SECONDS = 60

RUN_STATUS_LABELS: dict[str, tuple[str, str]] = {
    RunStatus.PENDING: ("Đang chờ", "Pending"),
    RunStatus.RUNNING: ("Đang chạy", "Running"),
    RunStatus.RETRYING: ("Đang thử lại", "Retrying"),
    RunStatus.FAILED: ("Thất bại", "Failed"),
    RunStatus.DONE: ("Hoàn tất", "Done"),
    RunStatus.ROLLING_BACK: ("Đang hoàn tác", "Rolling back"),
    RunStatus.ROLLED_BACK: ("Đã hoàn tác", "Rolled back"),
}
STEP_STATUS_LABELS: dict[str, tuple[str, str]] = {
    StepStatus.PENDING: ("Chờ", "Pending"),
    StepStatus.RUNNING: ("Đang chạy", "Running"),
    StepStatus.DONE: ("Xong", "Done"),
    StepStatus.FAILED: ("Lỗi", "Failed"),
    StepStatus.UNDONE: ("Đã hoàn tác", "Undone"),
}


# -- what a pipeline is --------------------------------------------------------------------------


@dataclass
class StepContext:
    """What a step sees: the run's input, the values earlier steps passed on, the platform."""

    run_id: int
    kind: str
    spec: ProvisionSpec | None
    tenant_slug: str | None
    params: dict[str, Any]
    data: dict[str, Any]  # persisted on the run after each step: steps pass values on here
    platform: Any  # app.core.db.Platform (app.extensions["motcua"])
    step_name: str = ""
    attempt: int = 1
    on_progress: Callable[[str], None] | None = field(default=None, repr=False)

    def progress(self, text_: str) -> None:
        log.info("run %s %s: %s", self.run_id, self.step_name, text_)
        if self.on_progress is not None:
            self.on_progress(text_)


@dataclass(frozen=True)
class Step:
    name: str
    label: tuple[str, str]  # (vi, en)
    do: Callable[[StepContext], None]
    undo: Callable[[StepContext], None] | None = None
    # Once this step is done the run can no longer be rolled back (e.g. the unit is live and
    # people use it: a later failure is resumed; removing the unit is a decommission).
    no_rollback_after: bool = False


@dataclass(frozen=True)
class Pipeline:
    kind: str
    steps: tuple[Step, ...]
    # Checks the input before anything is written (raises DomainError): bad input creates nothing.
    check: Callable[[Session, ProvisionSpec | None, str | None, dict[str, Any]], None] | None = None

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


_PIPELINES: dict[str, Pipeline] = {}

# Called as hook(session, run) in the transaction that changes a run's status, so what
# follows a run (an onboarding request's status) never lags behind it.
_STATUS_HOOKS: list[Callable[[Session, ProvisioningRun], None]] = []


def on_status_change(hook: Callable[[Session, ProvisioningRun], None]):
    """Register ``hook``; returns it, so it can decorate a module-level function."""
    if hook not in _STATUS_HOOKS:
        _STATUS_HOOKS.append(hook)
    return hook


def _status_changed(session: Session, run: ProvisioningRun) -> None:
    for hook in _STATUS_HOOKS:
        hook(session, run)


def register_pipeline(
    kind: str,
    steps: list[Step],
    *,
    check: Callable[[Session, ProvisionSpec | None, str | None, dict[str, Any]], None] | None = None,
) -> None:
    """Make ``kind`` runnable. ``check(session, spec, tenant_slug, params)`` vets a new run's input."""
    names = [s.name for s in steps]
    if not steps or len(set(names)) != len(names):
        raise ValueError(f"pipeline {kind!r} needs steps with distinct names, got {names}")
    _PIPELINES[kind] = Pipeline(kind, tuple(steps), check)


def get_pipeline(kind: str) -> Pipeline:
    if kind not in _PIPELINES:
        # Pipelines register when their module is imported: the job modules hold them all.
        import_job_modules()
    try:
        return _PIPELINES[kind]
    except KeyError:
        raise DomainError(
            f"Không có quy trình loại {kind!r}", f"no pipeline of kind {kind!r}", status=400
        ) from None


def registered_kinds() -> list[str]:
    import_job_modules()
    return sorted(_PIPELINES)


# -- creating runs and handing them to workers -----------------------------------------------------


def create_run(
    session: Session,
    kind: str,
    *,
    tenant_slug: str | None = None,
    spec: ProvisionSpec | dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
    onboarding_request_id: int | None = None,
) -> ProvisioningRun:
    """Add a run and its step rows to ``session`` (audited); the caller commits, then enqueues."""
    pipeline = get_pipeline(kind)
    if isinstance(spec, dict):
        spec = ProvisionSpec.from_json(spec)
    if tenant_slug is None and spec is not None:
        tenant_slug = spec.slug
    params = dict(params or {})
    if tenant_slug:
        # Serialise run creation per slug until the caller commits, then look for a live run.
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(:s))"), {"k": SLUG_LOCK_CLASS, "s": tenant_slug}
        )
        # Suspending (and resuming) is the emergency action: a failed run waiting for a
        # person does not block it; one that is moving does.
        blocking = MOVING if kind in ALONGSIDE_FAILED else UNFINISHED
        busy = session.scalar(
            select(ProvisioningRun).where(
                ProvisioningRun.tenant_slug == tenant_slug, ProvisioningRun.status.in_(list(blocking))
            )
        )
        if busy is not None:
            raise Conflict(
                f"Đơn vị {tenant_slug!r} đang có lần chạy #{busy.id} ({busy.kind}) chưa kết thúc",
                f"tenant {tenant_slug!r} already has an unfinished run #{busy.id} ({busy.kind})",
            )
    if pipeline.check is not None:
        pipeline.check(session, spec, tenant_slug, params)
    run = ProvisioningRun(
        kind=kind,
        tenant_slug=tenant_slug,
        spec=spec.to_json() if spec is not None else None,
        params=params,
        data={},
        status=RunStatus.PENDING.value,
        onboarding_request_id=onboarding_request_id,
        created_by_account_id=actor_account_id,
        created_by_label=actor_label,
    )
    run.steps = [
        ProvisioningStep(position=i, name=step.name, status=StepStatus.PENDING.value)
        for i, step in enumerate(pipeline.steps)
    ]
    session.add(run)
    session.flush()
    _audit(
        session,
        run,
        "created",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"kind": kind, "tenant_slug": tenant_slug, "onboarding_request_id": onboarding_request_id},
    )
    return run


def job_id(run_id: int) -> str:
    return f"provisioning-run-{run_id}"


def enqueue_run(run_id: int) -> bool:
    """Hand the run to a worker (queue "default"); call after commit.

    Returns False when Redis cannot be reached: the run stays pending and the periodic
    sweep enqueues it once Redis is back, so the caller's approval is never lost.
    """
    try:
        enqueue_for_platform(
            "default",
            run_job,
            run_id,
            job_options={
                "job_id": job_id(run_id),
                "timeout": JOB_TIMEOUT_SECONDS,
                "description": f"provisioning run #{run_id}",
                "result_ttl": 3600,
                "failure_ttl": 7 * 86400,
            },
        )
    except (RedisError, OSError) as exc:
        log.warning("run %s not enqueued (the sweep will pick it up): %s", run_id, exc)
        return False
    return True


def run_job(run_id: int) -> str:
    """The RQ job of a run: execute it (forward or backward) in this worker."""
    return execute_run(run_id).status


# -- ops' decisions ------------------------------------------------------------------------------


def get_run(session: Session, run_id: int, *, lock: bool = False) -> ProvisioningRun:
    query = select(ProvisioningRun).where(ProvisioningRun.id == run_id)
    if lock:
        query = query.with_for_update()
    run = session.scalar(query)
    if run is None:
        raise NotFound(f"Không có lần chạy #{run_id}", f"no provisioning run #{run_id}")
    return run


def resume_run(
    session: Session, run_id: int, *, actor_account_id: int | None = None, actor_label: str | None = None
) -> ProvisioningRun:
    """Let a failed run go on from its failed step (audited); the caller commits, then runs it."""
    run = get_run(session, run_id, lock=True)
    if run.status != RunStatus.FAILED:
        raise Conflict(
            f"Chỉ tiếp tục được lần chạy thất bại (trạng thái hiện tại: {RUN_STATUS_LABELS[run.status][0]})",
            f"only a failed run can be resumed (it is {run.status})",
        )
    if _failed_undoing(run):
        raise Conflict(
            f"Lần chạy #{run.id} thất bại khi đang hoàn tác: hãy hoàn tác lại để làm tiếp, "
            "không chạy tiếp theo chiều xuôi.",
            f"run #{run.id} failed while being rolled back: roll it back again to finish, "
            "rather than running it forward.",
        )
    run.status = RunStatus.PENDING.value
    run.error = None
    run.finished_at = None
    for step in run.steps:
        if step.status in (StepStatus.FAILED, StepStatus.RUNNING):
            step.status = StepStatus.PENDING.value
    _status_changed(session, run)
    _audit(
        session,
        run,
        "resume",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"from_step": run.current_step},
    )
    return run


def rollback_run(
    session: Session, run_id: int, *, actor_account_id: int | None = None, actor_label: str | None = None
) -> ProvisioningRun:
    """Mark a failed (or not yet started) run to be undone (audited); the caller commits, then
    enqueues or executes: the steps that ran are undone in reverse order."""
    run = get_run(session, run_id, lock=True)
    if run.status not in (RunStatus.FAILED, RunStatus.PENDING):
        raise Conflict(
            f"Chỉ hoàn tác được lần chạy thất bại hoặc chưa bắt đầu (trạng thái hiện tại: "
            f"{RUN_STATUS_LABELS[run.status][0]})",
            f"only a failed or pending run can be rolled back (it is {run.status})",
        )
    if run.status == RunStatus.PENDING and _is_locked(session.connection(), run.id):
        raise Conflict(f"Lần chạy #{run.id} đang được thực hiện", f"run #{run.id} is being executed")
    past = _past_no_return(run)
    if past is not None:
        raise Conflict(
            f"Bước {past.label[0]!r} đã xong nên không hoàn tác được lần chạy #{run.id}: hãy cho chạy "
            "tiếp; muốn gỡ đơn vị thì dùng giải thể (có xuất dữ liệu trước).",
            f"step {past.label[1]!r} is done, so run #{run.id} cannot be rolled back: resume it; "
            "to remove the unit, decommission it (its data is exported first).",
        )
    run.status = RunStatus.ROLLING_BACK.value
    run.finished_at = None
    _status_changed(session, run)
    _audit(
        session,
        run,
        "rollback",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"at_step": run.current_step},
    )
    return run


def _audit(session: Session, run: ProvisioningRun, action: str, **fields: Any) -> None:
    """The run's line in the platform audit trail; written by the worker unless an actor is named."""
    fields.setdefault("actor_label", "worker")
    record(session, entity=AUDIT_ENTITY, entity_id=run.id, action=action, **fields)


def _failed_undoing(run: ProvisioningRun) -> bool:
    """True when ``run`` failed while being rolled back (some steps may already be undone)."""
    return (run.error or "").startswith(UNDO_PREFIX) or any(s.status == StepStatus.UNDONE for s in run.steps)


def _past_no_return(run: ProvisioningRun) -> Step | None:
    """The done step after which ``run`` may not be rolled back, if there is one."""
    for row in run.steps:
        step = _known_step(run.kind, row.name)
        if step is not None and step.no_rollback_after and row.status == StepStatus.DONE:
            return step
    return None


# -- executing -----------------------------------------------------------------------------------


def _platform():
    return current_app.extensions["motcua"]


def _now() -> datetime:
    return datetime.now(UTC)


def _is_locked(conn: Connection, run_id: int) -> bool:
    """True when some session holds the run's execution lock (checked without taking it)."""
    return bool(
        conn.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid::bigint = :c AND objid::bigint = :o AND objsubid = 2 AND granted)"
            ),
            {"c": LOCK_CLASS, "o": run_id},
        )
    )


@contextmanager
def _execution_lock(run_id: int) -> Iterator[bool]:
    """Hold the run's advisory lock on a dedicated connection; yields False if another process has it."""
    engine = _platform().shards.primary.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        got = conn.scalar(text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": LOCK_CLASS, "o": run_id})
        try:
            yield bool(got)
        finally:
            if got:
                conn.scalar(text("SELECT pg_advisory_unlock(:c, :o)"), {"c": LOCK_CLASS, "o": run_id})


def _error_text(exc: BaseException) -> str:
    text_ = str(exc) if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    return text_[:2000]


def _retry_delays() -> tuple[float, ...]:
    return tuple(_platform().settings.provisioning_retry_delays)


OnStep = Callable[[str, str], None]  # (step name, new step status)


def execute_run(run_id: int, *, on_step: OnStep | None = None) -> ProvisioningRun:
    """Run the run's remaining steps in this process (forward, or backward when rolling back).

    Returns the run as it ends (detached). If another process holds the run, returns at
    once without touching it.
    """
    with _execution_lock(run_id) as acquired:
        if not acquired:
            log.info("run %s is executed elsewhere; skipped", run_id)
            return _load(run_id)
        _count_execution(run_id)
        while True:
            moved = _advance(run_id, on_step)
            if not moved:
                return _load(run_id)


def _count_execution(run_id: int) -> None:
    with _platform().shards.platform_session() as session, session.begin():
        run = get_run(session, run_id, lock=True)
        if run.status in MOVING:
            run.attempts += 1


def _load(run_id: int) -> ProvisioningRun:
    with _platform().shards.platform_session() as session:
        run = get_run(session, run_id)
        session.expunge(run)
        return run


@dataclass
class _Work:
    """One step to execute, copied out of the run's rows so no session stays open while it runs."""

    step: Step
    step_id: int
    forward: bool
    context: StepContext


def _advance(run_id: int, on_step: OnStep | None) -> bool:
    """Execute one step (with its retries); False when the run has nothing left to do here."""
    work = _next_work(run_id)
    if work is None:
        return False
    if on_step is not None:
        on_step(work.step.name, StepStatus.RUNNING.value)
    delays = _retry_delays()
    for attempt in range(1, len(delays) + 2):
        if attempt > 1:
            _mark_step_started(work)
        work.context.attempt = attempt
        try:
            action = work.step.do if work.forward else work.step.undo
            if action is not None:
                action(work.context)
        except Exception as exc:  # any failure of a step is recorded; the run decides what follows
            log.warning("run %s step %s attempt %s failed: %s", run_id, work.step.name, attempt, exc)
            last = attempt > len(delays)
            _mark_step_failed(work, _error_text(exc), final=last)
            if on_step is not None:
                on_step(work.step.name, StepStatus.FAILED.value)
            if last:
                return False
            time.sleep(delays[attempt - 1])
            continue
        _mark_step_finished(work)
        if on_step is not None:
            on_step(work.step.name, StepStatus.DONE.value if work.forward else StepStatus.UNDONE.value)
        return True
    return False


def _next_work(run_id: int) -> _Work | None:
    """Pick the run's next step, mark it started (committed), or close the run if all are through."""
    with _platform().shards.platform_session() as session, session.begin():
        run = get_run(session, run_id, lock=True)
        if run.status not in MOVING:
            return None
        forward = run.status != RunStatus.ROLLING_BACK
        if forward:
            row = next((s for s in run.steps if s.status != StepStatus.DONE), None)
        else:
            row = next(
                (
                    s
                    for s in reversed(run.steps)
                    if s.status in (StepStatus.DONE, StepStatus.FAILED, StepStatus.RUNNING)
                ),
                None,
            )
        if row is None:
            _close_run(session, run, forward)
            return None
        step = _known_step(run.kind, row.name)
        if step is None:
            # This process does not know the step (an older or newer deployment): stop visibly.
            _stop_unknown(session, run, row)
            return None
        if forward and run.status != RunStatus.RUNNING:
            run.status = RunStatus.RUNNING.value
            _status_changed(session, run)
        run.current_step = row.name
        run.started_at = run.started_at or _now()
        _start_row(row)
        context = StepContext(
            run_id=run.id,
            kind=run.kind,
            spec=ProvisionSpec.from_json(run.spec) if run.spec else None,
            tenant_slug=run.tenant_slug,
            params=dict(run.params or {}),
            data=dict(run.data or {}),
            platform=_platform(),
            step_name=row.name,
        )
        return _Work(step=step, step_id=row.id, forward=forward, context=context)


def _known_step(kind: str, name: str) -> Step | None:
    try:
        return get_pipeline(kind).step(name)
    except DomainError:
        return None


def _stop_unknown(session: Session, run: ProvisioningRun, row: ProvisioningStep) -> None:
    error = (
        f"Bước {row.name!r} của quy trình {run.kind!r} không có ở đây / "
        f"unknown step {row.name!r} of {run.kind!r}"
    )
    run.status = RunStatus.FAILED.value
    run.error = error
    run.finished_at = _now()
    _status_changed(session, run)
    _audit(session, run, "failed", data={"step": row.name, "error": error})


def _start_row(row: ProvisioningStep) -> None:
    row.status = StepStatus.RUNNING.value
    row.attempts += 1
    row.started_at = _now()
    row.finished_at = None


def _mark_step_started(work: _Work) -> None:
    with _platform().shards.platform_session() as session, session.begin():
        row = session.get(ProvisioningStep, work.step_id, with_for_update=True)
        _start_row(row)
        if work.forward and row.run.status != RunStatus.RUNNING:
            row.run.status = RunStatus.RUNNING.value
            _status_changed(session, row.run)


def _mark_step_finished(work: _Work) -> None:
    with _platform().shards.platform_session() as session, session.begin():
        row = session.get(ProvisioningStep, work.step_id, with_for_update=True)
        row.status = (StepStatus.DONE if work.forward else StepStatus.UNDONE).value
        row.finished_at = _now()
        row.error = None
        row.run.data = dict(work.context.data)
        row.run.error = None


def _mark_step_failed(work: _Work, error: str, *, final: bool) -> None:
    with _platform().shards.platform_session() as session, session.begin():
        row = session.get(ProvisioningStep, work.step_id, with_for_update=True)
        run = row.run
        row.status = StepStatus.FAILED.value
        row.finished_at = _now()
        row.error = error
        run.data = dict(work.context.data)
        direction = "" if work.forward else UNDO_PREFIX
        run.error = f"{direction}{row.name}: {error}"
        if not final:
            if work.forward:
                run.status = RunStatus.RETRYING.value
            return
        run.status = RunStatus.FAILED.value
        run.finished_at = _now()
        _status_changed(session, run)
        _audit(
            session,
            run,
            "failed" if work.forward else "rollback_failed",
            data={"step": row.name, "error": error[:500]},
        )


def _close_run(session: Session, run: ProvisioningRun, forward: bool) -> None:
    run.status = (RunStatus.DONE if forward else RunStatus.ROLLED_BACK).value
    run.finished_at = _now()
    run.current_step = None
    run.error = None
    _status_changed(session, run)
    _audit(
        session,
        run,
        "done" if forward else "rolled_back",
        data={"kind": run.kind, "tenant_slug": run.tenant_slug},
    )


# -- the safety net --------------------------------------------------------------------------------


def sweep_runs(min_idle_seconds: float | None = None) -> list[int]:
    """Enqueue runs that should be moving but that no worker holds (a lost enqueue, a killed worker).

    A run that has started (running, retrying, rolling back) and whose lock nobody holds
    lost its worker: it is enqueued at once. A pending run is enqueued once it has been
    idle ``min_idle_seconds`` (settings.provisioning_sweep_idle_seconds; its job may still be
    on its way from the request that created it). Runs whose job already waits in the queue are left alone.
    """
    if min_idle_seconds is None:
        min_idle_seconds = _platform().settings.provisioning_sweep_idle_seconds
    cutoff = _now() - timedelta(seconds=min_idle_seconds)
    with _platform().shards.platform_session() as session:
        candidates = session.execute(
            select(ProvisioningRun.id, ProvisioningRun.status, ProvisioningRun.updated_at)
            .where(ProvisioningRun.status.in_(list(MOVING)))
            .order_by(ProvisioningRun.id)
        ).all()
        stalled = [
            run_id
            for run_id, status, updated_at in candidates
            if (status != RunStatus.PENDING or updated_at <= cutoff)
            and not _is_locked(session.connection(), run_id)
        ]
    enqueued = []
    for run_id in stalled:
        if _job_waiting(run_id):
            continue
        if enqueue_run(run_id):
            enqueued.append(run_id)
    if enqueued:
        log.info("sweep enqueued provisioning runs %s", enqueued)
    return enqueued


def _job_waiting(run_id: int) -> bool:
    """True when the run's job sits in the queue already (a started job with no lock holder is dead)."""
    try:
        queue = get_queue("default")
        job = queue.fetch_job(job_id(run_id))
        return job is not None and job.get_status(refresh=False) in ("queued", "scheduled", "deferred")
    except (RedisError, OSError):
        return True  # Redis away: nothing could be enqueued anyway


register_periodic(sweep_runs, "default", interval=SWEEP_INTERVAL_SECONDS, name="provisioning-sweep")


# -- what views and the CLI show -------------------------------------------------------------------


def run_summary(session: Session, run_id: int) -> dict[str, Any]:
    """A run as views show it: status, percent, steps with labels, attempts and errors."""
    run = get_run(session, run_id)
    try:
        pipeline: Pipeline | None = get_pipeline(run.kind)
    except DomainError:
        pipeline = None
    steps = []
    for row in run.steps:
        step = pipeline.step(row.name) if pipeline else None
        label = step.label if step else (row.name, row.name)
        steps.append(
            {
                "position": row.position,
                "name": row.name,
                "label": label,
                "label_vi": label[0],
                "label_en": label[1],
                "status": row.status,
                "status_label": STEP_STATUS_LABELS.get(row.status, (row.status, row.status)),
                "attempts": row.attempts,
                "error": row.error,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
            }
        )
    total = len(steps) or 1
    if run.status in (RunStatus.ROLLING_BACK, RunStatus.ROLLED_BACK):
        touched = [s for s in steps if s["status"] != StepStatus.PENDING]
        percent = 100 * sum(s["status"] == StepStatus.UNDONE for s in touched) // (len(touched) or 1)
    else:
        percent = 100 * sum(s["status"] == StepStatus.DONE for s in steps) // total
    return {
        "id": run.id,
        "kind": run.kind,
        "tenant_slug": run.tenant_slug,
        "status": run.status,
        "status_label": RUN_STATUS_LABELS.get(run.status, (run.status, run.status)),
        "percent": percent,
        "current_step": run.current_step,
        "error": run.error,
        "data": dict(run.data or {}),
        "onboarding_request_id": run.onboarding_request_id,
        "created_by_label": run.created_by_label,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "is_finished": run.status in (RunStatus.DONE, RunStatus.ROLLED_BACK),
        "is_moving": run.status in MOVING,
        "can_resume": run.status == RunStatus.FAILED and not _failed_undoing(run),
        "can_rollback": run.status in (RunStatus.FAILED, RunStatus.PENDING) and _past_no_return(run) is None,
        "steps": steps,
    }


def list_runs(session: Session, *, status: str | None = None, limit: int = 100) -> list[ProvisioningRun]:
    query = select(ProvisioningRun).order_by(ProvisioningRun.id.desc()).limit(limit)
    if status:
        query = query.where(ProvisioningRun.status == status)
    return list(session.scalars(query))
