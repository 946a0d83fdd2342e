"""Browser tests: the real app on a live HTTP server, driven by headless Chromium (Playwright).

The server runs the session's app (tests/conftest.py, ``PLATFORM_DOMAIN`` = ``localhost``)
in a thread on 127.0.0.1 and a free port. Chromium resolves every ``*.localhost`` name to
the loopback address, so a unit's portal is ``http://<slug>.localhost:<port>/`` and the city
portal (the identity provider) ``http://localhost:<port>/``, exactly as under ``make run``.

Chromium is the Debian package (``/usr/bin/chromium``, or ``MOTCUA_CHROMIUM``); Playwright
never downloads a browser (``make test`` installs the package, tests/browser/ensure_chromium.sh).
One browser per test module; each actor gets its own context (its own cookies).
Screenshots of the key pages go to ``var/test-artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_auth_support import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("MOTCUA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def city(self, path: str = "/") -> str:
        return f"http://localhost:{self.port}{path}"

    def unit(self, tenant, path: str = "/") -> str:
        return f"http://{tenant.slug}.localhost:{self.port}{path}"


@pytest.fixture(scope="module")
def live_server(app):
    server = LiveServer(app)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.thread.join(timeout=10)
    server.server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install the Debian package `chromium` "
            "(apt-get install chromium) or set MOTCUA_CHROMIUM; `make test` does it where it can."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser):
    """``new_context()``: a fresh browser context (one person, own cookies), closed after the test."""
    opened = []

    def make():
        context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture
def shot(request):
    """``shot(page, "step")``: a full-page screenshot, var/test-artifacts/browser/<test>-NN-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_")).strip("-")
    for stale in ARTIFACTS.glob(f"{name}-[0-9][0-9]-*.png"):  # an earlier run's pictures of this test
        stale.unlink(missing_ok=True)
    counter = iter(range(1, 100))

    def take(page, step: str) -> Path:
        path = ARTIFACTS / f"{name}-{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def make_unit(platform, city):
    """A commune with divisions, officials and a level-3 procedure with a published process."""
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


def sign_in_at_provider(page, email: str, password: str = PASSWORD) -> None:
    """Answer the identity provider's form (the city host), which the page has been sent to."""
    page.wait_for_selector("form.login #email")
    assert page.url.startswith("http://localhost:"), page.url
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form.login button[type=submit]")
