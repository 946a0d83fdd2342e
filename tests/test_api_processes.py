"""The internal-process API: templates, versions, drafts, steps, publishing (422 with the problems)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth import api_tokens
from app.catalog.models import Procedure, Sector
from app.processes import services
from app.processes.models import ProcessVersion
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import make_account

ERROR_KEYS = {"code", "status", "message", "message_vi", "message_en"}


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture
def api(client_for, unit):
    return client_for(unit.tenant)


def bearer(unit, who: str, scopes=("processes:write",)) -> dict:
    with unit.session() as session, session.begin():
        _, plaintext = api_tokens.create_token(
            session, name="thử", scopes=scopes, account_id=unit.accounts[who].id
        )
    return {"Authorization": f"Bearer {plaintext}"}


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert set(body) >= ERROR_KEYS and body["code"] == status
    return body


def steps_body(unit, total_hours: Decimal = Decimal(24)) -> dict:
    steps, links = services.standard_steps(
        total_hours,
        one_stop_division_id=unit.divisions["one_stop"],
        specialised_division_id=unit.divisions["specialised"],
    )
    return {
        "steps": [
            {
                "key": s.key,
                "name": s.name,
                "kind": s.kind,
                "role": s.role,
                "duration_hours": str(s.duration_hours),
                "division_id": s.division_id,
                "sort_order": s.sort_order,
            }
            for s in steps
        ],
        "links": [{"from_key": link.from_key, "to_key": link.to_key} for link in links],
    }


def test_read_templates_and_a_published_version(api, unit):
    reader = bearer(unit, "officer", ("catalog:read",))
    templates = api.get(f"/api/v1/procedures/{unit.procedure_id}/processes", headers=reader)
    assert templates.status_code == 200, templates.text
    [template] = templates.get_json()
    assert template["case_id"] is None
    published = [v for v in template["versions"] if v["status"] == "published"]
    assert [v["id"] for v in published] == [unit.version_id]
    version = api.get(f"/api/v1/processes/versions/{unit.version_id}", headers=reader).get_json()
    assert [s["key"] for s in version["steps"]] == ["receive", "appraise", "review", "sign", "return", "end"]
    assert {"from_key": "receive", "to_key": "appraise", "condition": "default", "label": None} in version[
        "links"
    ]
    assert version["problems"] == [] and version["total_budget_hours"] == "24.00"
    assert api.get(f"/api/v1/processes/{template['id']}", headers=reader).get_json()["id"] == template["id"]
    no_scope = bearer(unit, "officer", ("dossiers:read",))
    assert (
        "catalog:read"
        in assert_error(api.get(f"/api/v1/processes/versions/{unit.version_id}", headers=no_scope), 403)[
            "message_en"
        ]
    )
    assert_error(api.get("/api/v1/procedures/987654/processes", headers=reader), 404)
    assert_error(api.get("/api/v1/processes/versions/987654", headers=reader), 404)


def test_draft_steps_publish(api, unit):
    admin = bearer(unit, "admin")
    [template] = api.get(f"/api/v1/procedures/{unit.procedure_id}/processes", headers=admin).get_json()
    draft = api.post(f"/api/v1/processes/{template['id']}/drafts", json={}, headers=admin)
    assert draft.status_code == 201, draft.text
    draft = draft.get_json()
    assert draft["status"] == "draft" and len(draft["steps"]) == 6  # copied from the published version
    again = api.post(f"/api/v1/processes/{template['id']}/drafts", json={}, headers=admin)
    assert "already has a draft" in assert_error(again, 409)["message_en"]

    # Structural problems are refused at once, and nothing changes.
    broken = steps_body(unit)
    broken["steps"][1]["role"] = "wizard"
    refused = assert_error(
        api.put(f"/api/v1/processes/versions/{draft['id']}/steps", json=broken, headers=admin), 422
    )
    assert [p["code"] for p in refused["errors"]["problems"]] == ["unknown_role"]
    typed = api.put(
        f"/api/v1/processes/versions/{draft['id']}/steps", json={"steps": [{"key": 1}]}, headers=admin
    )
    assert "steps" in assert_error(typed, 422)["errors"]["json"]

    # Over the legal time: saved as a draft, but publishing lists why not.
    over = steps_body(unit, Decimal(40))
    saved = api.put(f"/api/v1/processes/versions/{draft['id']}/steps", json=over, headers=admin)
    assert saved.status_code == 200, saved.text
    assert [p["code"] for p in saved.get_json()["problems"]] == ["over_budget"]
    publish = api.post(f"/api/v1/processes/versions/{draft['id']}/publish", headers=admin)
    body = assert_error(publish, 422)
    assert [p["code"] for p in body["errors"]["problems"]] == ["over_budget"]
    assert body["errors"]["problems"][0]["vi"] and body["errors"]["problems"][0]["en"]

    fixed = api.put(f"/api/v1/processes/versions/{draft['id']}/steps", json=steps_body(unit), headers=admin)
    assert fixed.get_json()["problems"] == []
    published = api.post(f"/api/v1/processes/versions/{draft['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    assert published.get_json()["status"] == "published" and published.get_json()["published_at"]
    with unit.session() as session:
        assert session.get(ProcessVersion, unit.version_id).status == "retired"
        unit.version_id = draft["id"]
    frozen = api.put(f"/api/v1/processes/versions/{draft['id']}/steps", json=steps_body(unit), headers=admin)
    assert "cannot be changed" in assert_error(frozen, 409)["message_en"]
    assert_error(api.post(f"/api/v1/processes/versions/{draft['id']}/publish", headers=admin), 409)


def test_new_template_for_another_procedure(api, unit):
    with unit.session() as session, session.begin():
        sector = session.scalar(select(Sector))
        procedure = Procedure(
            code="1.000894",
            name="Đăng ký khai sinh",
            sector_id=sector.id,
            service_level=3,
            time_value=Decimal(1),
            time_unit="working_days",
            channels=[1, 2],
            result_delivery=["counter"],
        )
        session.add(procedure)
        session.flush()
        procedure_id = procedure.id
    admin = bearer(unit, "admin")
    url = f"/api/v1/procedures/{procedure_id}/processes"
    created = api.post(url, json={"name": "Quy trình khai sinh", "code": "QT-HT-02"}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.get_json()["versions"] == [] and created.get_json()["code"] == "QT-HT-02"
    assert_error(api.post(url, json={"name": "Lần nữa"}, headers=admin), 409)
    assert_error(api.post(url, json={"name": "Trường hợp lạ", "case_id": 987654}, headers=admin), 404)
    assert_error(api.post("/api/v1/procedures/987654/processes", json={"name": "x"}, headers=admin), 404)
    draft = api.post(
        f"/api/v1/processes/{created.get_json()['id']}/drafts", json={}, headers=admin
    ).get_json()
    assert draft["version"] == 1 and draft["steps"] == []
    empty = api.post(f"/api/v1/processes/versions/{draft['id']}/publish", headers=admin)
    assert "start_count" in [p["code"] for p in assert_error(empty, 422)["errors"]["problems"]]


def test_writes_need_the_scope_and_the_admin_role(api, unit):
    [template] = api.get(
        f"/api/v1/procedures/{unit.procedure_id}/processes", headers=bearer(unit, "admin")
    ).get_json()
    reader = bearer(unit, "admin", ("catalog:read",))
    url = f"/api/v1/processes/{template['id']}/drafts"
    assert "processes:write" in assert_error(api.post(url, json={}, headers=reader), 403)["message_en"]
    officer = bearer(unit, "officer")
    assert "unit administrator" in assert_error(api.post(url, json={}, headers=officer), 403)["message_en"]
    assert_error(api.post(url, json={}), 401)


def test_units_stay_apart(api, unit, client_for, make_tenant, platform):
    other = make_tenant("district")
    account = make_account(platform, memberships=[(other, ["unit_admin"])])
    with platform.shards.tenant_session(other.shard, other.schema_name) as session, session.begin():
        _, plaintext = api_tokens.create_token(
            session, name="B", scopes=["processes:write"], account_id=account.id
        )
    theirs = {"Authorization": f"Bearer {plaintext}"}
    stranger = client_for(other)
    [template] = api.get(
        f"/api/v1/procedures/{unit.procedure_id}/processes", headers=bearer(unit, "admin")
    ).get_json()
    assert_error(stranger.get(f"/api/v1/procedures/{unit.procedure_id}/processes", headers=theirs), 404)
    assert_error(stranger.get(f"/api/v1/processes/{template['id']}", headers=theirs), 404)
    assert_error(stranger.get(f"/api/v1/processes/versions/{unit.version_id}", headers=theirs), 404)
    assert_error(stranger.post(f"/api/v1/processes/{template['id']}/drafts", json={}, headers=theirs), 404)
    assert_error(
        stranger.put(
            f"/api/v1/processes/versions/{unit.version_id}/steps", json=steps_body(unit), headers=theirs
        ),
        404,
    )
    assert_error(stranger.post(f"/api/v1/processes/versions/{unit.version_id}/publish", headers=theirs), 404)
    assert_error(stranger.get(f"/api/v1/processes/{template['id']}", headers=bearer(unit, "admin")), 401)


def _own_draft(api, unit, admin) -> tuple[str, int]:
    """A new procedure's process template (URL) and its first draft's id."""
    with unit.session() as session, session.begin():
        procedure = Procedure(
            code="1.000999",
            name="Thủ tục thử giới hạn",
            sector_id=session.scalar(select(Sector.id)),
            service_level=2,
            time_value=Decimal(3),
            time_unit="working_days",
        )
        session.add(procedure)
        session.flush()
        url = f"/api/v1/procedures/{procedure.id}/processes"
    template = api.post(url, json={"name": "Quy trình thử"}, headers=admin).get_json()
    draft = api.post(f"/api/v1/processes/{template['id']}/drafts", json={}, headers=admin)
    assert draft.status_code == 201, draft.text
    return url, draft.get_json()["id"]


def _long_chain() -> dict:
    """Start, 101 tasks and the return step, each 9999.99 h: over a million hours on one path."""
    hours = "9999.99"
    steps = [
        {"key": "s", "name": "Tiếp nhận", "kind": "start", "role": "counter_officer", "duration_hours": hours}
    ]
    steps += [
        {"key": f"t{i}", "name": f"Bước {i}", "kind": "task", "role": "case_officer", "duration_hours": hours,
         "sort_order": i + 1}
        for i in range(101)
    ]  # fmt: skip
    steps.append(
        {"key": "r", "name": "Trả", "kind": "return", "role": "counter_officer", "duration_hours": "0",
         "sort_order": 500}
    )  # fmt: skip
    return {"steps": steps}


def test_what_the_columns_cannot_hold_is_refused_with_422(api, unit):
    admin = bearer(unit, "admin")
    url, draft_id = _own_draft(api, unit, admin)
    steps_url = f"/api/v1/processes/versions/{draft_id}/steps"
    good = steps_body(unit)
    assert api.put(steps_url, json=good, headers=admin).status_code == 200
    before = api.get(f"/api/v1/processes/versions/{draft_id}", headers=admin).get_json()

    def with_step(**changes) -> dict:
        body = {"steps": [dict(s) for s in good["steps"]], "links": good["links"]}
        body["steps"][1].update(changes)
        return body

    bodies = [
        with_step(name="x" * 256),
        with_step(key="k" * 41),
        with_step(sort_order=2**31),
        with_step(sort_order=-(2**31) - 1),
        with_step(account_ids=[2**63]),
        with_step(account_ids=[0]),
        with_step(partner_tenant_id=2**63),
        with_step(division_id=2**63),
        with_step(duration_hours="10000"),
        with_step(duration_hours="-1"),
        {**good, "links": [{**good["links"][0], "label": "x" * 256}, *good["links"][1:]]},
    ]
    for body in bodies:
        assert "json" in assert_error(api.put(steps_url, json=body, headers=admin), 422)["errors"], body
    too_long = assert_error(api.put(steps_url, json=_long_chain(), headers=admin), 422)
    assert [p["code"] for p in too_long["errors"]["problems"]] == ["path_too_long"]
    assert "1.000.000 giờ" in too_long["message_vi"] and "1,000,000 hours" in too_long["message_en"]
    assert api.get(f"/api/v1/processes/versions/{draft_id}", headers=admin).get_json() == before

    assert_error(api.post(url, json={"name": "Khác", "code": "Q" * 65}, headers=admin), 422)
    assert_error(api.post(url, json={"name": "Khác", "case_id": 2**63}, headers=admin), 422)
    [template] = api.get(url, headers=admin).get_json()
    drafts = f"/api/v1/processes/{template['id']}/drafts"
    assert_error(api.post(drafts, json={"copy_from_version_id": 2**63}, headers=admin), 422)
