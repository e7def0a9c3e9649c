"""POST /api/v2/write and /write (InfluxDB 2.x and 1.x): line protocol through the shared ingest path.

Answers as InfluxDB does, so Telegraf and the Influx clients act on them: 204 once queued, errors
as `{"code", "message"}` (with `line`, the first bad line). A batch is stored whole or not at all,
like JSON bulk: one bad line answers 400 naming it. `org`, `bucket`, `db` and `rp` are accepted and
ignored: the tenant comes from the token (docs/integrations.md)."""

import time

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from ..auth import TenantContext
from ..body import read_decoded_body
from ..deps import ProtocolTenant, StateDep
from ..errors import ApiError
from ..ingest_pipeline import admit
from ..protocols import influx_line_protocol
from ..responses import OrjsonResponse
from ..state import AppState
from ..telemetry import INGEST_DROPPED, INGEST_REJECTED, INGEST_REQUESTS

LINE_PROTOCOL_TYPES = frozenset(("", "text/plain", "application/octet-stream",
                                 # what curl --data-binary sends, as in InfluxDB's own examples
                                 "application/x-www-form-urlencoded"))
ERRORS_NAMED = 10
INFLUX_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not found", 413: "request too large",
                415: "unsupported media type", 422: "unprocessable entity", 429: "too many requests",
                503: "unavailable"}
IGNORED = "accepted and ignored: the tenant comes from the token"


class InfluxRoute(APIRoute):
    """Every error of these routes, the token's included, in InfluxDB's error format."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return influx_error(400, f"invalid query parameter: {_first_problem(exc)}")
            except HTTPException as exc:
                return influx_error(exc.status_code, str(exc.detail), exc.headers, line=getattr(exc, "line", None),
                                    v1=request.url.path == "/write")

        return handle


router = APIRouter(tags=["ingest: Influx line protocol"], route_class=InfluxRoute)
_ANSWERS = {204: {"description": "queued; X-Microdash-Accepted-Samples and X-Microdash-Skipped-String-Fields"
                                 " count what was queued and the string fields skipped"}}
_BODY = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"},
                                                                       "example": "cpu,host=n1 usage_idle=97.5"}}}}


@router.post("/api/v2/write", status_code=204, responses=_ANSWERS, openapi_extra=_BODY)
async def write_v2(request: Request, tenant: ProtocolTenant, state: StateDep,
                   precision: str = Query("ns", max_length=8, description="ns, us, ms or s"),
                   org: str | None = Query(None, max_length=256, description=IGNORED),
                   bucket: str | None = Query(None, max_length=256, description=IGNORED)) -> Response:
    return await _write(request, tenant, state, _precision(precision, influx_line_protocol.V2_PRECISIONS), "influx_v2")


@router.post("/write", status_code=204, responses=_ANSWERS, openapi_extra=_BODY)
async def write_v1(request: Request, tenant: ProtocolTenant, state: StateDep,
                   precision: str = Query("ns", max_length=8, description="n or ns, u or us, ms, s, m, h"),
                   db: str | None = Query(None, max_length=256, description=IGNORED),
                   rp: str | None = Query(None, max_length=256, description=IGNORED)) -> Response:
    return await _write(request, tenant, state, _precision(precision, influx_line_protocol.V1_PRECISIONS), "influx_v1")


async def _write(request: Request, tenant: TenantContext, state: AppState, precision: str,
                 endpoint: str) -> Response:
    max_bytes = state.settings.max_body_bytes
    try:
        _check_content_type(request)
        body = await read_decoded_body(request, max_bytes)
        decoded = _decode(body, precision, state)
    except ApiError as exc:
        INGEST_REQUESTS.labels(endpoint, str(exc.status_code)).inc()
        raise
    INGEST_DROPPED.labels(endpoint, "string_field").inc(decoded.skipped_string_fields)
    accepted = 0
    if decoded.items:  # a body of comments or string fields only has nothing to queue
        try:
            accepted = (await admit(state, tenant, decoded.items, endpoint=endpoint, ok_status=204,
                                    invalid_status=400)).accepted
        except ApiError as exc:
            raise _by_line(exc, decoded.lines) from exc
    else:
        INGEST_REQUESTS.labels(endpoint, "204").inc()
    return Response(status_code=204, headers={"X-Microdash-Accepted-Samples": str(accepted),
                                              "X-Microdash-Skipped-String-Fields": str(decoded.skipped_string_fields)})


def _precision(precision: str, known: dict[str, str]) -> str:
    if precision not in known:
        raise ApiError(400, f"precision must be one of {', '.join(known)}")
    return known[precision]


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    kind, _, parameters = content_type.partition(";")
    if kind.strip().lower() not in LINE_PROTOCOL_TYPES:
        raise ApiError(415, "Content-Type must be text/plain (line protocol)")
    charset = parameters.strip().lower().removeprefix("charset=")
    if charset and charset not in ("utf-8", "utf8"):
        raise ApiError(415, "line protocol must be UTF-8")


def _decode(body: bytes, precision: str, state: AppState) -> influx_line_protocol.DecodedLines:
    max_samples = state.settings.max_bulk_samples
    try:
        # Plainly valid samples come back validated (validate_many passes them through); anything
        # else as sample items, for validate_many to say what is wrong.
        return influx_line_protocol.decode(body, precision=precision, max_samples=max_samples,
                                           validator=state.validator, now_ms=int(time.time() * 1000))
    except influx_line_protocol.LineError as exc:
        INGEST_REJECTED.labels("invalid").inc()
        raise _LineApiError(400, f"{exc}; nothing was stored", exc.line) from exc
    except influx_line_protocol.TooManySamples as exc:
        raise ApiError(413, f"{exc}; send smaller batches (Telegraf: a smaller metric_batch_size)") from exc


class _LineApiError(ApiError):
    def __init__(self, status_code: int, detail: str, line: int | None, headers: dict | None = None):
        super().__init__(status_code, detail, headers=headers)
        self.line = line


def _by_line(exc: ApiError, lines: list[int]) -> ApiError:
    """The shared path's sample indexes made into line numbers (it answers invalid samples and new
    series beyond the limit with InfluxDB's 400 for a batch with bad points)."""
    if not exc.errors:
        return exc
    named = [f"line {lines[error['index']]}: {error['field'] or 'sample'}: {error['error']}"
             for error in exc.errors[:ERRORS_NAMED] if 0 <= error.get("index", -1) < len(lines)]
    if not named:
        return exc
    more = f" (and {len(exc.errors) - len(named)} more)" if len(exc.errors) > len(named) else ""
    return _LineApiError(400, f"{exc.detail}: {'; '.join(named)}{more}", lines[exc.errors[0]["index"]], exc.headers)


def influx_error(status: int, message: str, headers: dict | None = None, *, line: int | None = None,
                 v1: bool = False) -> OrjsonResponse:
    body: dict = {"code": INFLUX_CODES.get(status, "internal error"), "message": message}
    if line is not None:
        body["line"] = line
    if v1:
        body["error"] = message  # InfluxDB 1.x's field, which Telegraf's outputs.influxdb logs
    return OrjsonResponse(body, status_code=status, headers=headers)


def _first_problem(exc: RequestValidationError) -> str:
    error = exc.errors()[0] if exc.errors() else {}
    return f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
