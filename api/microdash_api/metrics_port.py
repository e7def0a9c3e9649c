"""With MICRODASH_METRICS_PORT, /metrics answers on that port only, and that port answers nothing
else: an ingress or a port-forward to the api then never exposes the platform's internals."""

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

METRICS_PATH = "/metrics"


class MetricsPortOnly:
    def __init__(self, app: ASGIApp, metrics_port: int):
        self.app = app
        self.metrics_port = metrics_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            local_port = (scope.get("server") or (None, None))[1]
            if (scope["path"] == METRICS_PATH) != (local_port == self.metrics_port):
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)
