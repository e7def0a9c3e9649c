"""Errors as plain text, for protocols whose clients log the body's first line as the reason (the
Prometheus remote-write sender does) instead of reading microdash's JSON error body."""

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.responses import PlainTextResponse

from .errors import ApiError

MAX_ERROR_LINES = 20


class TextErrorsRoute(APIRoute):
    """Answers every HTTPException of the route, its dependencies' too (401, 403), in plain text."""

    def get_route_handler(self):
        handle = super().get_route_handler()

        async def handle_with_text_errors(request: Request) -> Response:
            try:
                return await handle(request)
            except HTTPException as exc:
                return PlainTextResponse(error_text(exc), status_code=exc.status_code, headers=exc.headers)

        return handle_with_text_errors


def error_text(exc: HTTPException) -> str:
    """The reason on the first line, then one line per reported error."""
    lines = [str(exc.detail)]
    if isinstance(exc, ApiError) and exc.errors:
        lines += [_error_line(error) for error in exc.errors[:MAX_ERROR_LINES]]
    return "\n".join(lines) + "\n"


def _error_line(error: dict) -> str:
    where = error.get("series") or f"item {error.get('index')}"
    field = f" {error['field']}" if error.get("field") else ""
    return f"{where}{field}: {error.get('error')}"
