"""422 answers for bodies, queries and headers that fail validation: FastAPI's shape
(``{"detail": [{"type", "loc", "msg", "input"}]}``) without echoing large input back: only a
short scalar input is shown, long names in the location are cut, and only the first errors are listed."""

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from .responses import OrjsonResponse

MAX_ERRORS = 20
MAX_TEXT = 100
# Messages are ours or Pydantic's, not the input, and a cut one loses its advice (a channel's
# "give the CA certificates as PEM text in ca_pem", say); bounded all the same.
MAX_MESSAGE = 300


async def invalid_request(request: Request, exc: RequestValidationError) -> OrjsonResponse:
    return OrjsonResponse({"detail": [_brief(error) for error in exc.errors()[:MAX_ERRORS]]}, status_code=422)


def _brief(error: dict) -> dict:
    brief = {"type": error.get("type"), "loc": [_cut(part) for part in error.get("loc", ())],
             "msg": _cut(str(error.get("msg", "")), MAX_MESSAGE)}
    value = error.get("input")
    if value is None or isinstance(value, bool | float) or _small(value):
        brief["input"] = value
    return brief


def _small(value: object) -> bool:
    """Short text, or an integer JSON (orjson) can write: past 64 bits it raises, which was a 500."""
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _cut(part: object, limit: int = MAX_TEXT) -> object:
    return part[:limit] + "…" if isinstance(part, str) and len(part) > limit else part
