"""Routing by Host: city portal, console, tenant portals, custom domains, unknown and suspended hosts."""

from __future__ import annotations

import time

from tenants import registry
from tenants.resolution import TENANT, UNKNOWN, HostResolver


def test_city_portal_lists_units_and_links_to_them(make_tenant, client_for, city):
    district = make_tenant("district", name="Quận Định Tuyến")
    page = client_for(host="localhost:5000").get("/")
    assert page.status_code == 200
    assert "Quận Định Tuyến" in page.text
    assert f"//{district.slug}.localhost:5000/" in page.text


def test_every_tenant_page_names_the_tenant(make_tenant, client_for):
    commune = make_tenant("commune", name="Phường Tên Riêng")
    page = client_for(commune).get("/")
    assert page.status_code == 200
    assert '<p class="site-name">Phường Tên Riêng</p>' in page.text


def test_error_pages_of_a_tenant_name_the_tenant(make_tenant, client_for):
    tenant = make_tenant("district", name="Quận Có Tên")
    page = client_for(tenant).get("/khong-co-trang-nay")
    assert page.status_code == 404
    assert '<p class="site-name">Quận Có Tên</p>' in page.text


def test_unknown_host_is_a_404_naming_no_tenant(make_tenant, client_for, city):
    tenant = make_tenant("district", name="Quận Bí Mật")
    for host in ("khong-co.localhost", "evil.example.com", f"x.{tenant.slug}.localhost"):
        page = client_for(host=host).get("/")
        assert page.status_code == 404, host
        assert "Quận Bí Mật" not in page.text and city.name not in page.text
        assert client_for(host=host).get("/api/v1/procedures/").status_code == 404


def test_console_host_is_not_a_tenant(client_for):
    # admin.<domain> is the provider console, never a tenant whose slug is "admin".
    assert client_for(host="admin.localhost").get("/api/v1/procedures/").status_code == 404


def test_suspended_tenant_shows_notice_and_api_503(make_tenant, client_for, platform):
    tenant = make_tenant("department", name="Sở Tạm Ngừng")
    registry.set_status(platform.shards, tenant.slug, "suspended", reason="Bảo trì")
    platform.resolver.clear()
    page = client_for(tenant).get("/")
    assert page.status_code == 503
    assert "Sở Tạm Ngừng" in page.text
    assert "Tạm ngừng dịch vụ" in page.text and "temporarily suspended" in page.text
    api = client_for(tenant).get("/api/v1/procedures/")
    assert api.status_code == 503
    assert api.json["code"] == 503 and "suspended" in api.json["message_en"]
    registry.set_status(platform.shards, tenant.slug, "active")
    platform.resolver.clear()
    assert client_for(tenant).get("/").status_code == 200


def test_health_on_every_host(make_tenant, client_for, platform):
    tenant = make_tenant("district")
    registry.set_status(platform.shards, tenant.slug, "suspended")
    platform.resolver.clear()
    for host in ("localhost", "admin.localhost", f"{tenant.slug}.localhost", "unknown.example.org"):
        assert client_for(host=host).get("/healthz").json == {"status": "ok"}, host
        ready = client_for(host=host).get("/readyz")
        assert ready.status_code == 200 and ready.json["failed"] == [], host


def test_readyz_names_what_failed(services):
    from app import create_app
    from tests.conftest import app_config

    broken = create_app(app_config(services, redis_url="redis://127.0.0.1:1/0"))
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["queue"]
    assert response.json["checks"]["database:main"] == "ok"
    broken.extensions["motcua"].shards.dispose()


def test_language_switch(make_tenant, client_for):
    tenant = make_tenant("district")
    client = client_for(tenant)
    assert 'lang="vi"' in client.get("/").text
    english = client.get("/?lang=en")
    assert 'lang="en"' in english.text and "Administrative procedures" in english.text
    assert 'lang="en"' in client.get("/").text  # remembered


def test_an_unknown_host_is_forgotten_quickly_and_a_known_one_is_kept(make_tenant, platform):
    """A unit going live answers at once; known hosts are cached; random hosts cannot grow the cache."""
    tenant = make_tenant("district")
    resolver = HostResolver(platform.shards, "localhost", ttl=60, unknown_ttl=0.2, max_entries=3)
    host = f"{tenant.slug}.localhost"
    registry.set_status(platform.shards, tenant.slug, "suspended")
    assert resolver.resolve(host).tenant.status == "suspended"
    registry.set_status(platform.shards, tenant.slug, "active")
    assert resolver.resolve(host).tenant.status == "suspended"  # known: cached for ttl
    other = make_tenant("district")
    other_host = f"{other.slug}.localhost"
    registry.set_status(platform.shards, other.slug, "provisioning")
    assert resolver.resolve(other_host).kind == UNKNOWN  # being built: not routable
    registry.set_status(platform.shards, other.slug, "active")
    time.sleep(0.3)
    assert resolver.resolve(other_host).kind == TENANT  # live: the unknown answer was not kept
    for n in range(5):
        resolver.resolve(f"ngau-nhien-{n}.localhost")
    assert len(resolver._cache) <= 3
