"""POST /api/v1/write: Prometheus remote-write 1.0 (protobuf, snappy), admitted through the shared
ingest path like JSON and answered as the protocol's senders expect: 204 once queued; 4xx, never
retried, with the reason in a plain-text body; 5xx and 429 (with Retry-After), which they retry."""

import time

from fastapi import APIRouter, Request, Response, status

from ..deps import StateDep, WriterTenant
from ..errors import ApiError
from ..ingest_pipeline import admit
from ..protocols.prometheus_remote_write import DecodedWrite, LabelSetCache, UndecodableWrite, WriteTooLarge, decode
from ..telemetry import INGEST_DROPPED, INGEST_REQUESTS
from ..text_errors import TextErrorsRoute, error_text

router = APIRouter(prefix="/api/v1/write", tags=["ingest"], route_class=TextErrorsRoute)
ENDPOINT = "remote_write"
# A remote-write 2.0 sender that gets 415 falls back to 1.0.
WRITE_REQUEST_PROTO = "prometheus.WriteRequest"
# Series seen lately, per api process; ~2 KB each at node_exporter's label sets.
LABEL_SETS = LabelSetCache(max_entries=20_000)

_DOC = {"requestBody": {"required": True, "content": {"application/x-protobuf": {"schema": {
    "type": "string", "format": "binary",
    "description": "a snappy-compressed (block format) prometheus.WriteRequest; Content-Encoding: snappy"}}}},
    "responses": {"204": {"description": "queued"},
                  "400": {"description": "undecodable, or invalid samples naming their series (text/plain)"},
                  "413": {"description": "too large (text/plain reason)"},
                  "415": {"description": "not remote-write 1.0 protobuf with snappy (text/plain reason)"}}}


@router.post("", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, openapi_extra=_DOC,
             summary="Prometheus remote-write 1.0")
async def remote_write(request: Request, tenant: WriterTenant, state: StateDep) -> Response:
    try:
        _check_headers(request)
        decoded = _decode(await request.body(), state)
    except ApiError as exc:
        INGEST_REQUESTS.labels(ENDPOINT, str(exc.status_code)).inc()
        raise
    if decoded.items:
        try:
            # 400, not JSON ingest's 422: vmagent drops a refused block only on 400 (or 409) and
            # would retry any other 4xx for ever.
            await admit(state, tenant, decoded.items, endpoint=ENDPOINT, ok_status=status.HTTP_204_NO_CONTENT,
                        invalid_status=status.HTTP_400_BAD_REQUEST)
        except ApiError as exc:
            raise _naming_series(exc, decoded) from exc
    else:  # only metadata, or only stale markers: nothing to queue, nothing wrong
        INGEST_REQUESTS.labels(ENDPOINT, str(status.HTTP_204_NO_CONTENT)).inc()
    for reason, count in decoded.dropped.items():
        INGEST_DROPPED.labels(ENDPOINT, reason).inc(count)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _check_headers(request: Request) -> None:
    content_type, _, parameters = request.headers.get("content-type", "").partition(";")
    if content_type.strip().lower() != "application/x-protobuf":
        raise ApiError(415, "Content-Type must be application/x-protobuf (Prometheus remote-write 1.0)")
    proto = dict(_parameter(text) for text in parameters.split(";") if "=" in text).get("proto")
    if proto not in (None, WRITE_REQUEST_PROTO):
        raise ApiError(415, f"only remote-write 1.0 ({WRITE_REQUEST_PROTO}) is supported, not {proto[:100]}")
    if request.headers.get("content-encoding", "").strip().lower() != "snappy":
        raise ApiError(415, "Content-Encoding must be snappy")


def _parameter(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    return name.strip().lower(), value.strip().strip('"')


def _decode(body: bytes, state: StateDep) -> DecodedWrite:
    settings = state.settings
    try:
        # Plainly valid samples come back validated (validate_many passes them through); anything
        # else as sample items, for validate_many to say what is wrong.
        return decode(body, label_sets=LABEL_SETS, max_decompressed_bytes=settings.max_remote_write_decompressed_bytes,
                      max_samples=settings.max_bulk_samples, max_labels=settings.max_labels,
                      validator=state.validator, now_ms=int(time.time() * 1000))
    except WriteTooLarge as exc:
        raise ApiError(413, f"{exc}; nothing was stored") from exc
    except UndecodableWrite as exc:
        raise ApiError(400, f"{exc}; nothing was stored") from exc


def _naming_series(exc: ApiError, decoded: DecodedWrite) -> ApiError:
    """The shared path reports errors by item index; the sender knows series, not items."""
    if not exc.errors:
        return exc
    errors = [{**error, "series": decoded.series_of(error["index"])} if error.get("index", -1) >= 0 else error
              for error in exc.errors]
    first = error_text(ApiError(exc.status_code, "", errors=errors[:1])).strip()
    return ApiError(exc.status_code, f"{exc.detail}: {first}", errors=errors, headers=exc.headers)
