"""POST /v1/metrics: OTLP/HTTP metrics, protobuf or JSON, through the shared ingest path.

As the OTLP spec says: 200 with an ExportMetricsServiceResponse in the request's encoding; data
points that cannot be stored are dropped and counted in its partial_success (rejected_data_points,
error_message) while the rest are queued; a request that cannot be decoded, or none of whose points
can be stored, is 400; errors carry a google.rpc.Status; 429 and 503 come with Retry-After."""

import asyncio

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from ..protocols import otlp_metrics
from ..state import AppState
from ..body import read_decoded_body
from ..deps import ProtocolTenant, StateDep
from ..errors import ApiError
from ..ingest_pipeline import admit
from ..telemetry import INGEST_DROPPED, INGEST_REJECTED, INGEST_REQUESTS

PROTOBUF, JSON = "application/x-protobuf", "application/json"
ENDPOINT = "otlp"
RPC_CODES = {400: code_pb2.INVALID_ARGUMENT, 401: code_pb2.UNAUTHENTICATED, 403: code_pb2.PERMISSION_DENIED,
             404: code_pb2.NOT_FOUND, 413: code_pb2.RESOURCE_EXHAUSTED, 415: code_pb2.INVALID_ARGUMENT,
             422: code_pb2.INVALID_ARGUMENT, 429: code_pb2.RESOURCE_EXHAUSTED, 503: code_pb2.UNAVAILABLE}


class OtlpRoute(APIRoute):
    """Every error of this route, the token's included, as a google.rpc.Status in the request's encoding."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError:
                return status_response(request, 400, "invalid request")
            except HTTPException as exc:
                return status_response(request, exc.status_code, str(exc.detail), exc.headers)

        return handle


router = APIRouter(tags=["ingest: OTLP"], route_class=OtlpRoute)
_BODY = {"requestBody": {"required": True, "content": {
    PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
    JSON: {"schema": {"type": "object", "description": "ExportMetricsServiceRequest in OTLP's JSON encoding"}}}}}


@router.post("/v1/metrics", responses={200: {"description": "ExportMetricsServiceResponse"}}, openapi_extra=_BODY)
async def export_metrics(request: Request, tenant: ProtocolTenant, state: StateDep) -> Response:
    settings = state.settings
    try:
        json = _is_json(request)
        body = await read_decoded_body(request, settings.max_body_bytes)
        decoded = await _decode(body, json, settings.max_bulk_samples, settings.max_labels)
        items = _storable(state, decoded)
    except ApiError as exc:
        INGEST_REQUESTS.labels(ENDPOINT, str(exc.status_code)).inc()
        raise
    if items:
        # 400: OTLP's answer to a request that will never be taken (here, new series beyond the limit)
        await admit(state, tenant, items, endpoint=ENDPOINT, ok_status=200, invalid_status=400)
    else:
        INGEST_REQUESTS.labels(ENDPOINT, "200").inc()
    INGEST_DROPPED.labels(ENDPOINT, "no_recorded_value").inc(decoded.no_recorded_value)
    return _export_response(decoded, json)


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type not in (PROTOBUF, JSON):
        raise ApiError(415, f"Content-Type must be {PROTOBUF} or {JSON}")
    return content_type == JSON


async def _decode(body: bytes, json: bool, max_samples: int, max_labels: int) -> otlp_metrics.DecodedMetrics:
    try:
        # Parsing JSON into protobuf messages is pure Python: off the event loop, so other requests go on.
        message = await asyncio.to_thread(otlp_metrics.parse, body, json=json) if json else otlp_metrics.parse(
            body, json=False)
        return otlp_metrics.decode(message, max_samples=max_samples, max_labels=max_labels)
    except otlp_metrics.UndecodableRequest as exc:
        raise ApiError(400, str(exc)) from exc
    except otlp_metrics.TooManySamples as exc:
        raise ApiError(413, f"{exc}; send smaller batches (Collector: send_batch_max_size)") from exc


def _storable(state: AppState, decoded: otlp_metrics.DecodedMetrics) -> list[dict]:
    """The items of points with no invalid sample; the others are rejected whole, and when nothing is
    left the request is a 400 naming the reasons."""
    _, errors = state.validator.validate_many(decoded.items) if decoded.items else ([], [])
    for error in errors:
        decoded.reject(decoded.points[error.index], f"{error.field or 'sample'}: {error.error}")
    if decoded.rejected_points:
        INGEST_REJECTED.labels("invalid").inc(len(decoded.rejected_points))  # data points, as OTLP counts them
    rejected = decoded.rejected_points
    items = [item for item, point in zip(decoded.items, decoded.points) if point not in rejected]
    if not items and rejected:
        raise ApiError(400, f"all {len(rejected)} data points were rejected: {_reasons(decoded)}")
    return items


def _reasons(decoded: otlp_metrics.DecodedMetrics) -> str:
    return "; ".join(decoded.reasons)


def _export_response(decoded: otlp_metrics.DecodedMetrics, json: bool) -> Response:
    answer = ExportMetricsServiceResponse()
    if decoded.rejected_points:
        answer.partial_success.rejected_data_points = len(decoded.rejected_points)
        answer.partial_success.error_message = _reasons(decoded)
    return _encoded(answer, json, 200)


def status_response(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    json = request.headers.get("content-type", "").partition(";")[0].strip().lower() != PROTOBUF
    return _encoded(status_pb2.Status(code=RPC_CODES.get(status, code_pb2.INTERNAL), message=message), json, status,
                    headers)


def _encoded(message, json: bool, status: int, headers: dict | None = None) -> Response:
    if json:
        return Response(json_format.MessageToJson(message, indent=None), status_code=status, media_type=JSON,
                        headers=headers)
    return Response(message.SerializeToString(), status_code=status, media_type=PROTOBUF, headers=headers)
