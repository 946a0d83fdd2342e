"""Ratings of dossier handling, and applicants' questions with the unit's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class Rating(TenantBase):
    """Rating — đánh giá mức độ hài lòng, of a dossier's handling and its officials."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        CheckConstraint(
            "channel IN ('portal', 'kiosk', 'zalo', 'sms', 'dvcqg')",
            name="channel_valid",
        ),
        Index(None, "official_account_id", "rated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="SET NULL"), index=True)
    official_account_id: Mapped[int | None] = mapped_column(BigInteger)
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="SET NULL"))
    citizen_account_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(8))
    level: Mapped[int] = mapped_column(SmallInteger)  # 5 = very satisfied ... 1 = very unsatisfied
    criteria_scores: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Question(TenantBase):
    """Question — câu hỏi, asked by an applicant about a procedure or sector."""

    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint("status IN ('new', 'assigned', 'answered', 'rejected')", name="status_valid"),
        CheckConstraint("kind IN ('question', 'petition')", name="kind_valid"),
        Index(None, "status", "asked_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    citizen_account_id: Mapped[int | None] = mapped_column(BigInteger)
    asker_name: Mapped[str] = mapped_column(String(255))
    asker_email: Mapped[str | None] = mapped_column(String(255))
    asker_phone: Mapped[str | None] = mapped_column(String(32))
    procedure_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedures.id", ondelete="SET NULL"), index=True
    )
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("sectors.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    assigned_division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="SET NULL"))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # hỏi đáp or phản ánh kiến nghị; the answer deadline (working days on the unit's calendar) depends on it.
    kind: Mapped[str] = mapped_column(String(16), default="question", server_default="question")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Lower-case, diacritics-free title, question and published answer, for the public search.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


class Answer(TenantBase):
    """Answer — trả lời, written by an official; published answers show on the portal."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    answered_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    is_published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
