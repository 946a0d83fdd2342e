"""What a dossier leaves behind: action rows (form 05, KPIs), issued forms, outbox events, data-access log.

Every row here is append-only: nothing in this module updates or deletes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.catalog.models import Procedure
from app.core.outbox import emit_event
from app.dossiers import clock, metering, texts
from app.dossiers.desk import Actor, Desk
from app.dossiers.models import Dossier, DossierAction, FormDocument
from app.dossiers.status import STATUS_NAMES

TRANSITION_TOPIC = "dossier.transition"


def action(
    desk: Desk,
    actor: Actor,
    dossier: Dossier,
    name: str,
    from_status: int | None,
    to_status: int | None,
    *,
    step_id: int | None = None,
    role: str | None = None,
    division_id: int | None = None,
    to_account_id: int | None = None,
    to_division_id: int | None = None,
    step_due_at=None,
    on_time_class: str | None = None,
    note: str | None = None,
) -> DossierAction:
    """Record one transition or handover and emit its event in the same transaction.

    Every action is a change of the dossier, even one that leaves its columns as they
    were (guide, claim, form 04): its version moves, so a copy loaded before is stale.
    """
    note = texts.note(note)  # whatever the action, no note longer than form 05's cell can show
    if from_status is not None:  # a dossier created by this action gets its first version on INSERT
        dossier.updated_at = desk.now
    row = DossierAction(
        dossier_id=dossier.id,
        step_id=step_id if step_id is not None else dossier.current_step_id,
        action=name,
        actor_account_id=actor.account_id,
        role=role or (dossier.current_role if not actor.is_applicant else "applicant"),
        division_id=division_id if division_id is not None else dossier.current_division_id,
        to_account_id=to_account_id,
        to_division_id=to_division_id,
        from_status=from_status,
        to_status=to_status,
        at=desk.now,
        step_due_at=step_due_at,
        on_time_class=on_time_class,
        note=note,
    )
    desk.session.add(row)
    metering.action_recorded(desk, actor, dossier, row)
    # Every action, a status change or not (a handover, a claim, form 04), is one event: the
    # reporting store and the national portal sync follow who holds the dossier and its dates.
    emit_event(
        desk.session,
        TRANSITION_TOPIC,
        {
            "dossier_id": dossier.id,
            "code": dossier.code,
            "action": name,
            "from_status": from_status,
            "to_status": to_status,
            "at": desk.now.isoformat(),
            "procedure_id": dossier.procedure_id,
            "channel": dossier.channel,
            "due_at": dossier.due_at.isoformat() if dossier.due_at else None,
        },
        tenant_id=desk.tenant.id,
    )
    return row


def _form_number(desk: Desk, dossier: Dossier, form_no: str) -> str:
    """Form 01 carries the dossier code; later forms are numbered per dossier (…/02-1, …/02-2)."""
    if form_no == "01":
        return dossier.code
    issued = desk.session.scalar(
        select(func.count())
        .select_from(FormDocument)
        .where(FormDocument.dossier_id == dossier.id, FormDocument.form_no == form_no)
    )
    return f"{dossier.code}/{form_no}-{issued + 1}"


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def form_payload(desk: Desk, actor: Actor, dossier: Dossier, form_no: str, **extra: Any) -> dict[str, Any]:
    """The facts printed on a form, frozen when it is issued (JSON; rendered to PDF on request)."""
    procedure = extra.pop("procedure", None) or desk.session.get(Procedure, dossier.procedure_id)
    payload: dict[str, Any] = {
        "unit": {"name": desk.tenant.name, "unit_code": desk.tenant.unit_code},
        "dossier_code": dossier.code,
        "applicant_name": dossier.applicant_name,
        "applicant_address": dossier.applicant_address,
        "applicant_phone": dossier.applicant_phone,
        "applicant_email": dossier.applicant_email,
        "procedure_name": procedure.name,
        "issued_at": desk.now.isoformat(),
        "officer_name": actor.name,
    }
    if form_no == "01":
        received = extra.pop("received")  # the dossier's components ticked as received
        payload.update(
            components=[
                {"name": c.name, "original_or_copy": c.original_or_copy, "quantity": c.quantity}
                for c in received
            ],
            number_of_sets=dossier.number_of_sets,
            time_value=str(procedure.time_value),
            time_unit=procedure.time_unit,
            received_at=_iso(dossier.received_at),
            due_at=_iso(clock.appointment(dossier)),
            result_delivery=dossier.result_delivery,
        )
    elif form_no == "04":
        payload.update(received_at=_iso(dossier.received_at), original_due_at=_iso(dossier.due_at))
    payload.update({k: (_iso(v) if hasattr(v, "isoformat") else v) for k, v in extra.items()})
    return payload


def issue_form(desk: Desk, actor: Actor, dossier: Dossier, form_no: str, **extra: Any) -> FormDocument:
    form = FormDocument(
        dossier_id=dossier.id,
        form_set="2018",
        form_no=form_no,
        number=_form_number(desk, dossier, form_no),
        payload=form_payload(desk, actor, dossier, form_no, **extra),
        issued_at=desk.now,
        issued_by_account_id=actor.account_id,
    )
    desk.session.add(form)
    metering.form_issued(desk, form)
    return form


def log_personal_data_view(desk: Desk, account_id: int | None, dossier: Dossier, what: str) -> None:
    """Officials' looks at an applicant's personal data and files are on record (who, when, which dossier)."""
    desk.session.add(
        AuditEvent(
            actor_account_id=account_id,
            entity="dossier",
            entity_id=str(dossier.id),
            action=f"view_{what}",
            data={"code": dossier.code, "status": STATUS_NAMES.get(dossier.status, ("", ""))[1]},
            at=desk.now,
        )
    )


def log_logbook_export(desk: Desk, account_id: int | None, day_from, day_to, fmt: str, rows: int) -> None:
    """Each export of the logbook (form 06) is on record: it holds every applicant of the period."""
    desk.session.add(
        AuditEvent(
            actor_account_id=account_id,
            entity="logbook",
            entity_id=f"{day_from.isoformat()}..{day_to.isoformat()}",
            action=f"export_{fmt}",
            data={"from": day_from.isoformat(), "to": day_to.isoformat(), "format": fmt, "rows": rows},
            at=desk.now,
        )
    )
