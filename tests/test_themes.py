"""Portal themes: token validation and contrast, preview for the unit admin only, publish, restore,
hostile values, image checks, and nothing of one unit's theme on another unit's host."""

from __future__ import annotations

import io
import queue
import re
import threading
import time
import uuid
from html.parser import HTMLParser

import pytest
from PIL import Image
from sqlalchemy import func, select, text

from app.auth.roles import COUNTER_OFFICER, UNIT_ADMIN
from app.themes import actions
from app.themes.demo import seed_demo_theme
from app.themes.manifest import REQUIRED_PAIRS, THEMES_DIR, all_themes
from app.themes.models import DRAFT, ThemeVersion
from app.themes.tokens import (
    InvalidTheme,
    contrast_ratio,
    format_ratio,
    parse_color,
    validate_tokens,
)
from tests.test_auth_support import csrf_from, make_account, sign_in_directly

ADMIN_PAGE = "/backoffice/theme/"


def image_bytes(fmt: str, size=(64, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


# --- pure rules ---------------------------------------------------------------------------


def test_colours_are_hex_and_normalised():
    assert parse_color("#ABC") == "#aabbcc"
    assert parse_color("  #8B0E0E ") == "#8b0e0e"
    for bad in ("red", "#12345", "#1234567", "rgb(0,0,0)", "#ggg", "</style><script>alert(1)</script>", ""):
        assert parse_color(bad) is None, bad


@pytest.mark.parametrize(
    ("fg", "bg", "expected"),
    [
        ("#777777", "#ffffff", 4.48),
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#767676", "#ffffff", 4.54),
        ("#0000ff", "#ffffff", 8.59),
        ("#ff0000", "#ffffff", 4.0),
    ],
)
def test_contrast_ratio_matches_known_pairs(fg, bg, expected):
    assert contrast_ratio(fg, bg) == pytest.approx(expected, abs=0.01)
    assert contrast_ratio(bg, fg) == pytest.approx(expected, abs=0.01)


def test_ratio_is_cut_not_rounded_in_messages():
    assert format_ratio(4.4999, lang="vi") == "4,49"
    assert format_ratio(2.3142, lang="en") == "2.31"


def test_manifests_are_complete_and_their_defaults_pass():
    themes = all_themes()
    assert {"trang-trong", "hien-dai"} <= set(themes)
    for theme in themes.values():
        assert all(pair in theme.contrast for pair in REQUIRED_PAIRS)
        assert validate_tokens(theme, theme.defaults(), base={}) == theme.defaults()
        for key in ("primary", "on_primary", "accent", "background", "text", "link", "logo", "banner"):
            assert key in theme.tokens


def test_low_contrast_is_refused_with_the_measured_ratio():
    theme = all_themes()["hien-dai"]
    with pytest.raises(InvalidTheme) as refused:
        validate_tokens(theme, {"text": "#777777", "background": "#ffffff"}, base=theme.defaults())
    vi, en = refused.value.errors["text"]
    assert "Độ tương phản 4,47:1" in vi and "4,5:1" in vi
    assert "Contrast 4.47:1" in en and "4.5:1" in en
    assert refused.value.status == 422


def test_every_problem_is_reported_at_once():
    theme = all_themes()["trang-trong"]
    submitted = {"primary": "red", "contact_email": "not-an-email", "unit_name_line": "x" * 201}
    with pytest.raises(InvalidTheme) as refused:
        validate_tokens(theme, submitted, base=theme.defaults())
    assert set(refused.value.errors) == {"primary", "contact_email", "unit_name_line"}


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def unit(make_tenant, platform):
    tenant = make_tenant("district")
    admin = make_account(platform, memberships=[(tenant, [UNIT_ADMIN])])
    return tenant, admin


@pytest.fixture
def admin_client(client_for, unit):
    tenant, admin = unit
    client = client_for(tenant)
    sign_in_directly(client, admin, tenant)
    return client


def post_form(client, path: str, data: dict, **kwargs):
    return client.post(path, data={"csrf_token": csrf_from(client, ADMIN_PAGE), **data}, **kwargs)


def save(client, then: str = "save", **tokens):
    return post_form(client, ADMIN_PAGE, {"then": then, **tokens}, content_type="multipart/form-data")


def draft_id(client) -> int:
    return int(re.search(r"xem-truoc=(\d+)", client.get(ADMIN_PAGE).text).group(1))


def publish(client):
    response = post_form(client, "/backoffice/theme/publish", {})
    assert response.status_code == 302, response.text
    return response


def test_portal_pages_wear_the_default_theme_with_landmarks_and_no_script(client_for, unit):
    tenant, _ = unit
    client = client_for(tenant)
    for path in ("/", "/thu-tuc", "/tra-cuu", "/hoi-dap", "/hoi-dap/gui", "/danh-gia"):
        page = client.get(path)
        assert page.status_code == 200, path
        text = page.text
        assert "/themes/trang-trong/static/theme.css" in text, path
        for landmark in ("<header", "<nav", '<main id="main"', "<footer", 'class="skip" href="#main"'):
            assert landmark in text, (path, landmark)
        assert "<script" not in text, path  # the portal works without JavaScript
    assert client.get("/", query_string={"lang": "en"}).text.count("Skip to content") == 1


def test_city_portal_wears_the_formal_theme(client_for, city):
    page = client_for(host="localhost").get("/")
    assert page.status_code == 200
    assert "/themes/trang-trong/static/theme.css" in page.text
    assert "--primary:#8b0e0e" in page.text


def test_theme_static_files_are_served_and_nothing_outside(client_for, unit):
    tenant, _ = unit
    for client in (client_for(tenant), client_for(host="localhost")):
        css = client.get("/themes/hien-dai/static/theme.css")
        assert css.status_code == 200 and css.mimetype == "text/css"
    client = client_for(tenant)
    assert client.get("/themes/khong-co/static/theme.css").status_code == 404
    assert client.get("/themes/hien-dai/static/../theme.json").status_code == 404
    assert client.get("/themes/hien-dai/static/%2e%2e/theme.json").status_code == 404


def test_admin_page_needs_a_unit_admin(client_for, unit, platform):
    tenant, _ = unit
    assert client_for(tenant).get(ADMIN_PAGE).status_code == 302  # to the login page
    officer = make_account(platform, memberships=[(tenant, [COUNTER_OFFICER])])
    client = client_for(tenant)
    sign_in_directly(client, officer, tenant)
    assert client.get(ADMIN_PAGE).status_code == 403


def test_draft_is_previewed_by_its_admin_only_then_published_for_everyone(
    client_for, unit, platform, admin_client
):
    tenant, _ = unit
    marker = f"UBND-{uuid.uuid4().hex[:6]}"
    response = save(admin_client, then="preview", unit_name_line=marker, primary="#004d40")
    assert response.status_code == 302
    version = draft_id(admin_client)
    assert response.headers["Location"].endswith(f"/?xem-truoc={version}")

    preview = admin_client.get(f"/?xem-truoc={version}")
    assert marker in preview.text and "--primary:#004d40" in preview.text
    assert "Đang xem trước" in preview.text
    # The preview is remembered while the admin browses the portal, until they leave it.
    assert marker in admin_client.get("/thu-tuc").text
    assert marker not in admin_client.get("/?xem-truoc=tat").text
    assert marker not in admin_client.get("/thu-tuc").text

    public = client_for(tenant)
    assert marker not in public.get(f"/?xem-truoc={version}").text
    for odd in ("²", "-1", "99999999999999999999999", "abc", ""):
        assert admin_client.get("/", query_string={"xem-truoc": odd}).status_code == 200, odd
    officer = make_account(platform, memberships=[(tenant, [COUNTER_OFFICER])])
    official = client_for(tenant)
    sign_in_directly(official, officer, tenant)
    assert marker not in official.get(f"/?xem-truoc={version}").text

    publish(admin_client)
    page = client_for(tenant).get("/")
    assert marker in page.text and "--primary:#004d40" in page.text
    assert "Đang xem trước" not in page.text


def test_choosing_the_modern_theme_and_publishing_it(client_for, unit, admin_client):
    tenant, _ = unit
    assert post_form(admin_client, "/backoffice/theme/theme", {"theme": "hien-dai"}).status_code == 302
    assert "/themes/trang-trong/" in client_for(tenant).get("/").text  # not published yet
    save(admin_client, primary="#123456")
    post_form(admin_client, "/backoffice/theme/theme", {"theme": "hien-dai"})  # the same theme keeps colours
    publish(admin_client)
    page = client_for(tenant).get("/tra-cuu")
    assert "/themes/hien-dai/static/theme.css" in page.text and "--primary:#123456" in page.text
    refused = post_form(admin_client, "/backoffice/theme/theme", {"theme": "../etc"})
    assert refused.status_code == 422


def test_restore_copies_an_earlier_version_into_the_draft(client_for, unit, admin_client):
    tenant, _ = unit
    save(admin_client, footer_text="Phiên bản MỘT")
    publish(admin_client)
    first = int(re.search(r"phiên bản #(\d+)", admin_client.get(ADMIN_PAGE).text).group(1))
    save(admin_client, footer_text="Phiên bản HAI")
    publish(admin_client)
    public = client_for(tenant)
    assert "Phiên bản HAI" in public.get("/").text

    restored = post_form(admin_client, f"/backoffice/theme/versions/{first}/restore", {})
    assert restored.status_code == 302
    assert "Phiên bản HAI" in public.get("/").text  # restoring publishes nothing by itself
    assert "Phiên bản MỘT" in admin_client.get(f"/?xem-truoc={draft_id(admin_client)}").text
    publish(admin_client)
    assert "Phiên bản MỘT" in public.get("/").text
    history = admin_client.get(ADMIN_PAGE).text
    assert history.count("Đang công bố") == 1 and "Đã lưu trữ" in history
    assert post_form(admin_client, "/backoffice/theme/versions/999999/restore", {}).status_code == 404


def test_publishing_without_a_draft_is_a_conflict(admin_client):
    assert post_form(admin_client, "/backoffice/theme/publish", {}).status_code == 409


def test_hostile_colour_is_refused_and_the_form_keeps_what_was_typed(admin_client):
    hostile = "</style><script>alert(1)</script>"
    response = save(admin_client, primary=hostile, footer_text="Giữ lại chữ này")
    assert response.status_code == 422
    assert "<script>alert(1)" not in response.text
    assert "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in response.text  # typed value kept, escaped
    assert "Giữ lại chữ này" in response.text
    assert "phải là mã màu dạng #rrggbb" in response.text
    assert 'aria-invalid="true" aria-describedby="e-primary"' in response.text


def test_low_contrast_form_shows_the_ratio(admin_client):
    response = save(admin_client, text="#777777", background="#ffffff")
    assert response.status_code == 422
    assert "Độ tương phản 4,47:1" in response.text and "4,5:1" in response.text
    english = post_form(
        admin_client,
        ADMIN_PAGE + "?lang=en",
        {"text": "#777777", "background": "#ffffff"},
        content_type="multipart/form-data",
    )
    assert english.status_code == 422 and "Contrast 4.47:1" in english.text


def test_script_in_texts_is_rendered_inert(client_for, unit, admin_client):
    tenant, _ = unit
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert (
        save(admin_client, unit_name_line=hostile, footer_text=hostile, contact_address=hostile).status_code
        == 302
    )
    publish(admin_client)
    page = client_for(tenant).get("/").text
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_json_caller_gets_the_bilingual_error(admin_client):
    response = post_form(
        admin_client, ADMIN_PAGE, {"primary": "javascript:alert(1)"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 422


# --- images ---------------------------------------------------------------------------------------


def upload(client, key: str, data: bytes, filename: str):
    return save(client, **{f"{key}_file": (io.BytesIO(data), filename)})


def test_logo_and_banner_are_stored_and_served_by_this_unit(client_for, unit, admin_client):
    tenant, _ = unit
    assert upload(admin_client, "logo", image_bytes("PNG"), "logo.png").status_code == 302
    assert upload(admin_client, "banner", image_bytes("WEBP", (800, 200)), "banner.webp").status_code == 302
    publish(admin_client)
    page = client_for(tenant).get("/").text
    logo = re.search(r"/giao-dien/anh/([0-9a-f]{32}\.png)", page).group(1)
    banner = re.search(r"/giao-dien/anh/([0-9a-f]{32}\.webp)", page).group(1)
    served = client_for(tenant).get(f"/giao-dien/anh/{logo}")
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert client_for(tenant).get(f"/giao-dien/anh/{banner}").mimetype == "image/webp"
    # A JPEG named .png is still a JPEG: the content decides.
    assert upload(admin_client, "logo", image_bytes("JPEG"), "anh.png").status_code == 302
    assert re.search(r"/giao-dien/anh/[0-9a-f]{32}\.jpg", admin_client.get(ADMIN_PAGE).text)


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.svg",
            "không phải ảnh PNG, JPEG hoặc WebP",
        ),
        (b"<html><script>alert(1)</script></html>", "logo.png", "không phải ảnh PNG, JPEG hoặc WebP"),
        (b"GIF89a" + b"\x00" * 40, "logo.gif", "không phải ảnh PNG, JPEG hoặc WebP"),
        (image_bytes("PNG")[:40], "cut.png", "không phải ảnh PNG, JPEG hoặc WebP"),
        (image_bytes("PNG", (4, 4)), "tiny.png", "mỗi cạnh phải từ 16 đến 4000 px"),
        (image_bytes("PNG", (4001, 20)), "wide.png", "mỗi cạnh phải từ 16 đến 4000 px"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024 + 10), "big.png", "quá lớn"),
    ],
)
def test_images_are_checked_by_content_size_and_dimensions(admin_client, data, name, words):
    response = upload(admin_client, "logo", data, name)
    assert response.status_code == 422
    assert words in response.text
    assert "/giao-dien/anh/" not in admin_client.get(ADMIN_PAGE).text  # nothing was stored


def test_image_names_are_checked(client_for, unit):
    tenant, _ = unit
    client = client_for(tenant)
    for name in ("../x.png", "a.png", f"{'0' * 32}.svg", f"{'0' * 32}.png"):
        assert client.get(f"/giao-dien/anh/{name}").status_code == 404, name


class _BannerFinder(HTMLParser):
    """The class of the banner <img> (the one whose src is ``src``) and of its parent element."""

    def __init__(self, src: str):
        super().__init__()
        self.src, self.stack, self.found = src, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("src") == self.src and self.found is None:
            self.found = (attrs.get("class") or "", self.stack[-1] if self.stack else "")
        if tag not in ("img", "br", "meta", "link", "input"):
            self.stack.append(attrs.get("class") or "")

    def handle_endtag(self, tag):
        if tag not in ("img", "br", "meta", "link", "input") and self.stack:
            self.stack.pop()


def css_rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule of a stylesheet, @media blocks flattened."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                name, value = declaration.split(":", 1)
                declarations[name.strip()] = " ".join(value.split())
        rules += [(" ".join(selector.split()), declarations) for selector in selectors.split(",")]
    return rules


def test_no_theme_draws_its_banner_under_text(client_for, unit, admin_client):
    """A banner may be any picture, light or dark, and contrast is only measured between colour
    tokens: so no theme lays its banner under text (e.g. absolutely positioned behind the masthead,
    where white on #767676, 4.54:1, becomes about 3.2:1 over a light banner at 18 % opacity).
    The banner stays in the flow, in a band of its own."""
    assert upload(admin_client, "banner", image_bytes("PNG", (800, 200)), "banner.png").status_code == 302
    for name, theme in all_themes().items():
        assert post_form(admin_client, "/backoffice/theme/theme", {"theme": name}).status_code == 302
        page = admin_client.get(f"/?xem-truoc={draft_id(admin_client)}").text
        assert f"/themes/{name}/static/theme.css" in page
        src = re.search(r'src="(/giao-dien/anh/[0-9a-f]{32}\.png)"', page).group(1)
        finder = _BannerFinder(src)
        finder.feed(page)
        assert finder.found is not None, name
        own_class, parent_class = finder.found
        if own_class:
            wanted = {f".{c}" for c in own_class.split()}
        else:
            wanted = {f".{c}{child}" for c in parent_class.split() for child in (" img", " > img")}
        css = (THEMES_DIR / name / "static" / theme.stylesheet).read_text(encoding="utf-8")
        banner_rules = [(sel, decl) for sel, decl in css_rules(css) if any(sel.endswith(w) for w in wanted)]
        assert banner_rules, (name, wanted)
        for selector, declarations in banner_rules:
            assert declarations.get("position", "static") in ("static", "relative"), (name, selector)
            assert "inset" not in declarations and "transform" not in declarations, (name, selector)
            margins = [v for k, v in declarations.items() if k.startswith("margin")]
            assert not any("-" in v for v in margins), (name, selector)
            assert "z-index" not in declarations, (name, selector)


# --- two saves at once ----------------------------------------------------------------------------


def test_two_first_saves_at_once_share_one_draft(make_tenant, platform):
    """Two admins (or two tabs) saving a unit's first draft at the same moment: the second waits
    for the first and then edits the same draft, instead of tripping the one-draft index (a 500)."""
    tenant = make_tenant("district")
    pids: queue.Queue = queue.Queue()
    outcome: dict = {}

    def second_save():
        with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
            try:
                with session.begin():
                    pids.put(session.scalar(text("SELECT pg_backend_pid()")))
                    outcome["draft"] = actions.save_tokens(session, {"footer_text": "HAI"}, actor_id=None).id
            except Exception as exc:  # reported by the assertion below
                outcome["error"] = exc

    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as first:
        draft = actions.save_tokens(first, {"footer_text": "MỘT"}, actor_id=None)  # not committed yet
        worker = threading.Thread(target=second_save)
        worker.start()
        try:
            pid = pids.get(timeout=60)
            # Commit the first save only once the second one is really waiting on it.
            with platform.shards.engine(tenant.shard).connect() as watcher:
                deadline = time.monotonic() + 60
                while (
                    watcher.scalar(
                        text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                    )
                    != "Lock"
                ):
                    assert time.monotonic() < deadline, "the second save never waited for the first"
                    time.sleep(0.02)
            first.commit()
        finally:
            first.rollback()  # a no-op once committed; lets the second save go on if the wait failed
            worker.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["draft"] == draft.id
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        assert session.scalar(select(func.count()).where(ThemeVersion.status == DRAFT)) == 1
        assert session.get(ThemeVersion, draft.id).tokens["footer_text"] == "HAI"


# --- across units ---------------------------------------------------------------------------------


def test_one_unit_sees_nothing_of_another_units_theme(client_for, unit, make_tenant, platform, admin_client):
    tenant_a, admin_a = unit
    tenant_b = make_tenant("district")
    marker = f"CHI-A-{uuid.uuid4().hex[:6]}"
    save(admin_client, unit_name_line=marker)
    assert upload(admin_client, "logo", image_bytes("PNG"), "a.png").status_code == 302
    version = draft_id(admin_client)
    logo = re.search(r"/giao-dien/anh/([0-9a-f]{32}\.png)", admin_client.get(ADMIN_PAGE).text).group(1)

    # A's admin on B's host: not signed in there (host-only cookie), and a carried login is refused.
    on_b = client_for(tenant_b)
    assert on_b.get(ADMIN_PAGE).status_code == 302
    assert marker not in on_b.get(f"/?xem-truoc={version}").text
    assert on_b.get(f"/giao-dien/anh/{logo}").status_code == 404
    assert client_for(tenant_a).get(f"/giao-dien/anh/{logo}").status_code == 200

    # B's own admin previewing A's version id sees B's own versions only.
    admin_b = make_account(platform, memberships=[(tenant_b, [UNIT_ADMIN])])
    client_b = client_for(tenant_b)
    sign_in_directly(client_b, admin_b, tenant_b)
    assert marker not in client_b.get(f"/?xem-truoc={version}").text
    assert marker not in client_b.get(ADMIN_PAGE).text
    assert post_form(client_b, f"/backoffice/theme/versions/{version}/restore", {}).status_code == 404
    # A session of A's admin made out for B (a forged or carried cookie) is refused: no membership in B.
    forged = client_for(tenant_b)
    sign_in_directly(forged, admin_a, tenant_b)
    assert forged.get(ADMIN_PAGE).status_code == 403
    assert marker not in forged.get(f"/?xem-truoc={version}").text


def test_demo_theme_is_published_once(make_tenant, platform, client_for):
    tenant = make_tenant("commune")
    for expected in (True, False):
        with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
            assert seed_demo_theme(session, "may-chai") is expected
    page = client_for(tenant).get("/").text
    assert "/themes/hien-dai/static/theme.css" in page and "UBND phường Máy Chai" in page
