"""Unit portal procedures: list and filters, the level-1 page, ranked diacritics-free search, isolation."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.catalog.models import (
    FeeLine,
    LegalDocument,
    Procedure,
    ProcedureComponent,
    ProcedureLegalDocument,
    Sector,
)
from app.core.storage import get_storage, storage_key
from app.portal import procedures as queries
from app.processes import services as processes
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit

LIST = "/thu-tuc"


def _add(session, sector_id, code, name, level=3, **extra) -> int:
    values = dict(time_value=Decimal("5"), time_unit="working_days")
    values.update(extra)
    procedure = Procedure(code=code, name=name, sector_id=sector_id, service_level=level, **values)
    session.add(procedure)
    session.flush()
    return procedure.id


@pytest.fixture(scope="module")
def unit(platform, city, app):
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    ids = {}
    with unit.session() as session, session.begin():
        civil = session.query(Sector).filter_by(code="HT").one()
        certify = Sector(code="CT", name="Chứng thực", sort_order=5)
        session.add(certify)
        session.flush()
        ids["khai_sinh"] = _add(session, civil.id, "1.001193", "Đăng ký khai sinh")
        ids["khai_sinh_luu_dong"] = _add(session, civil.id, "1.001000", "Đăng ký khai sinh lưu động", level=2)
        ids["lai_khai_sinh"] = _add(session, civil.id, "1.004884", "Đăng ký lại khai sinh")
        ids["khai_tu"] = _add(session, civil.id, "1.001193.000.00.00.H29", "Khai tử")
        ids["ket_hon"] = _add(
            session,
            civil.id,
            "1.000894",
            "Đăng ký kết hôn",
            online_time_value=Decimal("2"),
            result_document_type="Giấy chứng nhận kết hôn",
            channels=[1, 2],
            result_delivery=["counter", "postal"],
        )
        ids["ket_hon_nn"] = _add(session, civil.id, "1.000893", "Kết hôn có yếu tố nước ngoài", level=4)
        ids["bao_cao"] = _add(session, civil.id, "2.000001", "Báo cáo kết quả không đạt", level=1)
        ids["chung_thuc"] = _add(session, certify.id, "2.000815", "Chứng thực bản sao từ bản chính", level=2)
        ids["inactive"] = _add(session, civil.id, "9.999999", "Thủ tục đã bãi bỏ khai sinh", is_active=False)
        session.add_all(
            [
                FeeLine(
                    procedure_id=ids["ket_hon"], kind="charge", description="Lệ phí đăng ký", amount=30000
                ),
                FeeLine(
                    procedure_id=ids["ket_hon"], description="Phí trích lục", amount=1500000, sort_order=1
                ),
            ]
        )
        law = LegalDocument(number="123/2015/NĐ-CP", kind="decree", title="Quy định chi tiết Luật Hộ tịch")
        session.add(law)
        session.flush()
        session.add(ProcedureLegalDocument(procedure_id=ids["ket_hon"], legal_document_id=law.id))
        session.add_all(
            [
                ProcedureComponent(
                    procedure_id=ids["ket_hon"],
                    name="Tờ khai đăng ký kết hôn",
                    original_or_copy="original",
                    quantity=1,
                    template_file="to-khai-ket-hon.docx",
                ),
                ProcedureComponent(
                    procedure_id=ids["ket_hon"],
                    name="Giấy xác nhận tình trạng hôn nhân",
                    original_or_copy="certified_copy",
                    quantity=2,
                    is_mandatory=False,
                    template_file="mau-chua-luu.docx",
                    sort_order=1,
                ),
            ]
        )
        session.flush()
        unit.step_names = [s.name for s in processes.steps_of(session, unit.version_id)]
    with app.app_context():
        get_storage().put(
            storage_key(
                unit.tenant.slug, queries.TEMPLATE_FOLDER, str(ids["ket_hon"]), "to-khai-ket-hon.docx"
            ),
            b"DOCX-BYTES",
            "application/octet-stream",
        )
    unit.ids = ids
    return unit


@pytest.fixture(scope="module")
def other(platform, city):
    other = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    with other.session() as session, session.begin():
        session.get(Procedure, other.procedure_id).name = "Thủ tục riêng của đơn vị B"
    return other


def names_in_order(html: str) -> list[str]:
    return re.findall(r'<a href="/thu-tuc/\d+">([^<]+)</a>', html)


def test_list_groups_active_procedures_by_sector(client_for, unit):
    response = client_for(unit.tenant).get(LIST)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index("Hộ tịch</h2>") < html.index("Đăng ký kết hôn")
    assert html.index("Đăng ký kết hôn") < html.index("Chứng thực</h2>") < html.index("Chứng thực bản sao")
    assert "1.000894" in html and "5 ngày làm việc" in html
    assert "Thủ tục đã bãi bỏ" not in html
    assert "9 thủ tục" in html  # eight added and build_unit's one; the inactive one not counted


def test_filters_by_sector_and_level(client_for, unit):
    client = client_for(unit.tenant)
    with unit.session() as session:
        certify = session.query(Sector).filter_by(code="CT").one().id
    html = client.get(LIST, query_string={"sector": certify}).get_data(as_text=True)
    assert names_in_order(html) == ["Chứng thực bản sao từ bản chính"]
    html = client.get(LIST, query_string={"level": 2}).get_data(as_text=True)
    assert sorted(names_in_order(html)) == ["Chứng thực bản sao từ bản chính", "Đăng ký khai sinh lưu động"]
    html = client.get(LIST, query_string={"level": "x", "sector": "-1"}).get_data(as_text=True)
    assert len(names_in_order(html)) == 9  # unreadable filters are ignored


def test_list_is_paginated(client_for, unit, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 4)
    client = client_for(unit.tenant)
    pages = [
        names_in_order(client.get(LIST, query_string={"page": n}).get_data(as_text=True)) for n in (1, 2, 3)
    ]
    assert [len(p) for p in pages] == [4, 4, 1]
    assert len({name for page in pages for name in page}) == 9
    assert 'aria-current="page">2<' in client.get(LIST, query_string={"page": 2}).get_data(as_text=True)
    assert names_in_order(client.get(LIST, query_string={"page": 99}).get_data(as_text=True)) == pages[2]


def test_procedure_page_shows_level_one_facts(client_for, unit):
    response = client_for(unit.tenant).get(f"{LIST}/{unit.ids['ket_hon']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (
        "Đăng ký kết hôn",
        "1.000894",
        "Hộ tịch",
        "Mức độ 3",
        "5 ngày làm việc",
        "2 ngày làm việc",
        "Giấy chứng nhận kết hôn",
        "Trực tuyến",
        "Qua dịch vụ bưu chính công ích",
        "30.000 đồng",
        "1.500.000 đồng",
        "123/2015/NĐ-CP",
        "Quy định chi tiết Luật Hộ tịch",
        "Bản sao có chứng thực",
        "Giấy xác nhận tình trạng hôn nhân",
    ):
        assert text in html, text
    # A stored template is a download link; an unstored one is just its name.
    link = f'href="/thu-tuc/{unit.ids["ket_hon"]}/mau/'
    assert html.count(link) == 1 and "to-khai-ket-hon.docx</a>" in html
    assert "mau-chua-luu.docx</td>" in html


def test_template_download_and_missing_template(client_for, unit):
    client = client_for(unit.tenant)
    html = client.get(f"{LIST}/{unit.ids['ket_hon']}").get_data(as_text=True)
    url = re.search(r'href="(/thu-tuc/\d+/mau/\d+)"', html).group(1)
    response = client.get(url)
    assert response.status_code == 200 and response.data == b"DOCX-BYTES"
    assert "attachment" in response.headers["Content-Disposition"]
    with unit.session() as session:
        missing = session.query(ProcedureComponent).filter_by(template_file="mau-chua-luu.docx").one().id
    assert client.get(f"{LIST}/{unit.ids['ket_hon']}/mau/{missing}").status_code == 404
    assert client.get(f"{LIST}/{unit.ids['khai_sinh']}/mau/{missing}").status_code == 404


def test_procedure_page_shows_published_steps_in_order_without_officials(client_for, unit):
    html = client_for(unit.tenant).get(f"{LIST}/{unit.procedure_id}").get_data(as_text=True)
    steps = re.search(r'<ol class="steps">(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r"<li>([^<]+)</li>", steps) == unit.step_names
    assert len(unit.step_names) >= 3
    assert "Bộ phận một cửa" not in steps and "Phòng Tư pháp" not in html
    assert unit.accounts["officer"].full_name not in html


def test_no_fee_reads_free_and_english_formats(client_for, unit):
    client = client_for(unit.tenant)
    html = client.get(f"{LIST}/{unit.ids['khai_sinh']}").get_data(as_text=True)
    assert "Miễn phí" in html and "Chưa công bố quy trình." in html
    html = client.get(f"{LIST}/{unit.ids['ket_hon']}?lang=en").get_data(as_text=True)
    assert "30,000 VND" in html and "Legal basis" in html and "Fees and charges" in html


def test_inactive_and_unknown_procedures_are_404(client_for, unit):
    client = client_for(unit.tenant)
    assert client.get(f"{LIST}/{unit.ids['inactive']}").status_code == 404
    assert client.get(f"{LIST}/987654321").status_code == 404


def search(client, q: str) -> list[str]:
    response = client.get(LIST, query_string={"q": q})
    assert response.status_code == 200
    return names_in_order(response.get_data(as_text=True))


def test_search_ignores_diacritics_and_case_and_ranks(client_for, unit):
    client = client_for(unit.tenant)
    assert search(client, "dang ky khai sinh") == [
        "Đăng ký khai sinh",
        "Đăng ký khai sinh lưu động",
        "Đăng ký lại khai sinh",
    ]
    assert search(client, "ĐĂNG KÝ KHAI SINH")[0] == "Đăng ký khai sinh"
    # prefix, then whole words, then a word found only inside another ("hon" in "không").
    assert search(client, "ket hon") == [
        "Kết hôn có yếu tố nước ngoài",
        "Đăng ký kết hôn",
        "Báo cáo kết quả không đạt",
    ]
    assert "Thủ tục đã bãi bỏ khai sinh" not in search(client, "bai bo")
    assert search(client, "%") == [] and search(client, "zzz khong co") == []


def test_search_by_code_exact_first_then_prefix(client_for, unit):
    client = client_for(unit.tenant)
    assert search(client, "1.001193") == ["Đăng ký khai sinh", "Khai tử"]
    assert sorted(search(client, "1.001")) == ["Khai tử", "Đăng ký khai sinh", "Đăng ký khai sinh lưu động"]
    html = client.get(LIST, query_string={"q": "1.001"}).get_data(as_text=True)
    assert "3 thủ tục phù hợp" in html


def test_unit_home_links_to_the_list_and_search(client_for, unit):
    html = client_for(unit.tenant).get("/").get_data(as_text=True)
    assert 'action="/thu-tuc"' in html and '<label for="q">' in html
    assert f'href="/thu-tuc/{unit.ids["ket_hon"]}"' in html


def test_another_units_host_never_lists_or_opens_its_procedures(client_for, unit, other):
    client = client_for(other.tenant)
    html = client.get(LIST).get_data(as_text=True)
    assert names_in_order(html) == ["Thủ tục riêng của đơn vị B"]
    assert search(client, "ket hon") == [] and search(client, "1.000894") == []
    with unit.session() as session:
        a_names = dict(session.query(Procedure.id, Procedure.name).all())
    for procedure_id, name in a_names.items():
        response = client.get(f"{LIST}/{procedure_id}")
        assert response.status_code in (200, 404)
        page = response.get_data(as_text=True)
        assert name not in page or response.status_code == 404 or procedure_id == other.procedure_id
        if response.status_code == 200:
            assert "Thủ tục riêng của đơn vị B" in page
    with unit.session() as session:
        component = session.query(ProcedureComponent).filter_by(template_file="to-khai-ket-hon.docx").one()
    assert client.get(f"{LIST}/{unit.ids['ket_hon']}/mau/{component.id}").status_code == 404
