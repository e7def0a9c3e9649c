"""The one error the engine raises; its kind tells the HTTP edge which status to answer."""

BAD_DATA = "bad_data"
EXECUTION = "execution"
UNSUPPORTED = "unsupported"
LIMIT = "limit"
TIMEOUT = "timeout"


class PromQLError(Exception):
    """kind: "bad_data" (parse and type errors, bad arguments: HTTP 400), "execution" (the query is
    well formed but its data makes it fail, e.g. many-to-many matching: 422, Prometheus's errorType
    "execution"), "unsupported" (a function or feature the engine lacks, named in the message: 422),
    "limit" (series or points over QueryLimits: 422), "timeout" (QueryLimits.timeout_seconds: 503)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message
