"""Printable documents of a dossier: forms 01-04 from their frozen payload, 05 and logbook 06 from the record.

A form's facts are frozen when it is issued (FormDocument.payload); the PDF is
rendered from them on first request and kept in storage, so a reprint is the
same document.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import has_request_context, request
from sqlalchemy import func, select

from app.auth.models import Account
from app.auth.roles import COUNTER_OFFICER, HEAD_OF_DIVISION, HEAD_OF_UNIT, RECORDS_CLERK, UNIT_ADMIN
from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure
from app.core.db import get_platform
from app.core.storage import get_storage, storage_key
from app.documents import forms as f
from app.documents.logbook import logbook_xlsx
from app.documents.pdf import render
from app.dossiers import records
from app.dossiers.desk import Desk
from app.dossiers.models import Dossier, DossierAction, FormDocument
from app.dossiers.queries import history
from app.officials.models import Division
from tenants.models import Tenant

# Who may export the logbook (form 06): it lists every applicant's address and phone for the period.
LOGBOOK_ROLES = (COUNTER_OFFICER, RECORDS_CLERK, HEAD_OF_DIVISION, HEAD_OF_UNIT, UNIT_ADMIN)

UNITS = {
    "working_days": ("ngày làm việc", "working days"),
    "calendar_days": ("ngày", "days"),
    "hours": ("giờ làm việc", "working hours"),
}


def legal_time_text(value: str | Decimal, unit: str) -> str:
    """ "3 ngày làm việc"; same-day procedures state the 15:00 rule."""
    if unit == "same_day":
        return "Trong ngày (nhận sau 15 giờ: trả trong ngày làm việc tiếp theo)"
    number = Decimal(value).normalize()
    return f"{number:f} {UNITS.get(unit, (unit, unit))[0]}"


def unit_header(desk: Desk) -> f.Unit:
    """The issuing unit and the body above it (e.g. a ward under its district's People's Committee)."""
    with get_platform().shards.platform_session() as session:
        tenant = session.get(Tenant, desk.tenant.id)
        parent = session.get(Tenant, tenant.parent_id) if tenant.parent_id else None
        return f.Unit(name=tenant.name, parent_name=parent.name if parent else "", unit_code=tenant.unit_code)


def lookup_url(desk: Desk, code: str) -> str:
    """The public status page of the dossier (portal, #4), encoded in form 01's QR code."""
    if has_request_context():
        base = request.host_url
    else:
        base = f"https://{desk.tenant.slug}.{get_platform().settings.platform_domain}/"
    return f"{base}tra-cuu?ma={code}"


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def form_model(desk: Desk, form: FormDocument):
    """The form's dataclass for the printer, from the payload frozen at issue."""
    p, unit = form.payload, unit_header(desk)
    issued = _at(p["issued_at"])
    common = dict(unit=unit, number=form.number, applicant_name=p["applicant_name"])
    if form.form_no == "01":
        code = p["dossier_code"]
        return f.Form01(
            **common,
            dossier_code=code,
            lookup_url=lookup_url(desk, code),
            applicant_address=p.get("applicant_address"),
            applicant_phone=p.get("applicant_phone"),
            applicant_email=p.get("applicant_email"),
            procedure_name=p["procedure_name"],
            components=[f.ComponentLine(**c) for c in p.get("components", [])],
            number_of_sets=p.get("number_of_sets", 1),
            legal_time_text=legal_time_text(p["time_value"], p["time_unit"]),
            received_at=_at(p["received_at"]),
            due_at=_at(p["due_at"]),
            result_delivery=p["result_delivery"],
            logbook_book=str(_at(p["received_at"]).year),
            logbook_seq=int(code.rsplit("-", 1)[1]),
            receiver_name=p.get("officer_name") or "",
        )
    if form.form_no == "02":
        return f.Form02(
            **common,
            dossier_code=p.get("dossier_code"),
            procedure_name=p["procedure_name"],
            items=p.get("items", []),
            reason=p.get("reason") or "",
            officer_name=p.get("officer_name") or "",
            officer_phone=None,
            issued_at=issued,
            signer_name=p.get("officer_name") or "",
        )
    if form.form_no == "03":
        return f.Form03(
            **common,
            dossier_code=p.get("dossier_code"),
            procedure_name=p["procedure_name"],
            reasons=p.get("reasons", []),
            issued_at=issued,
            signer_name=p.get("officer_name") or "",
        )
    if form.form_no == "04":
        return f.Form04(
            **common,
            dossier_code=p["dossier_code"],
            received_at=_at(p["received_at"]),
            original_due_at=_at(p["original_due_at"]),
            reason=p.get("reason") or "",
            new_due_at=_at(p["new_due_at"]),
            issued_at=issued,
            signer_name=p.get("officer_name") or "",
        )
    raise ValueError(f"form {form.form_no} is not printed from a payload")


def form_pdf(desk: Desk, form: FormDocument) -> bytes:
    storage = get_storage()
    if form.storage_key and storage.exists(form.storage_key):
        return storage.get(form.storage_key)
    data = render(form_model(desk, form))
    key = storage_key(desk.tenant.slug, "forms", f"{form.id}-{form.form_no}.pdf")
    storage.put(key, data, "application/pdf")
    form.storage_key = key
    return data


def _names(account_ids: set[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    with get_platform().shards.platform_session() as session:
        rows = session.execute(select(Account.id, Account.full_name).where(Account.id.in_(account_ids)))
        return dict(rows.all())


def _who(division: str | None, person: str | None, fallback: str) -> str:
    parts = [p for p in (division, person) if p]
    return " – ".join(parts) if parts else fallback


def tracking_slip(desk: Desk, dossier: Dossier) -> f.Form05:
    """Form 05 from the action record: one row per handover, with the step's result."""
    rows = [(a, s) for a, s in history(desk.session, dossier.id) if a.action not in ("create_draft", "claim")]
    divisions = dict(desk.session.execute(select(Division.id, Division.name)).all())
    people = _names({a.actor_account_id for a, _ in rows if a.actor_account_id})
    people |= _names({a.to_account_id for a, _ in rows if a.to_account_id})
    unit = unit_header(desk)
    return f.Form05(
        unit=unit,
        dossier_code=dossier.code or "",
        lead_agency=unit.name,
        rows=[
            f.Form05Row(
                giver=_who(
                    divisions.get(a.division_id), people.get(a.actor_account_id), dossier.applicant_name
                ),
                receiver=_who(
                    divisions.get(a.to_division_id), people.get(a.to_account_id), "Bộ phận một cửa"
                ),
                handed_at=a.at,
                step_name=step.name if step is not None else a.action,
                result=a.on_time_class,
                note=a.note,
            )
            for a, step in rows
        ],
    )


def tracking_slip_pdf(desk: Desk, dossier: Dossier) -> bytes:
    return render(tracking_slip(desk, dossier))


def logbook_model(desk: Desk, day_from: date, day_to: date) -> f.Logbook:
    """Form 06: the dossiers received in [day_from, day_to] (local dates), in order of receipt."""
    start = datetime.combine(day_from, time.min, VN_TZ)
    end = datetime.combine(day_to + timedelta(days=1), time.min, VN_TZ)
    # When the counter handed each dossier on: one index probe per row, in the same query.
    sent_at = (
        select(func.min(DossierAction.at))
        .where(DossierAction.dossier_id == Dossier.id, DossierAction.action == "transfer")
        .correlate(Dossier)
        .scalar_subquery()
    )
    dossiers = desk.session.execute(
        select(Dossier, Procedure.name, sent_at)
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .where(Dossier.received_at >= start, Dossier.received_at < end)
        .order_by(Dossier.received_at, Dossier.id)
    ).all()
    unit = unit_header(desk)
    return f.Logbook(
        unit=unit,
        period_from=day_from,
        period_to=day_to,
        rows=[
            f.LogbookRow(
                seq=seq,
                dossier_code=d.code,
                procedure_name=name,
                number_of_sets=d.number_of_sets,
                applicant_name=d.applicant_name,
                address_phone=", ".join(p for p in (d.applicant_address, d.applicant_phone) if p) or None,
                lead_agency=unit.name,
                received_at=d.received_at,
                due_at=d.rescheduled_due_at or d.due_at,
                sent_at=sent,
                result_received_at=d.completed_at,
                returned_at=d.returned_at,
            )
            for seq, (d, name, sent) in enumerate(dossiers, start=1)
        ],
    )


def logbook(
    desk: Desk, day_from: date, day_to: date, fmt: str = "pdf", *, account_id: int | None = None
) -> bytes:
    """Form 06 as PDF or xlsx; the export (many applicants' data at once) is on record, by ``account_id``."""
    book = logbook_model(desk, day_from, day_to)
    records.log_logbook_export(desk, account_id, day_from, day_to, fmt, len(book.rows))
    return logbook_xlsx(book) if fmt == "xlsx" else render(book)
