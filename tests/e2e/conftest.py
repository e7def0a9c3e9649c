"""Browser end-to-end tests: Debian's Chromium driven by Playwright against the real stack, with the
api serving the built dashboard (frontend/dist) on its own origin. All of them run on one xdist
worker (`xdist_group("browser")`): one browser, one api."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_world import World
from support import Stack, extra_api

REPO = Path(__file__).resolve().parents[2]
FRONTEND_DIST = REPO / "frontend" / "dist"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded browser."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def dashboard_url(stack: Stack, tmp_path_factory) -> Iterator[str]:
    if not (FRONTEND_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make frontend` (make test does)")
    with extra_api(stack, tmp_path_factory.mktemp("e2e-api"), MICRODASH_FRONTEND_DIR=str(FRONTEND_DIST)) as url:
        yield url


@pytest.fixture(scope="session")
def base_url(dashboard_url: str) -> str:
    return dashboard_url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def world(stack: Stack, dashboard_url: str) -> World:
    return World(stack, dashboard_url)
