"""The 9-indicator self-assessment sheet (Circular 01/2018, DOMAIN.md §4.3): 2 points each, 18 in total.

Each indicator's self-assessed points come from the unit's facts for the period by a fixed rule
(``RULES`` below; docs/reports.md repeats them). The "verified" column is left for the reviewer.
An indicator without data for the period scores no points and says so: the reviewer decides.
Everything but indicator 8 reads the platform reporting store; petitions live in the unit's own
schema, so indicator 8 is computed only when the caller passes that unit's tenant session (the
unit's own back office), never for another unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.catalog.index_models import ProcedureIndex
from app.reports.models import ReportDossier, ReportStep
from app.reports.officials import period_bounds
from app.reports.periods import Period

# Rating bands (C2's sheet; DOMAIN.md §4.3): total > 15, 12..<15, 9..<12, 6..<9, < 6.
BANDS: tuple[tuple[float, str, str], ...] = (
    (15, "Xuất sắc", "Excellent"),  # strictly above 15
    (12, "Tốt", "Good"),
    (9, "Khá", "Fair"),
    (6, "Trung bình", "Average"),
)
WEAK = ("Yếu", "Weak")

# (number, Vietnamese, English, rule in both languages)
RULES: dict[int, tuple[str, str, str, str]] = {
    1: (
        "Tổng thời gian giải quyết TTHC so với thời gian quy định",
        "Total processing time compared with the legal time",
        "Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn trong kỳ: ≥ 95% được 2 điểm, ≥ 80% được 1 điểm",
        "Share of dossiers resolved early or on time in the period: >= 95% 2 points, >= 80% 1 point",
    ),
    2: (
        "Thời gian thực hiện của từng cơ quan, đơn vị tham gia giải quyết",
        "Time taken by each unit involved",
        "Tỷ lệ bước xử lý bàn giao đúng hạn bước trong kỳ: ≥ 95% được 2 điểm, ≥ 80% được 1 điểm",
        "Share of steps handed over within their step deadline in the period: >= 95% 2, >= 80% 1",
    ),
    3: (
        "Số lần phải liên hệ để hoàn thiện hồ sơ (kể cả trực tuyến)",
        "Number of contacts needed to complete the dossier (online included)",
        "Tỷ lệ hồ sơ đã giải quyết không phải bổ sung: ≥ 90% được 2 điểm, ≥ 70% được 1 điểm",
        "Share of resolved dossiers that needed no supplement: >= 90% 2, >= 70% 1",
    ),
    4: (
        "Số cơ quan, đơn vị phải liên hệ để hoàn thiện hồ sơ",
        "Number of agencies to contact to complete the dossier",
        "Mọi hồ sơ tiếp nhận trong kỳ qua một đầu mối của đơn vị (quầy, trực tuyến, bưu chính): 2 điểm",
        "Every dossier of the period was received through the unit's single entry point: 2 points",
    ),
    5: (
        "Thực hiện tiếp nhận, giải quyết, trả kết quả tại Bộ phận Một cửa",
        "Reception, handling and return via the one-stop counter",
        "Tỷ lệ hồ sơ đã xử lý xong trong kỳ đã trả kết quả qua Bộ phận Một cửa: ≥ 95% được 2, ≥ 80% được 1",
        "Share of the period's completed dossiers returned by the one-stop: >= 95% 2, >= 80% 1",
    ),
    6: (
        "Công khai thủ tục hành chính",
        "Publication of the procedures",
        "Tỷ lệ thủ tục có hồ sơ trong kỳ đang công khai trên danh mục thành phố: 100% được 2, ≥ 80% được 1",
        "Share of the period's procedures published in the city catalogue: 100% 2, >= 80% 1",
    ),
    7: (
        "Thái độ của cán bộ, công chức",
        "Officials' attitude",
        "Tỷ lệ đánh giá hài lòng, rất hài lòng (mức ≥ 4) của hồ sơ xong trong kỳ: ≥ 90% được 2, ≥ 70% được 1",
        "Share of (very) satisfied ratings (level >= 4) of the period's dossiers: >= 90% 2, >= 70% 1",
    ),
    8: (
        "Tiếp nhận, xử lý phản ánh, kiến nghị",
        "Response to feedback and petitions",
        "Tỷ lệ phản ánh, kiến nghị đến hạn trong kỳ được trả lời đúng hạn: ≥ 90% được 2, ≥ 70% được 1",
        "Share of petitions due in the period answered by their due date: >= 90% 2, >= 70% 1",
    ),
    9: (
        "Tiến độ và chất lượng cung cấp dịch vụ công trực tuyến",
        "Progress and quality of online services",
        "Tỷ lệ hồ sơ tiếp nhận trực tuyến trong kỳ: ≥ 30% được 2 điểm, ≥ 10% được 1 điểm",
        "Share of the period's dossiers received online: >= 30% 2 points, >= 10% 1 point",
    ),
}
# Thresholds for (2 points, 1 point) of the ratio indicators.
THRESHOLDS: dict[int, tuple[float, float]] = {
    1: (0.95, 0.80),
    2: (0.95, 0.80),
    3: (0.90, 0.70),
    5: (0.95, 0.80),
    6: (1.0, 0.80),
    7: (0.90, 0.70),
    8: (0.90, 0.70),
    9: (0.30, 0.10),
}


@dataclass
class Indicator:
    number: int
    name_vi: str
    name_en: str
    rule_vi: str
    rule_en: str
    numerator: int | None
    denominator: int | None
    points: int | None  # None: no data for the period
    verified: int | None = None  # the reviewer's column

    @property
    def ratio(self) -> float | None:
        if not self.denominator or self.numerator is None:
            return None
        return self.numerator / self.denominator


@dataclass
class Sheet:
    tenant_id: int
    period: Period
    indicators: list[Indicator] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(i.points or 0 for i in self.indicators)

    @property
    def band(self) -> tuple[str, str]:
        return band_of(self.total)


def band_of(total: float) -> tuple[str, str]:
    """The rating band of a total out of 18 (> 15 excellent; 12–<15 good; 9–<12 fair; 6–<9 average)."""
    if total > BANDS[0][0]:
        return BANDS[0][1], BANDS[0][2]
    for floor, vi, en in BANDS[1:]:
        if total >= floor:
            return vi, en
    return WEAK


def points_for(number: int, numerator: int | None, denominator: int | None) -> int | None:
    if not denominator or numerator is None:
        return None
    ratio = numerator / denominator
    two, one = THRESHOLDS[number]
    return 2 if ratio >= two else 1 if ratio >= one else 0


def _dossier_counts(session: Session, tenant_id: int, period: Period) -> dict[str, int]:
    d = ReportDossier
    completed = and_(d.closed_kind == "completed", d.closed_day.between(period.start, period.end))
    received = d.received_day.between(period.start, period.end)

    def count(cond):
        return func.count().filter(cond)

    row = session.execute(
        select(
            count(completed).label("resolved"),
            count(and_(completed, d.on_time_class.in_(("early", "on_time")))).label("in_time"),
            count(and_(completed, d.supplements == 0)).label("no_supplement"),
            count(and_(completed, d.returned_at.is_not(None))).label("returned"),
            count(and_(completed, d.rating_level.is_not(None))).label("rated"),
            count(and_(completed, d.rating_level >= 4)).label("satisfied"),
            count(received).label("received"),
            count(and_(received, d.channel == 2)).label("online"),
        ).where(d.tenant_id == tenant_id)
    ).one()
    return dict(row._mapping)


def _step_counts(session: Session, tenant_id: int, period: Period) -> tuple[int, int]:
    start, end = period_bounds(period)
    s = ReportStep
    row = session.execute(
        select(
            func.count().filter(s.on_time_class.in_(("early", "on_time"))),
            func.count().filter(s.on_time_class.is_not(None)),
        ).where(s.tenant_id == tenant_id, s.handed_over_at >= start, s.handed_over_at < end)
    ).one()
    return int(row[0]), int(row[1])


def _published(session: Session, tenant_id: int, period: Period) -> tuple[int, int]:
    """(procedures of the period's dossiers active in the city index, procedures of the period's dossiers)."""
    used = set(
        session.scalars(
            select(ReportDossier.procedure_id)
            .where(
                ReportDossier.tenant_id == tenant_id,
                ReportDossier.received_day.between(period.start, period.end),
                ReportDossier.procedure_id.is_not(None),
            )
            .distinct()
        )
    )
    if not used:
        return 0, 0
    active = set(
        session.scalars(
            select(ProcedureIndex.procedure_id).where(
                ProcedureIndex.tenant_id == tenant_id,
                ProcedureIndex.procedure_id.in_(used),
                ProcedureIndex.is_active,
            )
        )
    )
    return len(active), len(used)


def _petitions(tenant_session: Session, period: Period) -> tuple[int, int]:
    """(petitions due in the period answered by their due date, petitions due in the period)."""
    from app.feedback.models import Answer, Question

    start, end = period_bounds(period)
    first_answer = (
        select(func.min(Answer.answered_at)).where(Answer.question_id == Question.id).scalar_subquery()
    )
    rows = tenant_session.execute(
        select(Question.due_at, first_answer).where(
            Question.kind == "petition", Question.due_at >= start, Question.due_at < end
        )
    ).all()
    return sum(1 for due, answered in rows if answered is not None and answered <= due), len(rows)


def assessment_sheet(
    platform_session: Session, tenant_id: int, period: Period, tenant_session: Session | None = None
) -> Sheet:
    """The unit's sheet for the period; indicator 8 only with the unit's own ``tenant_session``."""
    c = _dossier_counts(platform_session, tenant_id, period)
    steps_in_time, steps_classified = _step_counts(platform_session, tenant_id, period)
    published, used = _published(platform_session, tenant_id, period)
    petitions = _petitions(tenant_session, period) if tenant_session is not None else (None, None)
    facts: dict[int, tuple[int | None, int | None]] = {
        1: (c["in_time"], c["resolved"]),
        2: (steps_in_time, steps_classified),
        3: (c["no_supplement"], c["resolved"]),
        4: (c["received"], c["received"]),
        5: (c["returned"], c["resolved"]),
        6: (published, used),
        7: (c["satisfied"], c["rated"]),
        8: petitions,
        9: (c["online"], c["received"]),
    }
    sheet = Sheet(tenant_id, period)
    for number, (name_vi, name_en, rule_vi, rule_en) in RULES.items():
        numerator, denominator = facts[number]
        # Indicator 4 is structural: the store only holds dossiers taken in at the unit's one entry point.
        points = (2 if denominator else None) if number == 4 else points_for(number, numerator, denominator)
        sheet.indicators.append(
            Indicator(number, name_vi, name_en, rule_vi, rule_en, numerator, denominator, points)
        )
    return sheet
