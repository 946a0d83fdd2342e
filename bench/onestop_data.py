"""Data for the one-stop benchmark: a unit shaped like tests/dossier_fixtures.build_unit, loaded in bulk.

The unit (divisions, officials, a procedure with components and a published process) is
built through the services, like the tests do. The 100,000 dossiers are bulk data: COPY
for the dossiers, INSERT … SELECT for their actions, components and form 01. Only the
measured intake goes through ``receive_at_counter``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from psycopg import sql

from app.auth import actions as accounts
from app.auth import roles as r
from app.calendar.workcal import VN_TZ
from app.dossiers.codes import format_code
from app.officials.models import OfficialAssignment
from app.processes.services import steps_of
from tests.dossier_fixtures import OneStopUnit, build_unit

# Peer's status weights (received 10 / processing 35 / supplement 5 / finished 20 /
# returned 25 / rejected 5) in our codes: 2 / 4 / 5 / 9 / 10 / 8 (stopped, refused).
STATUS_WEIGHTS = ((2, 10), (4, 35), (5, 5), (9, 20), (10, 25), (8, 5))
OPEN_STATUSES = (2, 4, 5, 9)
DAYS_OF_HISTORY = 180  # closed dossiers received over the last 180 days
OPEN_WITHIN_DAYS = 30  # open ones over the last 30 days (status 2: the last 3)
# Extra officials besides build_unit's STAFF (who hold the named dossiers).
EXTRA_CASE_OFFICERS = 20
EXTRA_COUNTERS = 2
EXTRA_HEADS_OF_DIVISION = 2
# Who holds an open dossier at a step (None = pooled by role): weights.
APPRAISE_HOLDERS = (("pool", 70), ("officer2", 12), ("officer", 3), ("case_extra", 15))
REVIEW_HOLDERS = (("pool", 80), ("head_div", 10), ("head_div_extra", 10))
SIGN_HOLDERS = (("pool", 90), ("head", 10))
DOSSIER_COLUMNS = (
    "code",
    "procedure_id",
    "process_version_id",
    "current_step_id",
    "current_division_id",
    "current_account_id",
    "current_role",
    "current_step_started_at",
    "current_step_due_at",
    "applicant_type",
    "applicant_id_type",
    "applicant_id_number",
    "applicant_name",
    "applicant_phone",
    "search_text",
    "channel",
    "result_delivery",
    "service_level",
    "number_of_sets",
    "status",
    "stop_reason",
    "submitted_at",
    "received_at",
    "received_by_account_id",
    "due_at",
    "due_at_original",
    "completed_at",
    "returned_at",
    "created_at",
    "updated_at",
)
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ")
GIVEN = ("Văn An", "Thị Bình", "Minh Châu", "Quốc Dũng", "Thị Hương", "Văn Hùng", "Thu Lan", "Đức Long")
SEARCH_FAMILY = ("nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do")
SEARCH_GIVEN = (
    "van an",
    "thi binh",
    "minh chau",
    "quoc dung",
    "thi huong",
    "van hung",
    "thu lan",
    "duc long",
)


@dataclass
class LoadedUnit:
    unit: OneStopUnit
    staff: dict[str, list[int]] = field(default_factory=dict)  # group -> account ids
    dossiers: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    held_by: dict[str, int] = field(default_factory=dict)  # STAFF name -> open dossiers held
    actions: int = 0
    components: int = 0
    forms: int = 0
    days_with_codes: int = 0


def build_loaded_unit(platform, tenant) -> LoadedUnit:
    """build_unit's shape on ``tenant`` plus a few more officials, so the named dossiers are spread out."""
    unit = build_unit(platform, lambda kind: tenant, time_value="5")
    loaded = LoadedUnit(unit)
    extra = (
        ("case_extra", EXTRA_CASE_OFFICERS, [r.CASE_OFFICER], "specialised"),
        ("counter_extra", EXTRA_COUNTERS, [r.COUNTER_OFFICER], "one_stop"),
        ("head_div_extra", EXTRA_HEADS_OF_DIVISION, [r.HEAD_OF_DIVISION], "specialised"),
    )
    for group, count, roles, division in extra:
        ids = []
        with platform.shards.platform_session() as session, session.begin():
            for n in range(count):
                account = accounts.create_account(
                    session, email=f"bench-{group}-{n}@example.vn", full_name=f"Cán bộ {group} {n}"
                )
                accounts.grant_membership(session, account, tenant, roles)
                ids.append(account.id)
        with unit.session() as session, session.begin():
            for account_id in ids:
                session.add(
                    OfficialAssignment(
                        account_id=account_id, division_id=unit.divisions[division], roles=roles
                    )
                )
        loaded.staff[group] = ids
    for name, account in unit.accounts.items():
        loaded.staff[name] = [account.id]
    return loaded


def _pick(rng: random.Random, weighted) -> object:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _holder(rng: random.Random, loaded: LoadedUnit, weighted) -> tuple[str | None, int | None]:
    group = _pick(rng, weighted)
    if group == "pool":
        return None, None
    return group, rng.choice(loaded.staff[group])


def dossier_rows(loaded: LoadedUnit, count: int, today: date, seed: int = 20261127) -> list[tuple]:
    """``count`` dossiers, deterministic; open ones sit at a step that matches their status."""
    rng = random.Random(seed)
    unit = loaded.unit
    with unit.session() as session:
        steps = {step.kind: step for step in steps_of(session, unit.version_id)}
    midnight = datetime.combine(today, datetime.min.time(), VN_TZ)
    counters = loaded.staff["counter"] + loaded.staff["counter_extra"]
    drafts = []
    for _ in range(count):
        status = _pick(rng, STATUS_WEIGHTS)
        within = 3 if status == 2 else (OPEN_WITHIN_DAYS if status in OPEN_STATUSES else DAYS_OF_HISTORY)
        # Office hours 07:30-17:00 local, on a day before today.
        day = midnight - timedelta(days=rng.randint(1, within))
        received = day + timedelta(minutes=rng.randint(450, 1020))
        drafts.append((received, status))
    drafts.sort()
    rows, seq, last_day = [], 0, None
    for received, status in drafts:
        local_day = received.astimezone(VN_TZ).date()
        seq = seq + 1 if local_day == last_day else 1
        last_day = local_day
        loaded.days_with_codes += seq == 1
        rows.append(
            _row(
                loaded,
                rng,
                steps,
                counters,
                received,
                status,
                format_code(unit.tenant.unit_code, local_day, seq),
            )
        )
        loaded.by_status[status] = loaded.by_status.get(status, 0) + 1
    loaded.dossiers = len(rows)
    return rows


def _row(loaded, rng, steps, counters, received: datetime, status: int, code: str) -> tuple:
    unit = loaded.unit
    receiver = rng.choice(counters)
    due = received + timedelta(days=7)  # 5 working days, about a calendar week
    step, holder, holder_id = None, None, None
    started = step_due = completed = returned = None
    stop_reason = None
    if status == 2:
        step, holder_id = steps["start"], receiver
        holder = "counter" if receiver in loaded.staff["counter"] else "counter_extra"
    elif status in (4, 5):
        kind = "task" if status == 5 else _pick(rng, (("task", 70), ("approval", 20), ("signing", 10)))
        step = steps[kind]
        holders = {"task": APPRAISE_HOLDERS, "approval": REVIEW_HOLDERS, "signing": SIGN_HOLDERS}[kind]
        holder, holder_id = _holder(rng, loaded, holders)
    elif status == 9:
        step = steps["return"]
        completed = received + timedelta(hours=rng.randint(24, 160))
    else:
        step = steps["end"] if status == 10 else steps["task"]
        completed = received + timedelta(hours=rng.randint(24, 160))
        returned = completed + timedelta(hours=rng.randint(1, 72)) if status == 10 else None
        stop_reason = "refused" if status == 8 else None
    if status in OPEN_STATUSES:
        started = received + timedelta(hours=rng.randint(0, 72)) if status != 2 else received
        step_due = started + timedelta(hours=float(step.duration_hours) * 3, minutes=rng.randint(0, 59))
        if holder is not None:
            loaded.held_by[holder] = loaded.held_by.get(holder, 0) + 1
    family, given = rng.randrange(len(FAMILY)), rng.randrange(len(GIVEN))
    name = f"{FAMILY[family]} {GIVEN[given]}"
    phone = f"09{rng.randrange(10**8):08d}"
    id_number = f"0{rng.randrange(10**11):011d}"
    search = f"{code.lower()} {SEARCH_FAMILY[family]} {SEARCH_GIVEN[given]} {phone} {id_number}"
    channel = _pick(rng, ((1, 60), (2, 38), (3, 2)))
    return (
        code,
        unit.procedure_id,
        unit.version_id,
        step.id,
        step.division_id,
        holder_id,
        step.role if status in OPEN_STATUSES else None,
        started,
        step_due,
        "citizen",
        "cccd",
        id_number,
        name,
        phone,
        search,
        channel,
        "counter" if channel == 1 else "online",
        3,
        1,
        status,
        stop_reason,
        received,
        received,
        receiver,
        due,
        due,
        completed,
        returned,
        received,
        returned or completed or started or received,
    )


def bulk_load(loaded: LoadedUnit, rows: list[tuple]) -> None:
    """COPY the dossiers, then derive ~5 actions, the components and form 01 of each in SQL."""
    unit = loaded.unit
    schema = sql.Identifier(unit.tenant.schema_name)
    with unit.session() as session, session.begin():
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cur:
            copy = sql.SQL("COPY {}.dossiers ({}) FROM STDIN").format(
                schema, sql.SQL(", ").join(map(sql.Identifier, DOSSIER_COLUMNS))
            )
            with cur.copy(copy) as writer:
                for row in rows:
                    writer.write_row(row)
            cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
            # 3-7 actions per dossier (5 on average), an hour or more apart.
            cur.execute(
                """
                INSERT INTO dossier_actions (dossier_id, step_id, action, actor_account_id, role, division_id,
                                             from_status, to_status, at, step_due_at, on_time_class)
                SELECT d.id, d.current_step_id,
                       (ARRAY['receive','transfer','forward','forward','complete','return_result','note'])[g],
                       d.received_by_account_id, 'counter_officer', d.current_division_id,
                       CASE WHEN g = 1 THEN NULL ELSE 4 END, CASE WHEN g = 1 THEN 2 ELSE 4 END,
                       d.received_at + make_interval(hours => g * (1 + d.id::int % 9)),
                       d.received_at + make_interval(hours => g * 8),
                       (ARRAY['early','on_time','late'])[1 + (d.id::int + g) % 3]
                FROM dossiers d CROSS JOIN LATERAL generate_series(1, 3 + (d.id::int % 5)) AS g
                """
            )
            loaded.actions = cur.rowcount
            cur.execute(
                """
                INSERT INTO dossier_components (dossier_id, procedure_component_id, code, name,
                                                original_or_copy, quantity, is_received)
                SELECT d.id, c.id, c.code, c.name, c.original_or_copy, 1, true
                FROM dossiers d JOIN procedure_components c ON c.procedure_id = d.procedure_id
                WHERE c.is_mandatory
                """
            )
            loaded.components = cur.rowcount
            cur.execute(
                """
                INSERT INTO form_documents (dossier_id, form_set, form_no, number, payload, issued_at,
                                            issued_by_account_id)
                SELECT d.id, '2018', '01', d.code,
                       jsonb_build_object('dossier_code', d.code, 'applicant_name', d.applicant_name,
                                          'received_at', d.received_at, 'due_at', d.due_at),
                       d.received_at, d.received_by_account_id
                FROM dossiers d
                """
            )
            loaded.forms = cur.rowcount
            # The code counters, so a later intake on one of these days would continue the sequence.
            cur.execute(
                """
                INSERT INTO dossier_code_counters (day, last_seq)
                SELECT (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, count(*)
                FROM dossiers GROUP BY 1
                """
            )
