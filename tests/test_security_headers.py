"""Security headers on every answer, a Content-Security-Policy fitting each, and an API reference
that loads nothing from outside the api."""

import base64
import hashlib
import re

import httpx
import pytest

from support import extra_api

ALWAYS = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"}
INDEX = "<!doctype html><div id=app></div><script type=module src=/assets/index-1.js></script>"


@pytest.fixture(scope="module")
def dashboard_api(stack, tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    (dist / "assets").mkdir()
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-1.js").write_text("console.log('app')")
    with extra_api(stack, tmp_path_factory.mktemp("logs"), MICRODASH_FRONTEND_DIR=str(dist)) as url:
        yield url


def policy(response: httpx.Response) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    return {name: value for name, value in directives}


def test_api_answers_may_load_nothing_and_be_framed_nowhere(stack):
    for response in (httpx.get(stack.api_url + "/healthz"), httpx.get(stack.api_url + "/api/v1/tenant"),
                     httpx.post(stack.api_url + "/api/v1/auth/login", content=b"x" * 300_000,
                                headers={"Content-Type": "application/json"})):
        assert {name: response.headers.get(name) for name in ALWAYS} == ALWAYS, response.url
        assert policy(response) == {"default-src": "'none'", "frame-ancestors": "'none'"}


def test_the_dashboard_runs_only_its_own_scripts(dashboard_api):
    page = httpx.get(dashboard_api + "/explore")
    assert page.text == INDEX and {name: page.headers.get(name) for name in ALWAYS} == ALWAYS
    rules = policy(page)
    assert rules["script-src"] == "'self'" and rules["default-src"] == "'self'"
    assert rules["frame-ancestors"] == "'none'" and rules["object-src"] == "'none'"
    assert rules["connect-src"] == "'self'"  # the API and the live stream are on the same origin


def test_the_api_reference_is_served_locally_with_its_inline_script_allowed_by_hash(stack):
    page = httpx.get(stack.api_url + "/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(url.startswith("/docs/assets/") for url in urls), urls
    for url in urls:
        asset = httpx.get(stack.api_url + url)
        assert asset.status_code == 200 and len(asset.content) > 0, url
    [inline] = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    rules = policy(page)
    assert rules["script-src"] == f"'self' 'sha256-{digest}'" and rules["frame-ancestors"] == "'none'"
    assert "redoc" not in httpx.get(stack.api_url + "/redoc").text.lower()  # its page loaded from a CDN
