"""The OpenAPI document and the interactive docs (served from our own host), and the one JSON error shape."""

from __future__ import annotations

import re

import pytest

from app.auth import api_tokens
from app.dossiers.status import TRANSITIONS
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit

ERROR_KEYS = {"code", "status", "message", "message_vi", "message_en"}


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture
def api(client_for, unit):
    return client_for(unit.tenant)


def test_openapi_lists_the_paths(api):
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/procedures/",
        "/api/v1/procedures/{procedure_id}",
        "/api/v1/procedures/{procedure_id}/processes",
        "/api/v1/processes/versions/{version_id}/steps",
        "/api/v1/processes/versions/{version_id}/publish",
        "/api/v1/dossiers",
        "/api/v1/dossiers/{dossier_id}",
        "/api/v1/dossiers/{dossier_id}/history",
        "/api/v1/dossiers/{dossier_id}/submit",
        "/api/v1/dossiers/{dossier_id}/files",
        "/api/v1/dossiers/{dossier_id}/files/{file_id}",
        "/api/v1/dossiers/{dossier_id}/forms",
        "/api/v1/dossiers/{dossier_id}/forms/{form_id}.pdf",
        "/api/v1/dossiers/{dossier_id}/tracking-slip.pdf",
        "/api/v1/logbook",
    ):
        assert path in paths, path
    for action in set(TRANSITIONS) - {"submit"} | {"claim"}:
        operation = paths[f"/api/v1/dossiers/{{dossier_id}}/actions/{action}"]["post"]
        assert {"412", "428"} <= set(operation["responses"]), action
    assert set(paths["/api/v1/dossiers"]) >= {"get", "post"}
    assert paths["/api/v1/procedures/{procedure_id}"]["patch"]["requestBody"]
    assert (
        "multipart/form-data"
        in paths["/api/v1/dossiers/{dossier_id}/files"]["post"]["requestBody"]["content"]
    )
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"message_vi", "message_en", "errors"} <= set(spec["components"]["schemas"]["Error"]["properties"])


def test_docs_page_loads_its_assets_from_our_host(api):
    page = api.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css"} <= set(assets)
    assert not re.search(r"https?://", html), "the docs page must not load anything from another host"
    assert '"/api/openapi.json"' in html
    for asset in assets:
        response = api.get(asset)
        assert response.status_code == 200, asset
        assert len(response.data) > 1000
    assert api.get("/api/docs/assets/swagger-ui-bundle.js").mimetype in (
        "text/javascript",
        "application/javascript",
    )
    missing = api.get("/api/docs/assets/index.html")
    assert missing.status_code == 404 and set(missing.get_json()) >= ERROR_KEYS
    assert api.get("/api/docs/assets/../__init__.py").status_code == 404


def _token(unit, who, scopes):
    with unit.session() as session, session.begin():
        _, plaintext = api_tokens.create_token(
            session, name="thử", scopes=scopes, account_id=unit.accounts[who].id
        )
    return {"Authorization": f"Bearer {plaintext}"}


def test_every_error_in_one_shape(api, unit):
    counter = _token(unit, "counter", ["dossiers:read", "dossiers:write"])
    created = api.post(
        "/api/v1/dossiers",
        json={
            "procedure_id": unit.procedure_id,
            "applicant": {"name": "Trần Văn Bình"},
            "components": [{"component_id": c} for c in unit.components[:2]],
        },
        headers=counter,
    )
    assert created.status_code == 201, created.text
    url, etag = f"/api/v1/dossiers/{created.get_json()['id']}", created.headers["ETag"]
    cases = {
        401: api.get("/api/v1/dossiers"),
        403: api.get("/api/v1/dossiers", headers=_token(unit, "counter", ["catalog:read"])),
        404: api.get("/api/v1/dossiers/987654", headers=counter),
        405: api.put("/api/v1/dossiers", headers=counter),
        409: api.post(f"{url}/actions/complete", json={}, headers={**counter, "If-Match": etag}),
        412: api.post(f"{url}/actions/transfer", json={}, headers={**counter, "If-Match": 'W/"999"'}),
        422: api.get("/api/v1/dossiers?status=99", headers=counter),
        428: api.post(f"{url}/actions/transfer", json={}, headers=counter),
    }
    for status, response in cases.items():
        assert response.status_code == status, (status, response.text)
        body = response.get_json()
        assert set(body) >= ERROR_KEYS, (status, body)
        assert body["code"] == status and body["message_vi"] and body["message_en"], body
        assert body["message"] == body["message_vi"]  # Vietnamese first
    assert "status" in cases[422].get_json()["errors"]["query"]
    assert cases[409].get_json()["errors"]["allowed"] == ["transfer", "withdraw"]
    english = api.get("/api/v1/dossiers/987654?lang=en", headers=counter).get_json()
    assert english["message"] == english["message_en"]
