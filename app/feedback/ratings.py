"""Citizen satisfaction ratings (DOMAIN.md §4.3): one per dossier, after the result is returned.

The citizen proves who they are as in the public status lookup (dossier code plus phone or ID
number); a wrong factor and an unknown code are the same answer (``None``). The rated official is
whoever handed the result over; stored for the unit's statistics, never shown to the citizen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, DomainError
from app.core.outbox import emit_event
from app.dossiers.models import Dossier, DossierAction
from app.dossiers.status import DRAFT, RETURNED
from app.feedback.models import Rating
from app.portal import lookup

MAX_COMMENT = 1000
CHANNEL = "portal"

# The 3-level scale, stored on Rating.level's 1-5 scale (5 = very satisfied) so a later
# "Bình thường" (3) fits between without renumbering.
VERY_SATISFIED, SATISFIED, UNSATISFIED = 5, 4, 2
LEVELS: dict[int, tuple[str, str]] = {
    VERY_SATISFIED: ("Rất hài lòng", "Very satisfied"),
    SATISFIED: ("Hài lòng", "Satisfied"),
    UNSATISFIED: ("Không hài lòng", "Not satisfied"),
}

# A short set drawn from Circular 01/2018's 9 indicators and the Huế portal's criteria.
CRITERIA: dict[str, tuple[str, str]] = {
    "time": ("Thời gian giải quyết so với quy định", "Processing time compared with the legal time"),
    "contacts": ("Số lần phải liên hệ để hoàn thành hồ sơ", "Number of contacts needed to finish"),
    "one_stop": (
        "Tiếp nhận và trả kết quả tại bộ phận một cửa",
        "Reception and return of the result at the one-stop counter",
    ),
    "publicity": ("Công khai thủ tục hành chính", "Publication of the procedure"),
    "attitude": ("Thái độ của cán bộ", "Officials' attitude"),
    "online": ("Chất lượng dịch vụ công trực tuyến", "Quality of the online service"),
}

ALREADY = (
    "Hồ sơ này đã được đánh giá. Mỗi hồ sơ chỉ được đánh giá một lần.",
    "This dossier has already been rated. Each dossier can be rated only once.",
)
NOT_RETURNED = (
    "Chỉ có thể đánh giá sau khi hồ sơ đã trả kết quả. Hãy tra cứu tình trạng hồ sơ và quay lại sau.",
    "You can rate a dossier only after its result has been returned. Check its status and come back later.",
)


class InvalidRating(DomainError):
    status = 422


@dataclass(frozen=True)
class RatingInput:
    level: int
    scores: dict[str, int] = field(default_factory=dict)
    comment: str | None = None


def _level(value: str | None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number in LEVELS else None


def parse(level: str | None, scores: dict[str, str], comment: str | None) -> RatingInput:
    """The citizen's answers, or a 422 listing every problem."""
    errors: dict[str, str] = {}
    chosen = _level(level)
    if chosen is None:
        errors["level"] = "required"
    parsed: dict[str, int] = {}
    for key in CRITERIA:
        raw = (scores.get(key) or "").strip()
        if not raw:
            continue  # criteria are optional
        score = _level(raw)
        if score is None:
            errors[f"criteria_{key}"] = "invalid"
        else:
            parsed[key] = score
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        errors["comment"] = "too_long"
    if errors:
        raise InvalidRating(
            "Hãy chọn mức độ hài lòng (và với từng tiêu chí, nếu muốn, một trong ba mức); "
            f"ý kiến tối đa {MAX_COMMENT} ký tự.",
            "Choose a satisfaction level (and, if you wish, one of the three levels for each criterion); "
            f"the comment holds at most {MAX_COMMENT} characters.",
            errors=errors,
        )
    return RatingInput(chosen, parsed, text or None)


def _dossier_locked(session: Session, code: str, factor: str) -> Dossier | None:
    """The unit's dossier for code + factor, row-locked so two ratings of it queue up; else None."""
    code = lookup.clean_code(code)
    if not code or len(code) > lookup.MAX_CODE or len(factor or "") > lookup.MAX_FACTOR:
        return None
    dossier = session.scalar(
        select(Dossier).where(Dossier.code == code, Dossier.status != DRAFT).with_for_update()
    )
    if dossier is None or not lookup.factor_matches(dossier, factor):
        return None
    return dossier


def _returner(session: Session, dossier_id: int) -> tuple[int | None, int | None]:
    """(account id, division id) of the official who handed the result over."""
    row = session.execute(
        select(DossierAction.actor_account_id, DossierAction.division_id)
        .where(DossierAction.dossier_id == dossier_id, DossierAction.action == "return_result")
        .order_by(DossierAction.at.desc(), DossierAction.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def rate(session: Session, code: str, factor: str, answers: RatingInput) -> Rating | None:
    """Record the citizen's rating; None when code + factor match no dossier of this unit."""
    dossier = _dossier_locked(session, code, factor)
    if dossier is None:
        return None
    if dossier.status != RETURNED:
        raise Conflict(*NOT_RETURNED, errors={"status": dossier.status})
    if session.scalar(select(Rating.id).where(Rating.dossier_id == dossier.id).limit(1)) is not None:
        raise Conflict(*ALREADY)
    official_id, division_id = _returner(session, dossier.id)
    rating = Rating(
        dossier_id=dossier.id,
        official_account_id=official_id,
        division_id=division_id,
        channel=CHANNEL,
        level=answers.level,
        criteria_scores=answers.scores,
        comment=answers.comment,
    )
    session.add(rating)
    session.flush()
    # The reporting feed refreshes the dossier's rating_level (satisfaction figures) from this event.
    emit_event(session, "dossier.rated", {"dossier_id": dossier.id})
    return rating


# --- the unit's view -------------------------------------------------------------


@dataclass(frozen=True)
class RatingRow:
    id: int
    dossier_code: str | None
    level: int
    criteria_scores: dict
    comment: str | None
    official_account_id: int | None
    rated_at: object


def counts(session: Session) -> dict[int, int]:
    """Ratings per level (every level present, zero when none)."""
    found = dict(session.execute(select(Rating.level, func.count()).group_by(Rating.level)).all())
    return {level: int(found.get(level, 0)) for level in LEVELS}


def recent(session: Session, limit: int = 200) -> list[RatingRow]:
    rows = session.execute(
        select(Rating, Dossier.code)
        .outerjoin(Dossier, Dossier.id == Rating.dossier_id)
        .order_by(Rating.rated_at.desc(), Rating.id.desc())
        .limit(limit)
    )
    return [
        RatingRow(r.id, code, r.level, r.criteria_scores or {}, r.comment, r.official_account_id, r.rated_at)
        for r, code in rows
    ]
