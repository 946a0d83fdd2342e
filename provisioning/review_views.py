"""The review of onboarding requests in the provider console (provider ops only).

A queue with a status filter, one request with its checks and duplicates, and the
decisions: approve, reject with a reason, ask for changes; the auto-approval switch.
Every decision is a CSRF-checked POST, audited by the verbs it calls.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from app.auth.access import check_csrf, csrf_token
from app.console.views import ops_required
from app.core.db import get_platform, platform_db
from app.core.errors import DomainError, NotFound
from app.core.sites import CONSOLE
from provisioning import onboarding, onboarding_review, pipeline
from provisioning.onboarding_checks import list_duplicates, run_checks
from provisioning.onboarding_models import OnboardingRequest, RequestStatus
from provisioning.seats import seat_limit, seats_left

blp = Blueprint("onboarding_review", __name__, subdomain=CONSOLE, url_prefix="/onboarding")
BLUEPRINTS = (blp,)

PAGE_SIZE = 200
RUN_ENDPOINT = "runs.run_detail"  # provisioning/run_views.py


def _status_filter() -> str | None:
    value = request.args.get("status") or None
    reviewable = [s.value for s in RequestStatus if s != RequestStatus.UNCONFIRMED]
    if value is not None and value not in reviewable:
        allowed = ", ".join(reviewable)
        raise DomainError(
            f"Giá trị lọc status={value!r} không hợp lệ (chỉ nhận: {allowed})",
            f"invalid filter status={value!r} (one of: {allowed})",
        )
    return value


def run_url(run_id: int | None) -> str | None:
    """The pipeline's run page in the console, when its views are installed."""
    if run_id is None or RUN_ENDPOINT not in current_app.view_functions:
        return None
    try:
        return url_for(RUN_ENDPOINT, run_id=run_id)
    except BuildError:
        return None


@blp.get("/")
@ops_required
def queue(ops):
    session = platform_db()
    status = _status_filter()
    query = select(OnboardingRequest).order_by(OnboardingRequest.id.desc()).limit(PAGE_SIZE)
    if status is None:
        query = query.where(OnboardingRequest.status != RequestStatus.UNCONFIRMED)
    else:
        query = query.where(OnboardingRequest.status == status)
    kinds = onboarding.KIND_LABELS
    rows = session.scalars(query).all()
    for row in rows:  # approved ones follow their run (provisioning, live, failed)
        onboarding_review.sync_status(session, row)
    counts = dict(
        session.execute(
            select(OnboardingRequest.status, func.count()).group_by(OnboardingRequest.status)
        ).all()
    )
    return render_template(
        "provisioning/review_queue.html",
        ops=ops,
        requests=rows,
        status=status,
        counts=counts,
        statuses=onboarding.STATUS_LABELS,
        kinds=kinds,
        settings=onboarding_review.get_settings(session),
        seats={kind: (seat_limit(kind, session), seats_left(session, kind)) for kind in kinds},
        csrf_token=csrf_token(),
    )


@blp.get("/<int:request_id>")
@ops_required
def detail(ops, request_id: int):
    return _detail_page(ops, request_id)


def _detail_page(ops, request_id: int, *, refused: DomainError | None = None, status: int = 200):
    session = platform_db()
    found = onboarding_review.get_request(session, request_id)
    if found.status == RequestStatus.UNCONFIRMED:  # only confirmed requests reach ops
        raise NotFound(f"Không có đăng ký #{request_id}", f"There is no request #{request_id}")
    onboarding_review.sync_status(session, found)
    summary = pipeline.run_summary(session, found.run_id) if found.run_id else None
    html = render_template(
        "provisioning/review_detail.html",
        ops=ops,
        req=found,
        checks=run_checks(session, found),
        duplicates=list_duplicates(session, found),
        duplicate_of=session.get(OnboardingRequest, found.duplicate_of_id) if found.duplicate_of_id else None,
        summary=summary,
        run_link=run_url(found.run_id),
        statuses=onboarding.STATUS_LABELS,
        kinds=onboarding.KIND_LABELS,
        refused=refused,
        csrf_token=csrf_token(),
    )
    return html, status


def _actor(ops) -> dict:
    return {"actor_account_id": ops.id, "actor_label": ops.email}


@blp.post("/<int:request_id>/approve")
@ops_required
def approve(ops, request_id: int):
    check_csrf()
    session = platform_db()
    try:
        onboarding_review.approve_request(session, request_id, **_actor(ops))
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()  # nothing of the attempt stays; the refusal itself is recorded
        onboarding_review.record_refusal(session, request_id, exc, **_actor(ops))
        session.commit()
        return _detail_page(ops, request_id, refused=exc, status=exc.status)
    return redirect(url_for("onboarding_review.detail", request_id=request_id), 303)


@blp.post("/<int:request_id>/reject")
@ops_required
def reject(ops, request_id: int):
    check_csrf()
    onboarding_review.reject_request(
        platform_db(), request_id, request.form.get("reason") or "", **_actor(ops)
    )
    return redirect(url_for("onboarding_review.detail", request_id=request_id), 303)


@blp.post("/<int:request_id>/changes")
@ops_required
def ask_for_changes(ops, request_id: int):
    check_csrf()
    onboarding_review.request_changes(
        platform_db(),
        request_id,
        request.form.get("message") or "",
        base_url=city_base_url(),
        **_actor(ops),
    )
    return redirect(url_for("onboarding_review.detail", request_id=request_id), 303)


@blp.post("/settings")
@ops_required
def settings(ops):
    check_csrf()
    on = request.form.get("auto_approve") == "on"
    onboarding_review.set_auto_approve(platform_db(), on, **_actor(ops))
    return redirect(url_for("onboarding_review.queue"), 303)


def city_base_url() -> str:
    """The city portal's base URL (the requester's links live there, not on the console)."""
    port = ":" + request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    return f"{request.scheme}://{get_platform().settings.platform_domain}{port}/"
