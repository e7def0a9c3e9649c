"""The API reference at /docs: Swagger UI from the swagger-ui-bundle-v2 package, served by the api
itself so that reading the reference loads nothing from a CDN. Its one inline script is allowed
by its hash, not by 'unsafe-inline'."""

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def mount(app: FastAPI) -> None:
    """Call with FastAPI(docs_url=None, redoc_url=None): the built-in pages load their assets from a CDN."""
    page = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} API reference",
                               swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                               swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png").body
    policy = _policy(page.decode())
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def reference() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})


def _policy(page: str) -> str:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
                      for script in INLINE_SCRIPT.findall(page))
    return (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
            " object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
