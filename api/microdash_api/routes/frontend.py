"""The built dashboard (frontend/dist) on the API's origin: hashed files under /assets are cached
for good (a missing one is a 404), any other GET that is not an API path gets index.html (the app
routes in the browser)."""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from microdash_core.settings import Settings

from ..errors import ApiError

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The API's paths outside /api/ too: InfluxDB 1.x's /write, OTLP's /v1/metrics and the Prometheus API.
SERVER_PREFIXES = ("api/", "docs/", "redoc/", "v1/", "prometheus/")
SERVER_PATHS = frozenset(("api", "write", "prometheus"))
ASSETS_PREFIX = "assets/"
DEFAULT_DIST = Path(__file__).resolve().parents[3] / "frontend" / "dist"
NOT_BUILT = ("<!doctype html><title>microdash</title><h1>The dashboard is not built</h1>"
             "<p>Run <code>make frontend</code> (or <code>npm ci && npm run build</code> in frontend/), "
             "or point MICRODASH_FRONTEND_DIR at a built dashboard. The API works: see <a href=/docs>/docs</a>.</p>")


def frontend_dir(settings: Settings) -> Path:
    return settings.frontend_dir or DEFAULT_DIST


def router_for(settings: Settings) -> APIRouter:
    """Register last: it answers every GET path no other route took."""
    dist = frontend_dir(settings).resolve()
    router = APIRouter(include_in_schema=False)

    @router.api_route("/{path:path}", methods=["GET", "HEAD"])
    async def dashboard(path: str, request: Request):
        if path in SERVER_PATHS or path.startswith(SERVER_PREFIXES):
            raise ApiError(404, "Not Found")
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": REVALIDATE})
        file = _file_inside(dist, path)
        hashed = path.startswith(ASSETS_PREFIX)
        if file is None and hashed:
            # A stale page asking for a previous build's chunk: index.html would fail as a script anyway.
            raise ApiError(404, "no such asset (the dashboard was rebuilt: reload the page)")
        if file is None:
            return FileResponse(index, headers={"Cache-Control": REVALIDATE})
        return FileResponse(file, headers={"Cache-Control": IMMUTABLE if hashed else REVALIDATE})

    return router


def _file_inside(dist: Path, path: str) -> Path | None:
    """The file the path names inside dist, None for directories, missing files and escapes (../)."""
    if not path:
        return None
    candidate = (dist / path).resolve()
    return candidate if candidate.is_file() and candidate.is_relative_to(dist) else None
