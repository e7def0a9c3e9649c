"""Prometheus' response envelope: {"status": "success", "data": ...} and
{"status": "error", "errorType": ..., "error": ...}, with Prometheus' HTTP status per error type."""

from ..responses import OrjsonResponse

# What Prometheus answers for each errorType; "limit" and "unsupported" are the engine's kinds
# for a query refused before or while it runs (Prometheus says "execution" with 422 for both).
STATUS_OF = {"bad_data": 400, "execution": 422, "unsupported": 422, "limit": 422, "timeout": 503,
             "canceled": 503, "unavailable": 503, "internal": 500, "not_found": 404, "unauthorized": 401,
             "forbidden": 403}
_TYPE_SHOWN = {"unsupported": "execution", "limit": "execution"}


class PrometheusApiError(Exception):
    def __init__(self, error_type: str, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.headers = headers


def bad_parameter(name: str, reason: str) -> PrometheusApiError:
    return PrometheusApiError("bad_data", f"invalid parameter {name!r}: {reason}")


def success(data, warnings: list[str] | None = None) -> OrjsonResponse:
    body = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return OrjsonResponse(body)


def error_response(exc: PrometheusApiError) -> OrjsonResponse:
    body = {"status": "error", "errorType": _TYPE_SHOWN.get(exc.error_type, exc.error_type), "error": exc.message}
    headers = dict(exc.headers or {})
    if exc.error_type in ("timeout", "unavailable"):
        headers.setdefault("Retry-After", "5")
    return OrjsonResponse(body, status_code=STATUS_OF.get(exc.error_type, 500), headers=headers)
