"""Running the API under uvicorn (`microdash api`)."""

import uvicorn

from microdash_core.settings import Settings


def run_api(settings: Settings, *, workers: int = 1) -> None:
    uvicorn.run("microdash_api.app:create_app", factory=True, host=settings.api_host, port=settings.api_port,
                workers=workers, forwarded_allow_ips=settings.forwarded_allow_ips, log_config=None, access_log=False, loop="uvloop", http="httptools",
                timeout_graceful_shutdown=5)
