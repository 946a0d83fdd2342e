"""The demo's one-stop side of a unit: divisions, a published process per procedure, staff, dossiers.

Idempotent like the rest of the demo: what exists is left alone, so a second run
writes nothing and an interrupted run finishes the rest.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import any_, func, select
from sqlalchemy.orm import Session

from app.auth.demo import STAFF, counter_officer_email, staff_email
from app.auth.models import Account
from app.auth.roles import COUNTER_OFFICER
from app.calendar.workcal import VN_TZ, load_calendar
from app.catalog.models import Procedure, ProcedureCase, ProcedureComponent
from app.dossiers import actions, intake
from app.dossiers.desk import Actor, Desk
from app.dossiers.models import Dossier
from app.officials.models import Division, OfficialAssignment
from app.processes import services as processes
from tenants.resolution import TenantRef

DIVISIONS = (
    ("MOTCUA", "Bộ phận Tiếp nhận và Trả kết quả", "one_stop"),
    ("CHUYENMON", "Phòng chuyên môn", "specialised"),
    ("LANHDAO", "Lãnh đạo đơn vị", "leadership"),
)
# Where each member of the demo staff sits.
PLACES = {COUNTER_OFFICER: "MOTCUA", "fee_collector": "MOTCUA", "records_clerk": "MOTCUA"}
APPLICANTS = (
    ("Nguyễn Thị Hương", "0912345678"),
    ("Trần Văn Minh", "0987654321"),
    ("Lê Thị Lan", "0904112233"),
    ("Phạm Quốc Bảo", "0936778899"),
    ("Vũ Thị Mai", "0978123456"),
    ("Hoàng Văn Nam", "0945667788"),
)


def ensure_divisions(session: Session) -> dict[str, int]:
    existing = dict(session.execute(select(Division.code, Division.id)).all())
    for order, (code, name, kind) in enumerate(DIVISIONS):
        if code not in existing:
            division = Division(code=code, name=name, kind=kind, sort_order=order)
            session.add(division)
            session.flush()
            existing[code] = division.id
    return existing


def seed_processes(session: Session) -> int:
    """A published standard process for every procedure (and case with its own time) that has none."""
    divisions = ensure_divisions(session)
    created = 0
    for procedure in session.scalars(select(Procedure).order_by(Procedure.id)):
        cases = session.scalars(
            select(ProcedureCase).where(
                ProcedureCase.procedure_id == procedure.id, ProcedureCase.time_value.isnot(None)
            )
        ).all()
        for case in (None, *cases):
            if processes.find_template(session, procedure.id, case.id if case else None) is not None:
                continue
            value, unit = (case.time_value, case.time_unit or procedure.time_unit) if case else (None, None)
            legal = processes.legal_hours(value or procedure.time_value, unit or procedure.time_unit)
            if procedure.online_time_value is not None and not case:
                legal = min(legal, processes.legal_hours(procedure.online_time_value, procedure.time_unit))
            name = f"Quy trình nội bộ: {procedure.name}" + (f" ({case.name})" if case else "")
            template = processes.create_template(
                session, procedure.id, case_id=case.id if case else None, name=name[:250]
            )
            draft = processes.new_draft(session, template.id)
            steps, links = processes.standard_steps(
                legal,
                one_stop_division_id=divisions["MOTCUA"],
                specialised_division_id=divisions["CHUYENMON"],
            )
            processes.set_steps(session, draft.id, steps, links)
            processes.publish(session, draft.id)
            created += 1
    return created


def place_staff(platform_session: Session, session: Session, slug: str) -> dict[str, Account]:
    """Seat the featured unit's demo staff in its divisions; returns role -> account."""
    divisions = ensure_divisions(session)
    people: dict[str, Account] = {}
    mailboxes = {COUNTER_OFFICER: counter_officer_email(slug)} | {
        role: staff_email(mailbox, slug) for mailbox, (role, _) in STAFF.items()
    }
    for role, email in mailboxes.items():
        account = platform_session.scalar(select(Account).where(Account.email == email))
        if account is None:
            continue
        people[role] = account
        division = divisions[PLACES.get(role, "CHUYENMON" if role != "head_of_unit" else "LANHDAO")]
        placed = session.scalar(
            select(OfficialAssignment).where(
                OfficialAssignment.account_id == account.id, OfficialAssignment.division_id == division
            )
        )
        if placed is None:
            session.add(OfficialAssignment(account_id=account.id, division_id=division, roles=[role]))
    session.flush()
    return people


def seed_dossiers(session: Session, tenant: TenantRef, people: dict[str, Account], *, count: int = 12) -> int:
    """Dossiers received over the last working days, left at different stages, for the demo to show."""
    if session.scalar(select(func.count()).select_from(Dossier)) or COUNTER_OFFICER not in people:
        return 0
    procedures = session.scalars(
        select(Procedure).where(Procedure.is_active, any_(Procedure.channels) == 1)
    ).all()
    if not procedures:
        return 0
    chance = random.Random(tenant.slug)  # the same demo every time for a unit
    calendar = load_calendar(session)
    now = datetime.now(VN_TZ)
    actor = {role: Actor.official(a.id, [role], a.full_name) for role, a in people.items()}
    days, day = [], now.date() - timedelta(days=1)
    while len(days) < 6:  # the last six working days
        if calendar.is_working_day(day):
            days.append(day)
        day -= timedelta(days=1)
    for number in range(count):
        at = datetime.combine(days[number % len(days)], time(7 + number % 9, 15), VN_TZ)
        procedure = chance.choice(procedures)
        applicant = APPLICANTS[number % len(APPLICANTS)]
        _receive_and_progress(session, tenant, procedure, chance, at, now, actor, applicant)
    return count


def _receive_and_progress(session, tenant, procedure, chance, at, now, actor, applicant) -> None:
    components = session.scalars(
        select(ProcedureComponent).where(
            ProcedureComponent.procedure_id == procedure.id, ProcedureComponent.case_id.is_(None)
        )
    ).all()
    name, phone = applicant
    desk = Desk(session, tenant, now=at)
    dossier = intake.receive_at_counter(
        desk,
        actor[COUNTER_OFFICER],
        intake.Intake(
            procedure_id=procedure.id,
            applicant=intake.Applicant(name=name, phone=phone),
            components={c.id: c.quantity for c in components},
            result_delivery="counter"
            if "counter" in procedure.result_delivery
            else procedure.result_delivery[0],
        ),
    )
    # Walk it some way along its process: the rest waits in the queues.
    path = [("transfer", COUNTER_OFFICER), ("forward", "case_officer"), ("forward", "head_of_division")]
    path += [("complete", "head_of_unit"), ("return_result", COUNTER_OFFICER)]
    for action, role in path[: chance.randint(0, len(path))]:
        if role not in actor:
            break
        at = min(at + timedelta(minutes=chance.randint(20, 90)), now)
        getattr(actions, action)(Desk(session, tenant, now=at), actor[role], dossier)
