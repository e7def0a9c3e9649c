"""Throwaway MariaDB, Redis and Mosquitto instances for the bench's stand-alone measurements."""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from microdash_cli.localstack import ServiceInstances
from microdash_core.settings import Settings


@contextmanager
def throwaway_services(prefix: str) -> Iterator[tuple[ServiceInstances, Settings, Path]]:
    """Started services, settings pointing at them and their data directory; all removed after."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    services = ServiceInstances(root)
    try:
        services.start()
        env = services.environment()
        yield services, Settings(database_url=env["MICRODASH_DATABASE_URL"], redis_url=env["MICRODASH_REDIS_URL"]), root
    finally:
        services.stop()
        shutil.rmtree(root, ignore_errors=True)
