"""Browser end-to-end tests: Debian's Chromium driven by Playwright against the real stack, with the
api serving the built dashboard (frontend/dist) on its own origin. All of them run on one xdist
worker (`xdist_group("browser")`): one browser, one api.

Playwright lives for the browser module only, not for the session as pytest-playwright's own
`playwright`/`browser` fixtures do: the sync API marks an asyncio loop as running in the main
thread while it is alive, and every later test on the same worker that calls asyncio.run() would
fail. pytest-playwright's `--headed` and `--slowmo` options still apply.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from browser_world import World
from support import Stack, extra_api

REPO = Path(__file__).resolve().parents[2]
FRONTEND_DIST = REPO / "frontend" / "dist"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium(pytestconfig) -> Iterator[Browser]:
    """Debian's Chromium, never a downloaded browser."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                             headless=not pytestconfig.getoption("headed", False),
                                             slow_mo=pytestconfig.getoption("slowmo", 0) or 0)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, dashboard_url: str) -> Iterator[Page]:
    """A fresh browser context (no cookies, no cache) per scenario, on the dashboard's origin."""
    context = chromium.new_context(base_url=dashboard_url, viewport={"width": 1280, "height": 720})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def dashboard_url(stack: Stack, tmp_path_factory) -> Iterator[str]:
    if not (FRONTEND_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make frontend` (make test does)")
    # The lockout scenario's fifth failure starts a backoff long enough to see in a browser, whatever
    # the machine's speed (with the default 1 s, a slow click could find it over already).
    backoff = {"MICRODASH_LOGIN_FREE_FAILURES_PER_EMAIL_AND_IP": "4", "MICRODASH_LOGIN_BACKOFF_BASE_SECONDS": "30"}
    with extra_api(stack, tmp_path_factory.mktemp("e2e-api"), MICRODASH_FRONTEND_DIR=str(FRONTEND_DIST),
                   **backoff) as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def world(stack: Stack, dashboard_url: str) -> World:
    return World(stack, dashboard_url)
