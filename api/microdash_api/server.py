"""Running the API under uvicorn (`microdash api`)."""

import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from microdash_core import heap
from microdash_core.settings import Settings

from .app import create_app

APP = "microdash_api.server:create_served_app"
# On SIGTERM uvicorn lets requests in flight (live streams included) finish for this long. The
# chart's grace period for api pods is derived from it (charts/microdash/templates/_helpers.tpl).
GRACEFUL_SHUTDOWN_SECONDS = 5


def create_served_app():
    """The app as `microdash api` serves it: made, then its objects kept out of the collector's full
    collections (microdash_core.heap; tests that make many apps have no need of it)."""
    app = create_app()
    heap.collect_garbage_less_often()
    return app


def run_api(settings: Settings, *, workers: int = 1) -> None:
    config = uvicorn.Config(APP, factory=True, host=settings.api_host, port=settings.api_port, workers=workers,
                            forwarded_allow_ips=settings.forwarded_allow_ips, log_config=None, access_log=False,
                            loop="uvloop", http="httptools", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    sockets = [config.bind_socket()]
    if settings.metrics_port is not None:
        sockets.append(uvicorn.Config(APP, host=settings.api_host, port=settings.metrics_port).bind_socket())
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=sockets).run()
        return
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(3)  # uvicorn's startup-failure status
