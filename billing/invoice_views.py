"""Invoices in the provider console (issue #6): list per contract, a document's lines per unit,
finalize, credit notes, manual adjustments and the downloads.

provider_ops only. Every post is CSRF-checked and audited (entity ``billing_invoice``); a
refused action shows its reason on the page with the error's status.
"""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from app.audit.platform import record
from app.auth.access import check_csrf, csrf_token, current_ops, login_required
from app.core.db import platform_db
from app.core.errors import DomainError, NotFound
from app.core.sites import CONSOLE
from app.core.usage import METRICS
from billing import invoice_downloads, invoice_exports, invoices
from billing.models import CREDIT_NOTE, DRAFT, FINAL, Contract, Invoice
from tenants.models import Tenant

blp = Blueprint("billing_invoices", __name__, subdomain=CONSOLE, url_prefix="/billing/invoices")
ops_required = login_required(CONSOLE, "console.login_form", current_ops)
_AMOUNT = re.compile(r"^[+\-]?\d+$")
MAX_DIGITS = 15  # up to 999 nghìn tỷ đồng: far above any lease, far below BIGINT


def _amount(raw: str | None) -> int:
    """``"-200.000"``, ``"1 000 000"`` or ``"1,000,000"`` đồng -> int; anything else is refused."""
    cleaned = re.sub(r"[\s.,_đ]", "", raw or "").replace("−", "-")
    if not _AMOUNT.match(cleaned) or len(cleaned.lstrip("+-")) > MAX_DIGITS:
        raise invoices.InvoiceInputError(
            "Số tiền phải là một số nguyên đồng (ví dụ 200.000 hoặc -200.000)",
            "the amount must be a whole number of đồng (e.g. 200000 or -200000)",
        )
    return int(cleaned)


def _contract(session, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("Không tìm thấy hợp đồng", "contract not found")
    return contract


@blp.get("/")
@ops_required
def invoice_list(ops):
    session = platform_db()
    contracts = session.scalars(select(Contract).order_by(Contract.starts_on.desc(), Contract.id)).all()
    selected = request.args.get("contract", type=int) or (contracts[0].id if contracts else None)
    contract = _contract(session, selected) if selected else None
    documents, open_periods = [], []
    if contract is not None:
        documents = session.scalars(
            select(Invoice)
            .where(Invoice.contract_id == contract.id)
            .order_by(Invoice.period_start.desc(), Invoice.kind, Invoice.sequence_no)
        ).all()
        final = {d.period_start for d in documents if d.kind == "invoice" and d.status == FINAL}
        today = invoices.local_today()
        open_periods = [p for p in invoices.contract_periods(contract) if p[0] <= today and p[0] not in final]
    return render_template(
        "billing/invoice_list.html",
        ops=ops,
        contracts=contracts,
        contract=contract,
        documents=documents,
        open_periods=open_periods,
        dong=invoices.dong,
        csrf_token=csrf_token(),
    )


@blp.post("/drafts")
@ops_required
def draft_create(ops):
    check_csrf()
    session = platform_db()
    contract = _contract(session, request.form.get("contract_id", type=int) or 0)
    try:
        start = date.fromisoformat(request.form.get("period_start", ""))
    except ValueError:
        start = None
    period = invoices.period_of(contract, start) if start else None
    if period is None or period[0] != start:
        raise invoices.InvoiceInputError(
            "Kỳ không thuộc hợp đồng", "that period is not one of the contract's"
        )
    try:
        invoice = invoices.refresh_draft(session, contract, *period)
    except DomainError:
        session.rollback()
        raise
    _audit(session, ops, invoice, "refresh")
    session.commit()
    return redirect(url_for("billing_invoices.invoice_detail", invoice_id=invoice.id), code=303)


def _audit(session, ops, invoice: Invoice, action: str, **data) -> None:
    record(
        session,
        entity=invoices.AUDIT_ENTITY,
        entity_id=invoice.id,
        action=action,
        actor_account_id=ops.id,
        actor_label=ops.email,
        data={"number": invoice.number, "total": invoice.total, **data},
    )


def _page(ops, invoice_id: int, *, error: DomainError | None = None, status: int = 200, form=None):
    session = platform_db()
    invoice = invoices.get_invoice(session, invoice_id)
    contract = session.get(Contract, invoice.contract_id)
    groups = invoices.ordered_units(session, invoice)
    credits = session.scalars(
        select(Invoice).where(Invoice.credits_invoice_id == invoice.id).order_by(Invoice.sequence_no)
    ).all()
    credited = invoices.credited_so_far(session, invoice.id) if invoice.kind == "invoice" else 0
    credited_doc = session.get(Invoice, invoice.credits_invoice_id) if invoice.credits_invoice_id else None
    units = session.scalars(
        select(Tenant)
        .where(Tenant.id.in_(invoices.contract_unit_ids(session, contract)))
        .order_by(Tenant.slug)
    ).all()
    html = render_template(
        "billing/invoice_detail.html",
        ops=ops,
        invoice=invoice,
        contract=contract,
        groups=groups,
        fact_counts={k: len(v) for k, v in invoice_exports.fact_ids(session, invoice.id).items()},
        credits=credits,
        credited=credited,
        credited_doc=credited_doc,
        units=units,
        metrics=METRICS,
        kinds=invoice_exports.KIND_LABELS,
        is_draft=invoice.status == DRAFT,
        is_credit=invoice.kind == CREDIT_NOTE,
        period_over=invoices.local_today() >= invoice.period_end,
        manual=invoice.total - invoice.subtotal + invoice.discount,
        error=error,
        form=form or {},
        dong=invoices.dong,
        tz=invoices.LOCAL_TZ,
        csrf_token=csrf_token(),
    )
    return html, status


@blp.get("/<int:invoice_id>")
@ops_required
def invoice_detail(ops, invoice_id: int):
    return _page(ops, invoice_id)


def _act(ops, invoice_id: int, action):
    """Run ``action(session)`` -> (document to show, audit action, audit data) or show the refusal."""
    check_csrf()
    session = platform_db()
    try:
        shown, audit_action, data = action(session)
    except DomainError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _page(ops, invoice_id, error=exc, status=exc.status, form=request.form)
    if audit_action:
        _audit(session, ops, shown, audit_action, **data)
    session.commit()
    return redirect(url_for("billing_invoices.invoice_detail", invoice_id=shown.id), code=303)


@blp.post("/<int:invoice_id>/refresh")
@ops_required
def invoice_refresh(ops, invoice_id: int):
    def action(session):
        invoice = invoices.get_invoice(session, invoice_id, lock=True)
        contract = session.get(Contract, invoice.contract_id)
        invoices.refresh_draft(session, contract, invoice.period_start, invoice.period_end)
        return invoice, "refresh", {}

    return _act(ops, invoice_id, action)


@blp.post("/<int:invoice_id>/finalize")
@ops_required
def invoice_finalize(ops, invoice_id: int):
    def action(session):
        invoice = invoices.finalize_invoice(
            session, invoice_id, actor_label=ops.email, actor_account_id=ops.id
        )
        return invoice, None, {}  # finalize_invoice writes its own audit event (with the locator)

    return _act(ops, invoice_id, action)


@blp.post("/<int:invoice_id>/credit-notes")
@ops_required
def credit_note_create(ops, invoice_id: int):
    def action(session):
        note = invoices.create_credit_note(
            session,
            invoice_id,
            amount=_amount(request.form.get("amount")),
            reason=request.form.get("reason", ""),
            actor_label=ops.email,
            actor_account_id=ops.id,
        )
        return note, None, {}  # audited by create_credit_note

    return _act(ops, invoice_id, action)


@blp.post("/<int:invoice_id>/adjustments")
@ops_required
def adjustment_create(ops, invoice_id: int):
    def action(session):
        tenant_id = None
        slug = (request.form.get("tenant") or "").strip()
        if slug:
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == slug))
            if tenant_id is None:
                raise invoices.InvoiceInputError(f"Không có đơn vị {slug!r}", f"no unit {slug!r}")
        invoice = invoices.add_adjustment(
            session,
            invoice_id,
            amount=_amount(request.form.get("amount")),
            description=request.form.get("description", ""),
            reason=request.form.get("reason", ""),
            tenant_id=tenant_id,
            actor_label=ops.email,
            actor_account_id=ops.id,
        )
        return invoice, None, {}  # audited by add_adjustment

    return _act(ops, invoice_id, action)


# -- downloads ------------------------------------------------------------------------------------


@blp.get(f"/<int:invoice_id>/<{invoice_downloads.FILE_NAMES}:name>")
@ops_required
def download(ops, invoice_id: int, name: str):
    return invoice_downloads.download(platform_db(), invoice_id, name)


BLUEPRINTS: tuple = (blp,)
