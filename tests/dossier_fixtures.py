"""A unit ready to receive dossiers: divisions, officials with roles, a procedure and its published process.

Used by the dossier, back office, API and benchmark code (no tests here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from app.auth import roles as r
from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure, ProcedureComponent, Sector
from app.dossiers.desk import Actor, Desk
from app.dossiers.intake import Applicant, Intake
from app.officials.models import Division, OfficialAssignment
from app.processes import services as processes
from tenants.resolution import TenantRef
from tests.test_auth_support import make_account

# Who works in the unit: name -> (roles, division key).
STAFF = {
    "counter": ([r.COUNTER_OFFICER], "one_stop"),
    "officer": ([r.CASE_OFFICER], "specialised"),
    "officer2": ([r.CASE_OFFICER], "specialised"),
    "head_div": ([r.HEAD_OF_DIVISION], "specialised"),
    "head": ([r.HEAD_OF_UNIT], "leadership"),
    "fees": ([r.FEE_COLLECTOR], "one_stop"),
    "admin": ([r.UNIT_ADMIN], None),
}


@dataclass
class OneStopUnit:
    platform: object
    tenant: object
    accounts: dict = field(default_factory=dict)  # name -> Account
    divisions: dict = field(default_factory=dict)  # key -> id
    procedure_id: int = 0
    components: list[int] = field(default_factory=list)  # [mandatory, mandatory, optional]
    version_id: int = 0

    @property
    def ref(self) -> TenantRef:
        return TenantRef.of(self.tenant)

    def session(self):
        return self.platform.shards.tenant_session(self.tenant.shard, self.tenant.schema_name)

    def desk(self, session, now: datetime | None = None) -> Desk:
        return Desk(session, self.ref, now=now or datetime.now(VN_TZ), platform=self.platform)

    def actor(self, name: str) -> Actor:
        account = self.accounts[name]
        return Actor.official(account.id, STAFF[name][0], account.full_name)

    def intake(self, **overrides) -> Intake:
        values = dict(
            procedure_id=self.procedure_id,
            applicant=Applicant(
                name="Nguyễn Thị Hương", phone="0912345678", id_type="cccd", id_number="031190001234"
            ),
            components={self.components[0]: 1, self.components[1]: 1},
        )
        values.update(overrides)
        return Intake(**values)


def build_unit(
    platform, make_tenant, *, kind="commune", time_value="3", time_unit="working_days"
) -> OneStopUnit:
    tenant = make_tenant(kind)
    unit = OneStopUnit(platform, tenant)
    with unit.session() as session, session.begin():
        for key, name, kind_ in (
            ("one_stop", "Bộ phận một cửa", "one_stop"),
            ("specialised", "Phòng Tư pháp", "specialised"),
            ("leadership", "Lãnh đạo", "leadership"),
        ):
            division = Division(code=key, name=name, kind=kind_)
            session.add(division)
            session.flush()
            unit.divisions[key] = division.id
        sector = Sector(code="HT", name="Hộ tịch")
        session.add(sector)
        session.flush()
        procedure = Procedure(
            code="1.004873",
            name="Xác nhận tình trạng hôn nhân",
            name_search="xac nhan tinh trang hon nhan",
            sector_id=sector.id,
            service_level=3,
            time_value=Decimal(time_value),
            time_unit=time_unit,
            channels=[1, 2, 3],
            result_delivery=["counter", "online", "postal"],
        )
        session.add(procedure)
        session.flush()
        unit.procedure_id = procedure.id
        for order, (name, mandatory) in enumerate(
            (
                ("Tờ khai xác nhận tình trạng hôn nhân", True),
                ("Giấy tờ tùy thân", True),
                ("Giấy ủy quyền", False),
            )
        ):
            component = ProcedureComponent(
                procedure_id=procedure.id, name=name, is_mandatory=mandatory, sort_order=order
            )
            session.add(component)
            session.flush()
            unit.components.append(component.id)
        legal = processes.legal_hours(procedure.time_value, procedure.time_unit)
        template = processes.create_template(session, procedure.id, name="Quy trình xác nhận TTHN")
        draft = processes.new_draft(session, template.id)
        steps, links = processes.standard_steps(
            legal,
            one_stop_division_id=unit.divisions["one_stop"],
            specialised_division_id=unit.divisions["specialised"],
        )
        processes.set_steps(session, draft.id, steps, links)
        unit.version_id = processes.publish(session, draft.id).id
    for name, (roles, division) in STAFF.items():
        account = make_account(unit.platform, memberships=[(tenant, roles)])
        unit.accounts[name] = account
        if division is not None:
            with unit.session() as session, session.begin():
                session.add(
                    OfficialAssignment(
                        account_id=account.id, division_id=unit.divisions[division], roles=roles
                    )
                )
    return unit
