"""Scheduled housekeeping jobs."""

from microdash_core import migrate
from microdash_core.settings import get_settings


def maintain_partitions() -> list[str]:
    """Create the coming days' sample partitions ahead of time."""
    return migrate.maintain_partitions(get_settings())
