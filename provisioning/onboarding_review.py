"""Ops' decisions on onboarding requests: approve, reject, ask for changes, and auto-approval.

Verbs add their rows, the audit row and the mail to the caller's session and
flush; the edge commits. Approval re-checks every rule with the request row
locked and creates the provisioning run in the same transaction; the run is
handed to a worker only after that transaction commits.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from app.audit.platform import record
from app.core import mail
from app.core.errors import DomainError, NotFound
from provisioning import onboarding_mails, pipeline
from provisioning.onboarding_checks import Check, failed_checks, list_duplicates, run_checks
from provisioning.onboarding_models import OnboardingRequest, OnboardingSettings, RequestStatus
from provisioning.onboarding_tokens import new_token, now
from provisioning.pipeline_models import ProvisioningRun, RunStatus
from provisioning.spec import ProvisionSpec

log = logging.getLogger("motcua.onboarding")

ENTITY = "onboarding_request"
AUTO_LABEL = "auto-approval"
EDIT_LIFETIME = timedelta(days=14)
MAX_REASON = 2000
# Approvals take this transaction-level advisory lock: seats and subdomains are judged one at a time.
APPROVAL_LOCK = 0x4D07
_PENDING_RUNS = "motcua.onboarding.pending_runs"


class ReviewRefused(DomainError):
    """A decision that cannot be taken now; the message says why."""

    status = 409


def audit(
    session: Session,
    request: OnboardingRequest,
    action: str,
    *,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
    data: dict | None = None,
) -> None:
    record(
        session,
        entity=ENTITY,
        entity_id=request.id,
        action=action,
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data=data,
    )


def get_request(session: Session, request_id: int, *, lock: bool = False) -> OnboardingRequest:
    query = select(OnboardingRequest).where(OnboardingRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"Không có đăng ký #{request_id}", f"There is no request #{request_id}")
    return found


# --- settings -------------------------------------------------------------------------------


def get_settings(session: Session) -> OnboardingSettings:
    return session.get(OnboardingSettings, 1) or OnboardingSettings(id=1, auto_approve=False)


def set_auto_approve(session: Session, on: bool, *, actor_account_id: int, actor_label: str) -> None:
    row = session.get(OnboardingSettings, 1, with_for_update=True)
    if row is None:
        row = OnboardingSettings(id=1)
        session.add(row)
    row.auto_approve = on
    row.updated_by_account_id = actor_account_id
    record(
        session,
        entity="onboarding_settings",
        entity_id=1,
        action="auto_approve_on" if on else "auto_approve_off",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
    )
    session.flush()


# --- handing runs to workers after the commit -----------------------------------------------


def enqueue_after_commit(session: Session, run_id: int) -> None:
    """Enqueue the run once ``session`` commits (nothing if it rolls back)."""
    if _PENDING_RUNS not in session.info:
        session.info[_PENDING_RUNS] = []
        event.listen(session, "after_commit", _enqueue_pending)
        event.listen(session, "after_rollback", _forget_pending)
    session.info[_PENDING_RUNS].append(run_id)


def _forget_pending(session: Session) -> None:
    session.info.get(_PENDING_RUNS, []).clear()


def _enqueue_pending(session: Session) -> None:
    pending = session.info.get(_PENDING_RUNS) or []
    run_ids, pending[:] = list(pending), []
    for run_id in run_ids:
        pipeline.enqueue_run(run_id)  # never raises: the sweep picks up what Redis missed


# --- approve ------------------------------------------------------------------------------------


def spec_for(request: OnboardingRequest) -> ProvisionSpec:
    return ProvisionSpec(
        name=request.name,
        name_en=request.name_en,
        kind=request.kind,
        unit_code=request.unit_code,
        gso_code=request.gso_code,
        slug=request.slug,
        parent_slug=request.parent_slug,
        admin_email=request.contact_email,
        admin_name=request.contact_name,
        admin_phone=request.contact_phone,
        admin_position=request.contact_position,
        theme=request.theme,
        catalog_kind=request.catalog_kind,
        catalog_version=request.catalog_version,
    )


def _refusal(failed: list[Check]) -> ReviewRefused:
    vi = "; ".join(f"{c.label[0]}: {c.reason[0]}" for c in failed)
    en = "; ".join(f"{c.label[1]}: {c.reason[1]}" for c in failed)
    return ReviewRefused(f"Không thể duyệt: {vi}", f"Cannot approve: {en}")


def _must_be(request: OnboardingRequest, *statuses: RequestStatus) -> None:
    if request.status not in statuses:
        raise ReviewRefused(
            f"Đăng ký #{request.id} đang ở trạng thái “{request.status}”: không thể thực hiện thao tác này.",
            f"Request #{request.id} is “{request.status}”: this decision cannot be taken now.",
        )


def _previous_run_rolled_back(session: Session, request: OnboardingRequest) -> None:
    """A failed request is approved again only once its run was rolled back (nothing half-made left)."""
    run = session.get(ProvisioningRun, request.run_id) if request.run_id else None
    if run is not None and run.status != RunStatus.ROLLED_BACK:
        raise ReviewRefused(
            f"Lần chạy #{run.id} của đăng ký này chưa được hoàn tác: hãy chạy tiếp hoặc hoàn tác nó trước.",
            f"Run #{run.id} of this request was not rolled back: resume it or roll it back first.",
        )


def approve_request(
    session: Session, request_id: int, *, actor_account_id: int | None, actor_label: str
) -> ProvisioningRun:
    """Re-check everything, then create the provisioning run; refuse (409) when a check fails."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPROVAL_LOCK})
    request = get_request(session, request_id, lock=True)
    _must_be(request, RequestStatus.SUBMITTED, RequestStatus.FAILED)
    if request.status == RequestStatus.FAILED:
        _previous_run_rolled_back(session, request)
    failed = failed_checks(run_checks(session, request))
    if failed:
        raise _refusal(failed)
    run = pipeline.create_run(
        session,
        "provision",
        spec=spec_for(request),
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        onboarding_request_id=request.id,
    )
    request.status = RequestStatus.APPROVED
    request.run_id = run.id
    request.reviewer_account_id = actor_account_id
    request.reviewed_at = now()
    audit(
        session,
        request,
        "approved",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"run_id": run.id},
    )
    mail.send_after_commit(session, onboarding_mails.approved_mail(request))
    enqueue_after_commit(session, run.id)
    session.flush()
    return run


def record_refusal(
    session: Session, request_id: int, error: DomainError, *, actor_account_id: int, actor_label: str
) -> None:
    """Audit an approval that was refused (in a transaction of its own: the attempt rolled back)."""
    request = get_request(session, request_id)
    audit(
        session,
        request,
        "approval_refused",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"reason": error.en[:500]},
    )


def auto_approve(session: Session, request: OnboardingRequest) -> ProvisioningRun | None:
    """Approve ``request`` when auto-approval is on, every check passes and it has no duplicate.

    Anything that stops it is audited as the reason ops must decide themselves.
    """
    if not get_settings(session).auto_approve or request.status != RequestStatus.SUBMITTED:
        return None
    reasons = [c.reason[1] for c in failed_checks(run_checks(session, request))]
    if request.duplicate_of_id is not None or list_duplicates(session, request):
        reasons.append("another open request for the same unit")
    if not reasons:
        try:
            with session.begin_nested():
                return approve_request(session, request.id, actor_account_id=None, actor_label=AUTO_LABEL)
        except DomainError as exc:
            reasons.append(exc.en)
    audit(session, request, "auto_approval_skipped", actor_label=AUTO_LABEL, data={"reasons": reasons})
    return None


# --- reject, ask for changes ----------------------------------------------------------------


def _clean_reason(text_: str) -> str:
    reason = (text_ or "").strip()
    if not reason:
        raise DomainError(
            "Vui lòng ghi lý do (người đăng ký sẽ nhận được).",
            "Write the reason (the requester receives it).",
            status=422,
        )
    if len(reason) > MAX_REASON:
        raise DomainError(
            f"Lý do dài quá {MAX_REASON} ký tự.",
            f"The reason is longer than {MAX_REASON} characters.",
            status=422,
        )
    return reason


def reject_request(
    session: Session, request_id: int, reason: str, *, actor_account_id: int, actor_label: str
) -> OnboardingRequest:
    reason = _clean_reason(reason)
    request = get_request(session, request_id, lock=True)
    _must_be(request, RequestStatus.SUBMITTED, RequestStatus.CHANGES_REQUESTED, RequestStatus.FAILED)
    if request.status == RequestStatus.FAILED:
        _previous_run_rolled_back(session, request)
    request.status = RequestStatus.REJECTED
    request.review_reason = reason
    request.reviewer_account_id = actor_account_id
    request.reviewed_at = now()
    request.edit_token_hash = request.edit_expires_at = None
    audit(
        session,
        request,
        "rejected",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"reason": reason},
    )
    mail.send_after_commit(session, onboarding_mails.rejected_mail(request, reason))
    session.flush()
    return request


def request_changes(
    session: Session,
    request_id: int,
    message: str,
    *,
    actor_account_id: int,
    actor_label: str,
    base_url: str,
) -> OnboardingRequest:
    """Send the request back with ``message`` and a link to edit and resubmit it."""
    message = _clean_reason(message)
    request = get_request(session, request_id, lock=True)
    _must_be(request, RequestStatus.SUBMITTED)
    token, digest = new_token()
    request.status = RequestStatus.CHANGES_REQUESTED
    request.review_reason = message
    request.reviewer_account_id = actor_account_id
    request.reviewed_at = now()
    request.edit_token_hash = digest
    request.edit_expires_at = now() + EDIT_LIFETIME
    audit(
        session,
        request,
        "changes_requested",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"message": message},
    )
    link = f"{base_url}dang-ky-don-vi/sua/{token}"
    mail.send_after_commit(session, onboarding_mails.changes_mail(request, message, link, EDIT_LIFETIME.days))
    session.flush()
    return request


# --- following the run --------------------------------------------------------------------------

_FROM_RUN = {
    RunStatus.PENDING: RequestStatus.APPROVED,
    RunStatus.RUNNING: RequestStatus.PROVISIONING,
    RunStatus.RETRYING: RequestStatus.PROVISIONING,
    RunStatus.DONE: RequestStatus.LIVE,
    RunStatus.FAILED: RequestStatus.FAILED,
    RunStatus.ROLLING_BACK: RequestStatus.FAILED,
    RunStatus.ROLLED_BACK: RequestStatus.FAILED,
}


def sync_status(session: Session, request: OnboardingRequest) -> OnboardingRequest:
    """Bring an approved request's status in line with its run (provisioning, live, failed)."""
    if request.run_id is None or request.status in (RequestStatus.REJECTED, RequestStatus.LIVE):
        return request
    run = session.get(ProvisioningRun, request.run_id)
    wanted = _FROM_RUN.get(RunStatus(run.status)) if run is not None else None
    if wanted is not None and wanted != request.status:
        previous, request.status = request.status, wanted
        audit(
            session,
            request,
            f"status_{wanted.value}",
            actor_label="pipeline",
            data={"from": previous, "run_id": run.id, "run_status": run.status},
        )
        session.flush()
    return request


@pipeline.on_status_change
def follow_run(session: Session, run: ProvisioningRun) -> None:
    """Keep the request of an onboarding run in step with it, in the run's own transaction."""
    if run.onboarding_request_id is None:
        return
    request = session.get(OnboardingRequest, run.onboarding_request_id, with_for_update=True)
    if request is not None and request.run_id == run.id:
        sync_status(session, request)
