"""Questions and petitions (hỏi đáp, phản ánh kiến nghị, Circular 32/2017): filing, answering, publishing.

A citizen files without signing in (name plus an email or a phone). The answer deadline is a budget of
working days on the unit's calendar, fixed at filing. Only published answers are public, and the public
never sees the asker's contact details.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.calendar.deadlines import step_due
from app.calendar.workcal import WorkCalendar, to_local
from app.catalog.models import Procedure
from app.core import ratelimit
from app.core.errors import NotFound
from app.feedback.models import Answer, Question
from tenants.naming import strip_diacritics

log = logging.getLogger(__name__)

# Answer budgets in working days on the unit's calendar, counted from the next office opening after
# filing. The unit's own rules may be shorter; these are the platform's defaults (DOMAIN.md, hỏi đáp).
ANSWER_WORKING_DAYS = {"question": 10, "petition": 15}
KIND_LABELS = {"question": ("Hỏi đáp", "Question"), "petition": ("Phản ánh, kiến nghị", "Petition")}
# "Due soon": this many calendar days or less before the deadline.
DUE_SOON = timedelta(days=2)

MAX_NAME = 255
MAX_TITLE = 255
MAX_CONTENT = 4000
MAX_ANSWER = 20000
PAGE_SIZE = 20

# A light limit on public submissions: this many per client IP per window.
SUBMIT_LIMIT = 5
SUBMIT_WINDOW_SECONDS = 600

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 .\-]{8,20}$")


class QuestionNotFound(NotFound):
    def __init__(self):
        super().__init__(
            "Không tìm thấy câu hỏi. Hãy chọn câu hỏi trong danh sách.",
            "Question not found. Pick one from the list.",
        )


@dataclass
class Filing:
    kind: str
    name: str
    email: str | None
    phone: str | None
    title: str
    content: str
    procedure_id: int | None


# --- validating and filing ----------------------------------------------------------


def validate(session: Session, form) -> tuple[Filing | None, dict[str, tuple[str, str]]]:
    """(the filing, {}) or (None, {field: (vi, en)}) for a submitted form."""
    errors: dict[str, tuple[str, str]] = {}
    kind = (form.get("kind") or "").strip()
    if kind not in ANSWER_WORKING_DAYS:
        errors["kind"] = ("Hãy chọn hỏi đáp hoặc phản ánh, kiến nghị.", "Choose question or petition.")
    name = (form.get("name") or "").strip()
    if not name or len(name) > MAX_NAME:
        errors["name"] = (
            f"Hãy nhập họ tên (tối đa {MAX_NAME} ký tự).",
            f"Enter your name (at most {MAX_NAME} characters).",
        )
    email = (form.get("email") or "").strip() or None
    phone = (form.get("phone") or "").strip() or None
    if email is None and phone is None:
        errors["contact"] = (
            "Hãy nhập email hoặc số điện thoại để nhận trả lời.",
            "Enter an email or a phone number so the answer can reach you.",
        )
    if email is not None and (len(email) > 255 or not _EMAIL.match(email)):
        errors["email"] = (
            "Email không hợp lệ, ví dụ ten@example.vn.",
            "Invalid email, e.g. name@example.vn.",
        )
    if phone is not None and not _PHONE.match(phone):
        errors["phone"] = (
            "Số điện thoại không hợp lệ: 8–20 chữ số.",
            "Invalid phone number: 8–20 digits.",
        )
    title = (form.get("title") or "").strip()
    if not title or len(title) > MAX_TITLE:
        errors["title"] = (
            f"Hãy nhập tiêu đề (tối đa {MAX_TITLE} ký tự).",
            f"Enter a title (at most {MAX_TITLE} characters).",
        )
    content = (form.get("content") or "").strip()
    if not content or len(content) > MAX_CONTENT:
        errors["content"] = (
            f"Hãy nhập nội dung (tối đa {MAX_CONTENT} ký tự).",
            f"Enter the content (at most {MAX_CONTENT} characters).",
        )
    procedure_id = _procedure_id(session, form.get("procedure_id"), errors)
    if errors:
        return None, errors
    return Filing(kind, name, email, phone, title, content, procedure_id), {}


def _procedure_id(session: Session, raw, errors: dict) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    procedure = session.get(Procedure, int(raw)) if raw.isdigit() and len(raw) < 18 else None
    if procedure is None or not procedure.is_active:
        errors["procedure_id"] = (
            "Thủ tục không có trong danh sách; hãy chọn lại hoặc để trống.",
            "Unknown procedure; pick one from the list or leave it empty.",
        )
        return None
    return procedure.id


def answer_due(cal: WorkCalendar, filed_at: datetime, kind: str) -> datetime:
    """The answer deadline: the kind's working-day budget from the next office opening after filing."""
    hours = Decimal(ANSWER_WORKING_DAYS[kind]) * Decimal(cal.hours.hours_per_day)
    return step_due(cal, cal.next_opening(filed_at), hours)


def _search_text(*parts: str | None) -> str:
    return strip_diacritics(" ".join(p for p in parts if p)).lower()


def file_question(session: Session, cal: WorkCalendar, filing: Filing, now: datetime) -> Question:
    question = Question(
        kind=filing.kind,
        asker_name=filing.name,
        asker_email=filing.email,
        asker_phone=filing.phone,
        title=filing.title,
        body=filing.content,
        procedure_id=filing.procedure_id,
        asked_at=now,
        due_at=answer_due(cal, now, filing.kind),
        search_text=_search_text(filing.title, filing.content),
    )
    session.add(question)
    session.flush()
    return question


# --- rate limit ----------------------------------------------------------------------


def submission_allowed(ip: str | None, now: float | None = None) -> bool:
    """Count a public submission against the client's IP; fail open without Redis."""
    counted = ratelimit.hit(f"questions:ip:{ip or '-'}", SUBMIT_WINDOW_SECONDS, now)
    return counted is None or counted[0] <= SUBMIT_LIMIT


# --- public reads --------------------------------------------------------------------


@dataclass
class PublicItem:
    """What the public sees of a question: never the asker's name or contact details."""

    id: int
    kind: str
    title: str
    body: str
    asked_at: datetime
    answer: str
    answered_at: datetime


@dataclass
class PublicPage:
    items: list[PublicItem]
    total: int
    page: int
    pages: int


def _published():
    return (
        select(
            Question.id,
            Question.kind,
            Question.title,
            Question.body,
            Question.asked_at,
            Answer.body.label("answer"),
            Answer.published_at.label("answered_at"),
        )
        .join(Answer, Answer.question_id == Question.id)
        .where(Answer.is_published, Question.is_public)
    )


def public_page(session: Session, query: str = "", page: int = 1, per_page: int = PAGE_SIZE) -> PublicPage:
    """Published answers, newest first; every word of ``query`` must appear (case and diacritics ignored)."""
    base = _published()
    for word in strip_diacritics(query or "").lower().split()[:10]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        base = base.where(Question.search_text.like(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(
        base.order_by(Answer.published_at.desc(), Question.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return PublicPage([PublicItem(**row._mapping) for row in rows], total, page, pages)


def public_one(session: Session, question_id: int) -> PublicItem:
    row = session.execute(_published().where(Question.id == question_id)).first()
    if row is None:
        raise QuestionNotFound()
    return PublicItem(**row._mapping)


# --- back office ---------------------------------------------------------------------


def marker(question: Question, now: datetime) -> str | None:
    """ "overdue", "due_soon" or None, for an unanswered question."""
    if question.status == "answered" or question.due_at is None:
        return None
    if question.due_at < now:
        return "overdue"
    if question.due_at - now <= DUE_SOON:
        return "due_soon"
    return None


def backoffice_list(session: Session) -> list[Question]:
    """Open questions first by deadline, then answered ones (latest deadline first)."""
    answered = Question.status == "answered"
    return list(
        session.scalars(select(Question).order_by(answered, Question.due_at.asc().nulls_last(), Question.id))
    )


def get_question(session: Session, question_id: int) -> Question:
    question = session.get(Question, question_id)
    if question is None:
        raise QuestionNotFound()
    return question


def answer_of(session: Session, question_id: int) -> Answer | None:
    return session.scalars(
        select(Answer).where(Answer.question_id == question_id).order_by(Answer.id.desc()).limit(1)
    ).first()


def validate_answer(form) -> tuple[str | None, dict[str, tuple[str, str]]]:
    body = (form.get("answer") or "").strip()
    if not body or len(body) > MAX_ANSWER:
        return None, {
            "answer": (
                f"Hãy nhập nội dung trả lời (tối đa {MAX_ANSWER} ký tự).",
                f"Enter the answer (at most {MAX_ANSWER} characters).",
            )
        }
    return body, {}


def record_answer(
    session: Session, question: Question, body: str, *, publish: bool, account_id: int, now: datetime
) -> Answer:
    """Write (or rewrite) the unit's answer, recording who and when; publishing makes it public."""
    answer = answer_of(session, question.id)
    if answer is None:
        answer = Answer(question_id=question.id, body=body)
        session.add(answer)
    answer.body = body
    answer.answered_by_account_id = account_id
    answer.answered_at = now
    answer.is_published = publish
    answer.published_at = (answer.published_at or now) if publish else None
    question.status = "answered"
    question.is_public = publish
    question.search_text = _search_text(question.title, question.body, body)
    session.flush()
    return answer


def local(at: datetime | None) -> str:
    return to_local(at).strftime("%H:%M %d/%m/%Y") if at else ""
