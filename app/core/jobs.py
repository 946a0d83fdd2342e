"""RQ on Redis: named queues, and jobs that run in a tenant's scope exactly as a request does.

A job never carries a tenant object or a session: ``enqueue_for_tenant`` stores the
function's dotted path and the tenant id; the worker re-loads the tenant from the
registry and binds it with the same edge functions a request uses
(``bind_tenant`` / ``commit_scope`` / ``close_scope``), in a fresh app context per
job, so no ``g`` state survives from one job to the next.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from app.core.db import bind_tenant, close_scope, commit_scope, platform_db
from tenants.models import Tenant, TenantStatus
from tenants.resolution import TenantRef

log = logging.getLogger("motcua.jobs")

# Named queues, most urgent first; a worker listens to all of them in this order.
#   high     user-visible work a person is waiting for (a receipt PDF, a login e-mail)
#   default  ordinary background work (provisioning steps, sync with the national portal)
#   outbox   outbox relays: draining events to their handlers, in batches
#   low      bulk and scheduled work (exports, reports, deadline scans, pruning)
QUEUES = ("high", "default", "outbox", "low")

# Modules whose import registers outbox handlers (``@outbox_handler``) and periodic jobs
# (``scheduler.register_periodic``); ``flask jobs worker`` imports them at start.
JOB_MODULES: tuple[str, ...] = (
    "app.catalog.standard_jobs",
    "app.catalog.index",
    "app.dossiers.interop_jobs",
    "app.auth.pruning",
    "app.integrations.dvcqg_jobs",
    "app.reports.feed",
    "app.reports.export_jobs",
)


class TenantUnavailable(RuntimeError):
    """The job's tenant is unknown or archived: the job is refused (it fails, visibly)."""


def redis_connection() -> Redis:
    ext = current_app.extensions
    if "motcua.redis" not in ext:
        ext["motcua.redis"] = Redis.from_url(
            ext["motcua"].settings.redis_url, socket_connect_timeout=2, socket_timeout=10
        )
    return ext["motcua.redis"]


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r} (one of {', '.join(QUEUES)})")
    return Queue(name, connection=redis_connection())


def import_job_modules(extra: tuple[str, ...] = ()) -> None:
    # Extensions (settings.extensions, e.g. provisioning) add their own modules at init_app.
    added = tuple(current_app.extensions.get("motcua.job_modules", ())) if has_app_context() else ()
    for name in (*JOB_MODULES, *added, *extra):
        importlib.import_module(name)


def func_path(func: Callable | str) -> str:
    """``module.function`` of a module-level function (what a job stores instead of the function)."""
    if isinstance(func, str):
        return func
    path = f"{func.__module__}.{func.__qualname__}"
    if "<" in path:
        raise ValueError(f"{path} is not a module-level function; a worker cannot import it")
    return path


def import_func(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def enqueue_for_tenant(
    queue_name: str,
    func: Callable | str,
    tenant_id: int,
    *args: Any,
    job_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Job:
    """Run ``func(*args, **kwargs)`` on a worker, bound to tenant ``tenant_id``.

    Enqueue after the transaction that made the work necessary has committed (or,
    better, emit an outbox event and enqueue from its handler). ``job_options`` go
    to RQ (``timeout``, ``job_id``, ``result_ttl``, ``retry`` ...).
    """
    path = func_path(func)
    options = {"description": f"{path} [tenant {tenant_id}]", **(job_options or {})}
    return get_queue(queue_name).enqueue_call(
        run_in_tenant_scope, args=(path, tenant_id, list(args), kwargs), **options
    )


def enqueue_for_platform(
    queue_name: str,
    func: Callable | str,
    *args: Any,
    job_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Job:
    """Run ``func(*args, **kwargs)`` on a worker with no tenant bound (platform work)."""
    path = func_path(func)
    options = {"description": f"{path} [platform]", **(job_options or {})}
    return get_queue(queue_name).enqueue_call(
        run_in_platform_scope, args=(path, list(args), kwargs), **options
    )


def worker_app() -> Flask:
    """The application of this process: the one ``flask jobs worker`` created (once) at start."""
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if _process_app is None:
        raise RuntimeError("no Flask app in this process: run workers with `flask jobs worker`")
    return _process_app


_process_app: Flask | None = None


def set_process_app(app: Flask) -> None:
    """Remember the app for jobs run outside an app context (the worker sets it once)."""
    global _process_app
    _process_app = app


@contextmanager
def scope(tenant: TenantRef | None = None) -> Iterator[None]:
    """A fresh app context with the edge's transaction rules: commit on success, else roll back."""
    with worker_app().app_context():
        error: BaseException | None = None
        try:
            bind_tenant(tenant)
            yield
            commit_scope()
        except BaseException as exc:
            error = exc
            raise
        finally:
            close_scope(error)


def load_tenant(tenant_id: int) -> TenantRef:
    """The registry's current record of a tenant; refuses unknown and archived ones."""
    with worker_app().app_context():
        try:
            tenant = platform_db().get(Tenant, tenant_id)
            if tenant is None or tenant.status == TenantStatus.ARCHIVED:
                raise TenantUnavailable(f"tenant {tenant_id} is unknown or archived")
            return TenantRef.of(tenant)
        finally:
            close_scope()


@contextmanager
def tenant_scope(tenant_id: int) -> Iterator[TenantRef]:
    """Bind tenant ``tenant_id`` as a request would; for jobs and outbox handlers."""
    tenant = load_tenant(tenant_id)
    with scope(tenant):
        yield tenant


def run_in_tenant_scope(path: str, tenant_id: int, args: list, kwargs: dict) -> Any:
    """The job every tenant job runs as (see ``enqueue_for_tenant``).

    Suspended tenants' jobs are skipped (logged, not failed): a suspension stops
    the tenant's background work until it is lifted.
    """
    func = import_func(path)
    tenant = load_tenant(tenant_id)
    if not tenant.is_active:
        log.warning("skipped %s: tenant %s is %s", path, tenant.slug, tenant.status)
        return None
    with scope(tenant):
        return func(*args, **kwargs)


def run_in_platform_scope(path: str, args: list, kwargs: dict) -> Any:
    """The job every platform job runs as (see ``enqueue_for_platform``)."""
    func = import_func(path)
    with scope(None):
        return func(*args, **kwargs)


class AppWorker(SimpleWorker):
    """An RQ worker that runs each job in the worker's app, in a fresh app context.

    It does not fork: the app (engines, pools, Redis client) is created once per
    process and reused, and each job still starts from an empty ``g``. Run more
    processes to run more jobs at once.
    """

    def __init__(self, *args: Any, app: Flask, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        set_process_app(app)

    def execute_job(self, job: Job, queue: Queue) -> None:
        with self.app.app_context():
            super().execute_job(job, queue)


def make_worker(app: Flask, queue_names: tuple[str, ...] = QUEUES) -> AppWorker:
    with app.app_context():
        connection = redis_connection()
        queues = [get_queue(name) for name in queue_names]
    return AppWorker(queues, connection=connection, app=app)
