"""Every page and API route of a unit site, asked on unit B's host for unit A's rows, shows nothing of A.

A sweep over the URL map, so a route added later is covered without anyone
remembering to: B's official (every role) and B's token (every scope) call each
GET route with the ids of A's dossier, form, file, procedure, process, division…
and the answer must carry none of A's marker texts, and never be a crash.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime

import pytest
from openpyxl import load_workbook
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfReader
from sqlalchemy import select

from app.auth import api_tokens
from app.auth.roles import TENANT_ROLES
from app.calendar.workcal import VN_TZ
from app.catalog.models import Procedure
from app.core.sites import TENANT
from app.core.storage import get_storage
from app.dossiers import files, intake
from app.dossiers.models import FormDocument
from app.officials.models import Division
from app.processes.models import ProcessStep, ProcessTemplate
from app.themes.images import image_key
from app.themes.models import ThemeVersion
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import login, make_account
from tests.test_uploads import png_bytes

MARK = f"DONVI-A-{uuid.uuid4().hex[:8]}"
SKIP_PREFIXES = ("/static", "/healthz", "/readyz", "/api/docs/assets", "/backoffice/login")


@pytest.fixture(scope="module")
def units(app, platform, city):
    """Unit A with rows named after MARK; unit B with an official of every role and a token of every scope."""
    a = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    b = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    ids: dict[str, int] = {}
    with (
        app.test_request_context("/", base_url="http://a.localhost"),
        a.session() as session,
        session.begin(),
    ):
        procedure = session.get(Procedure, a.procedure_id)
        procedure.name = f"Thủ tục {MARK}"
        session.add(Division(code="A-ONLY", name=f"Phòng {MARK}", kind="specialised"))
        for template in session.scalars(select(ProcessTemplate)):
            template.name = f"Quy trình {MARK}"
        desk = a.desk(session, datetime(2019, 5, 6, 9, 0, tzinfo=VN_TZ))
        applicant = intake.Applicant(name=f"Người nộp {MARK}", phone="0912000111")
        dossier = intake.receive_at_counter(desk, a.actor("counter"), a.intake(applicant=applicant))
        stored = files.attach(desk, a.actor("counter"), dossier, f"{MARK}.png", png_bytes())
        theme_image = f"{uuid.uuid4().hex}.png"  # its bytes carry MARK, so serving it on B would show
        get_storage(app).put(image_key(a.tenant.slug, theme_image), marked_png(), "image/png")
        theme = ThemeVersion(theme="hien-dai", status="published", tokens={"unit_name_line": f"UB {MARK}"})
        session.add(theme)
        session.flush()
        token, _ = api_tokens.create_token(
            session, name=f"Khóa {MARK}", scopes=list(api_tokens.SCOPES), account_id=a.accounts["admin"].id
        )
        session.flush()
        ids.update(
            dossier_id=dossier.id,
            file_id=stored.id,
            form_id=session.scalar(select(FormDocument.id).where(FormDocument.dossier_id == dossier.id)),
            procedure_id=procedure.id,
            template_id=session.scalar(select(ProcessTemplate.id)),
            version_id=a.version_id,
            step_id=session.scalar(select(ProcessStep.id)),
            division_id=session.scalar(select(Division.id).where(Division.code == "A-ONLY")),
            token_id=token.id,
            account_id=a.accounts["officer"].id,
            name=theme_image,  # /giao-dien/anh/<name>: A's theme image
        )
    everyone = make_account(platform, memberships=[(b.tenant, list(TENANT_ROLES))])
    with b.session() as session, session.begin():
        _, plaintext = api_tokens.create_token(
            session, name="B", scopes=list(api_tokens.SCOPES), account_id=everyone.id
        )
    return a, b, ids, everyone, plaintext


def marked_png() -> bytes:
    info = PngInfo()
    info.add_text("Comment", MARK)
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def text_of(response) -> str:
    """What a person would read in the answer: PDF and Excel files are opened, not searched as bytes."""
    if response.mimetype == "application/pdf":
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    if response.mimetype.endswith("spreadsheetml.sheet"):
        sheet = load_workbook(io.BytesIO(response.data)).active
        return " ".join(str(cell.value) for row in sheet.iter_rows() for cell in row)
    return response.data.decode("utf-8", errors="replace")


def tenant_get_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.subdomain != TENANT or "GET" not in rule.methods:
            continue
        if rule.rule.startswith(SKIP_PREFIXES):
            continue
        yield rule


def url_for_rule(rule, ids: dict[str, int]) -> str:
    """The rule's path with A's ids in it (1 for an id this test has no row for)."""
    values = {name: ids.get(name, ids.get(name.removesuffix("_id") + "_id", 1)) for name in rule.arguments}
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
        path = path.replace(f"<string:{name}>", str(value)).replace(f"<path:{name}>", str(value))
    return path


def test_the_sweep_covers_the_one_stop_routes(app):
    paths = {rule.rule for rule in tenant_get_rules(app)}
    for expected in ("/backoffice/dossiers/<int:dossier_id>", "/api/v1/dossiers/<int:dossier_id>"):
        assert expected in paths
    assert len(paths) > 40


def test_b_official_sees_nothing_of_a_on_any_page(app, client_for, units):
    _, b, ids, everyone, _ = units
    client = client_for(b.tenant)
    assert login(client, everyone.email).status_code == 302
    checked = 0
    for rule in tenant_get_rules(app):
        if rule.rule.startswith("/api/"):
            continue
        path = url_for_rule(rule, ids)
        # "q" would find A's applicant ("Người nộp …") if a search looked outside B.
        response = client.get(path, query_string={"from": "2019-05-06", "to": "2019-05-06", "q": "nguoi nop"})
        assert response.status_code < 500, (path, response.status_code)
        assert MARK not in text_of(response), path
        checked += 1
    assert checked > 20


def test_b_token_sees_nothing_of_a_on_any_api_route(app, client_for, units):
    _, b, ids, _, plaintext = units
    client = client_for(b.tenant)
    headers = {"Authorization": f"Bearer {plaintext}"}
    checked = 0
    for rule in tenant_get_rules(app):
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = url_for_rule(rule, ids)
        response = client.get(path, headers=headers, query_string={"from": "2019-05-06", "to": "2019-05-06"})
        assert response.status_code < 500, (path, response.status_code)
        assert MARK not in text_of(response), path
        checked += 1
    assert checked > 10


def test_the_markers_are_visible_to_a_itself(client_for, units):
    """The sweep would pass vacuously if A's pages never showed the marker: they do, on A's host."""
    a, _, ids, _, _ = units
    client = client_for(a.tenant)
    assert login(client, a.accounts["counter"].email).status_code == 302
    page = client.get(f"/backoffice/dossiers/{ids['dossier_id']}")
    assert page.status_code == 200 and MARK in page.get_data(as_text=True)
