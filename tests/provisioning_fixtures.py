"""Test-only pipelines for the provisioning framework's tests.

Imported by the tests and by the real worker processes they start
(``run_worker(services, "--import", "tests.provisioning_fixtures")``). Each step leaves
its trace in a Redis list named after the run, so the test process sees what ran, in
which order and how many times, whichever process ran it.
"""

from __future__ import annotations

import time

from app.core.jobs import redis_connection
from provisioning.pipeline import Step, StepContext, register_pipeline


def trace_key(run_id: int) -> str:
    return f"provisioning-test:{run_id}:trace"


def broken_key(run_id: int) -> str:
    """While this key exists, the "flaky" step of the run fails."""
    return f"provisioning-test:{run_id}:broken"


def _trace(ctx: StepContext, what: str) -> None:
    redis_connection().rpush(trace_key(ctx.run_id), what)


def _do(name: str):
    def do(ctx: StepContext) -> None:
        _trace(ctx, f"do:{name}")
        # Values passed on to later steps, persisted on the run after each step.
        ctx.data.setdefault("seen", [])
        if name not in ctx.data["seen"]:
            ctx.data["seen"].append(name)
        time.sleep(float(ctx.params.get("sleep", 0)))

    do.__name__ = f"do_{name}"
    return do


def _undo(name: str):
    def undo(ctx: StepContext) -> None:
        _trace(ctx, f"undo:{name}")

    undo.__name__ = f"undo_{name}"
    return undo


def _flaky(ctx: StepContext) -> None:
    _trace(ctx, "do:flaky")
    if redis_connection().exists(broken_key(ctx.run_id)):
        raise RuntimeError(f"flaky step is broken (attempt {ctx.attempt})")


def _check(session, spec, tenant_slug, params) -> None:
    from app.core.errors import DomainError

    if params.get("refuse"):
        raise DomainError("Đầu vào bị từ chối", "input refused")


register_pipeline(
    "test-ok",
    [Step(n, (f"Bước {n}", f"Step {n}"), _do(n), _undo(n)) for n in ("one", "two", "three")],
    check=_check,
)
register_pipeline(
    "test-flaky",
    [
        Step("one", ("Bước một", "Step one"), _do("one"), _undo("one")),
        Step("flaky", ("Bước chập chờn", "Flaky step"), _flaky, _undo("flaky")),
        Step("three", ("Bước ba", "Step three"), _do("three"), None),
    ],
)


# -- the real provision pipeline with a seed step that can be broken from the test -----------------


def _breakable_seed(ctx: StepContext) -> None:
    from provisioning import provision_steps

    provision_steps.seed(ctx)  # real work first: the failure leaves a half-seeded schema behind
    if redis_connection().exists(broken_key(ctx.run_id)):
        raise RuntimeError("seed failed on purpose")


def _provision_with_breakable_seed() -> list[Step]:
    from provisioning import provision_steps

    return [
        Step(s.name, s.label, _breakable_seed, s.undo) if s.name == "seed" else s
        for s in provision_steps.STEPS
    ]


register_pipeline("test-provision", _provision_with_breakable_seed())


def publish_district_catalogue(platform) -> None:
    """A published district catalogue (the demo's procedures, offered to every district), once."""
    from app.catalog import standard
    from app.catalog.specs import AUDIENCE
    from app.demo.data import standard_catalogue

    with platform.shards.platform_session() as session, session.begin():
        catalog = standard.get_or_create_catalog(session, "district")
        if standard.latest_published(session, catalog.id) is None:
            draft = standard.create_draft(session, "district", actor_id=None, copy_latest=False)
            for raw in standard_catalogue("district"):
                standard.put_procedure(session, draft, {**raw, AUDIENCE: []})
            standard.publish_version(session, draft, actor_id=None, offer=False)


def pause_key(run_id: int) -> str:
    """While this key exists, the "admin" step of a "test-provision-pause" run waits after its work."""
    return f"provisioning-test:{run_id}:pause"


def _admin_then_pause(ctx: StepContext) -> None:
    from provisioning import provision_steps

    provision_steps.invite_admin(ctx)  # the invitation is committed (and its mail queued) here
    redis = redis_connection()
    redis.rpush(trace_key(ctx.run_id), "paused:admin")
    deadline = time.monotonic() + 120
    while redis.exists(pause_key(ctx.run_id)) and time.monotonic() < deadline:
        time.sleep(0.05)  # a test kills this worker here, before the step is recorded as done


def _provision_pausing_in_admin() -> list[Step]:
    from provisioning import provision_steps

    return [
        Step(s.name, s.label, _admin_then_pause, s.undo) if s.name == "admin" else s
        for s in provision_steps.STEPS
    ]


register_pipeline("test-provision-pause", _provision_pausing_in_admin())


def _breakable(step_do):
    def do(ctx: StepContext) -> None:
        step_do(ctx)
        if redis_connection().exists(broken_key(ctx.run_id)):
            raise RuntimeError(f"{ctx.step_name} failed on purpose")

    return do


def _provision_failing_at_notify() -> list[Step]:
    from provisioning import provision_steps

    return [
        Step(s.name, s.label, _breakable(s.do), s.undo) if s.name == "notify" else s
        for s in provision_steps.STEPS
    ]


register_pipeline("test-provision-late", _provision_failing_at_notify())


def _undo_breakable(ctx: StepContext) -> None:
    _trace(ctx, "undo:one")
    if redis_connection().exists(broken_key(ctx.run_id)):
        raise RuntimeError("undo of one is broken")


register_pipeline(
    "test-undo-fails",
    [
        Step("one", ("Bước một", "Step one"), _do("one"), _undo_breakable),
        Step("flaky", ("Bước chập chờn", "Flaky step"), _flaky, _undo("flaky")),
    ],
)
