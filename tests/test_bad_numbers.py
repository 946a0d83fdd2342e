"""Numbers a person can type but the database cannot hold: a clear 4xx, never a crash."""

from __future__ import annotations

import pytest

from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import login


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/procedures/99999999999999999999",
        "/backoffice/dossiers/99999999999999999999",
        "/backoffice/dossiers/queue?page=²",
        "/backoffice/dossiers/queue?page=99999999999999999999",
        "/backoffice/dossiers/intake?procedure_id=²",
        "/backoffice/dossiers/intake?procedure_id=99999999999999999999",
        "/backoffice/dossiers/queue?procedure_id=99999999999999999999",
        "/api/v1/dossiers?procedure_id=99999999999999999999",
        "/api/v1/dossiers?page=99999999999999999999",
    ],
)
def test_huge_or_odd_numbers_are_4xx(client_for, unit, path):
    client = client_for(unit.tenant)
    assert login(client, unit.accounts["counter"].email).status_code == 302
    response = client.get(path)
    assert 400 <= response.status_code < 500 or response.status_code in (200, 302), response.status_code
    assert response.status_code != 500


def test_an_overlong_applicant_field_is_422_with_a_message(client_for, unit):
    client = client_for(unit.tenant)
    assert login(client, unit.accounts["counter"].email).status_code == 302
    page = client.get(f"/backoffice/dossiers/intake?procedure_id={unit.procedure_id}")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/backoffice/dossiers/intake",
        data={
            "csrf_token": csrf,
            "procedure_id": str(unit.procedure_id),
            "applicant_name": "Nguyễn Văn A",
            "delegate_phone": "0" * 40,
            "applicant_email": "a" * 300 + "@example.vn",
            f"component_{unit.components[0]}": "on",
            f"component_{unit.components[1]}": "on",
            "result_delivery": "counter",
        },
    )
    assert response.status_code == 422
