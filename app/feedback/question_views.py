"""Questions and petitions on a unit's site: the public pages (/hoi-dap) and the back office answering."""

from __future__ import annotations

import functools
from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.access import check_csrf, require_role
from app.auth.roles import HEAD_OF_DIVISION, HEAD_OF_UNIT, UNIT_ADMIN
from app.backoffice.views import official_required
from app.calendar.workcal import VN_TZ, unit_calendar
from app.catalog.models import Procedure
from app.core.db import get_current_tenant, tenant_db
from app.core.i18n import tr
from app.core.sites import TENANT
from app.feedback import questions

blp = Blueprint("questions", __name__, subdomain=TENANT)

ANSWERING_ROLES = (HEAD_OF_DIVISION, HEAD_OF_UNIT, UNIT_ADMIN)
MARKERS = {"overdue": ("Quá hạn", "Overdue"), "due_soon": ("Sắp đến hạn", "Due soon")}
TOO_MANY = (
    "Bạn đã gửi quá nhiều câu hỏi trong thời gian ngắn. Vui lòng thử lại sau ít phút.",
    "You have sent too many questions in a short time. Please try again in a few minutes.",
)


def _helpers() -> dict:
    return dict(
        tenant=get_current_tenant(),
        kinds=questions.KIND_LABELS,
        markers=MARKERS,
        when=questions.local,
        max_content=questions.MAX_CONTENT,
    )


def _page_arg() -> int:
    raw = request.args.get("page", "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


# --- public --------------------------------------------------------------------------


@blp.get("/hoi-dap")
def public_list():
    query = request.args.get("q", "").strip()[:200]
    listing = questions.public_page(tenant_db(), query, _page_arg())
    return render_template("feedback/questions_public.html", query=query, listing=listing, **_helpers())


@blp.get("/hoi-dap/<int:question_id>")
def public_one(question_id: int):
    item = questions.public_one(tenant_db(), question_id)
    return render_template("feedback/questions_public_one.html", item=item, **_helpers())


def _procedures() -> list[tuple[int, str]]:
    rows = tenant_db().execute(
        select(Procedure.id, Procedure.name).where(Procedure.is_active).order_by(Procedure.name)
    )
    return [(row.id, row.name) for row in rows]


def _ask_form(values=None, errors=None, message=None, status: int = 200):
    html = render_template(
        "feedback/questions_ask.html",
        values=values or {},
        errors=errors or {},
        message=message,
        procedures=_procedures(),
        **_helpers(),
    )
    return html, status


@blp.get("/hoi-dap/gui")
def ask_form():
    return _ask_form({"kind": request.args.get("kind", "question")})


@blp.post("/hoi-dap/gui")
def ask():
    check_csrf()
    if not questions.submission_allowed(request.remote_addr):
        return _ask_form(request.form, message=TOO_MANY, status=429)
    session = tenant_db()
    filing, errors = questions.validate(session, request.form)
    if errors:
        return _ask_form(request.form, errors, status=422)
    question = questions.file_question(session, unit_calendar(session), filing, datetime.now(VN_TZ))
    return render_template("feedback/questions_sent.html", question=question, **_helpers())


# --- back office ---------------------------------------------------------------------


def answering_required(view):
    """Officials who answer for the unit (head of division, head of unit, unit admin); CSRF on POST."""

    @official_required
    @functools.wraps(view)
    def wrapper(official, *args, **kwargs):
        require_role(official, *ANSWERING_ROLES)
        if request.method == "POST":
            check_csrf()
        return view(official, *args, **kwargs)

    return wrapper


@blp.get("/backoffice/questions")
@answering_required
def backoffice(official):
    now = datetime.now(VN_TZ)
    rows = [(q, questions.marker(q, now)) for q in questions.backoffice_list(tenant_db())]
    return render_template("feedback/questions_backoffice.html", official=official, rows=rows, **_helpers())


def _answer_page(official, question, answer, errors=None, status: int = 200):
    html = render_template(
        "feedback/questions_answer.html",
        official=official,
        question=question,
        answer=answer,
        errors=errors or {},
        marker=questions.marker(question, datetime.now(VN_TZ)),
        **_helpers(),
    )
    return html, status


@blp.get("/backoffice/questions/<int:question_id>")
@answering_required
def answer_form(official, question_id: int):
    session = tenant_db()
    question = questions.get_question(session, question_id)
    return _answer_page(official, question, questions.answer_of(session, question.id))


@blp.post("/backoffice/questions/<int:question_id>")
@answering_required
def answer(official, question_id: int):
    session = tenant_db()
    question = questions.get_question(session, question_id)
    body, errors = questions.validate_answer(request.form)
    if errors:
        return _answer_page(official, question, questions.answer_of(session, question.id), errors, 422)
    publish = request.form.get("publish") == "1"
    questions.record_answer(
        session, question, body, publish=publish, account_id=official.account.id, now=datetime.now(VN_TZ)
    )
    flash(tr("Đã lưu câu trả lời.", "The answer was saved."), "success")
    return redirect(url_for("questions.answer_form", question_id=question.id))
