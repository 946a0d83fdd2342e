"""``flask jobs ...``: run workers, look at the queues and the outbox."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from rq import Worker

from app.core.db import get_platform
from app.core.jobs import QUEUES, get_queue, import_job_modules, make_worker, redis_connection

jobs_cli = AppGroup("jobs", help="Background jobs (RQ on Redis).")


@jobs_cli.command("worker")
@click.option("--queue", "-q", "queues", multiple=True, type=click.Choice(QUEUES), help="Default: all.")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option("--with-scheduler", is_flag=True, help="Also enqueue periodic jobs (outbox sweep, pruning).")
@click.option("--import", "imports", multiple=True, help="Module to import first (handlers, periodic jobs).")
def worker_command(queues: tuple[str, ...], burst: bool, with_scheduler: bool, imports: tuple[str, ...]):
    """Run an RQ worker; each job runs in a fresh app context of this process's app."""
    from app.core.scheduler import SchedulerThread, build_cron, enqueue_due_now

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    import_job_modules(imports)
    worker = make_worker(app, queues or QUEUES)
    thread = None
    if with_scheduler:
        cron = build_cron(app, worker.connection)
        if burst:
            enqueue_due_now(cron)
        else:
            thread = SchedulerThread(cron)
            thread.start()
    try:
        worker.work(burst=burst, with_scheduler=with_scheduler, logging_level=app.logger.getEffectiveLevel())
    finally:
        if thread is not None:
            thread.stop()


@jobs_cli.command("status")
def status_command() -> None:
    """Queue lengths, running, scheduled and failed jobs, and live workers."""
    click.echo(f"{'queue':<10}{'queued':>8}{'started':>9}{'scheduled':>11}{'deferred':>10}{'failed':>8}")
    for name in QUEUES:
        queue = get_queue(name)
        click.echo(
            f"{name:<10}{queue.count:>8}{queue.started_job_registry.count:>9}"
            f"{queue.scheduled_job_registry.count:>11}{queue.deferred_job_registry.count:>10}"
            f"{queue.failed_job_registry.count:>8}"
        )
    click.echo(f"workers: {Worker.count(connection=redis_connection())}")


@jobs_cli.command("outbox")
@click.option("--drain", is_flag=True, help="Deliver due events now, in this process.")
def outbox_command(drain: bool) -> None:
    """Each shard's outbox: pending events, lag, failures, topics without a handler."""
    from app.core.outbox import outbox_stats, sweep_outbox

    if drain:
        import_job_modules()
        for shard, result in sweep_outbox().items():
            click.echo(
                f"{shard}: delivered {result.delivered}, failed {result.failed}, "
                f"no handler {result.no_handler}"
            )
    for shard in get_platform().shards.names:
        stats = outbox_stats(shard)
        click.echo(
            f"{shard}: pending {stats.pending} (due {stats.due}), "
            f"lag {stats.oldest_pending_age_seconds:.0f}s, "
            f"failing {stats.failing} ({stats.failed_attempts} failed attempts, max {stats.max_attempts}), "
            f"no handler {stats.no_handler}"
        )
        for topic in stats.topics:
            click.echo(
                f"  {topic.topic:<40} pending {topic.pending:>6}  lag {topic.oldest_age_seconds:>7.0f}s  "
                f"failing {topic.failing:>5}  no handler {topic.no_handler:>5}"
            )
