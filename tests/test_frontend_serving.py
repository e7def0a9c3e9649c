"""The api serves the built dashboard on its own origin, without shadowing any API path."""

import httpx
import pytest

from support import extra_api

INDEX = "<!doctype html><div id=app></div><script src=/assets/index-3f2a9c.js></script>"


@pytest.fixture(scope="module")
def dashboard_api(stack, tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    (dist / "assets").mkdir()
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-3f2a9c.js").write_text("console.log('app')")
    (dist / "favicon.svg").write_text("<svg/>")
    (dist.parent / "secret.txt").write_text("outside dist")
    with extra_api(stack, tmp_path_factory.mktemp("logs"), MICRODASH_FRONTEND_DIR=str(dist)) as url:
        yield url


@pytest.mark.parametrize("path", ["/", "/explore", "/explore?metric=cpu&range=24h&host=n1", "/tokens", "/login",
                                  "/no/such/page"])
def test_app_paths_get_index_html_revalidated(dashboard_api, path):
    response = httpx.get(dashboard_api + path)
    assert response.status_code == 200 and response.text == INDEX
    assert response.headers["cache-control"] == "no-cache" and response.headers["content-type"].startswith("text/html")


def test_hashed_assets_are_cached_for_good(dashboard_api):
    response = httpx.get(dashboard_api + "/assets/index-3f2a9c.js")
    assert response.status_code == 200 and response.text == "console.log('app')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]
    favicon = httpx.get(dashboard_api + "/favicon.svg")
    assert favicon.text == "<svg/>" and favicon.headers["cache-control"] == "no-cache"


def test_a_missing_asset_is_404_not_index_html(dashboard_api):
    """A page of a previous build asking for its chunk must not get HTML parsed as a script."""
    response = httpx.get(dashboard_api + "/assets/index-previous.js")
    assert response.status_code == 404 and "reload the page" in response.json()["detail"]


def test_files_outside_dist_are_not_reachable(dashboard_api):
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        response = httpx.get(dashboard_api + path)
        assert "outside dist" not in response.text, path


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api", "/api/v1/metrics/unknown", "/write", "/v1/metrics"])
def test_unknown_api_paths_stay_json_404(dashboard_api, path):
    response = httpx.get(dashboard_api + path)
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


def test_server_paths_keep_working(dashboard_api):
    assert httpx.get(dashboard_api + "/healthz").json() == {"status": "ok"}
    assert httpx.get(dashboard_api + "/readyz").status_code == 200
    assert "paths" in httpx.get(dashboard_api + "/openapi.json").json()
    assert "swagger" in httpx.get(dashboard_api + "/docs").text.lower()
    assert "microdash_" in httpx.get(dashboard_api + "/metrics").text
    assert httpx.get(dashboard_api + "/api/v1/auth/me").status_code == 401


def test_without_a_build_the_root_says_how_to_build(stack, tmp_path):
    with extra_api(stack, tmp_path, MICRODASH_FRONTEND_DIR=str(tmp_path / "not-built")) as url:
        response = httpx.get(url + "/")
        assert response.status_code == 503 and "The dashboard is not built" in response.text
        assert "make frontend" in response.text
        assert httpx.get(url + "/healthz").status_code == 200
