"""HTTP errors with a machine-readable body: ``{"detail": str, "errors": [...]}``."""

from fastapi import HTTPException


class ApiError(HTTPException):
    def __init__(self, status_code: int, detail: str, *, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(status_code, detail, headers=headers)
        self.errors = errors


def service_unavailable(what: str, retry_after: int = 5) -> ApiError:
    return ApiError(503, f"{what} unavailable, retry later", headers={"Retry-After": str(retry_after)})
