"""Scheduled housekeeping jobs."""

from microdash_core import migrate
from microdash_core.settings import get_settings


def maintain_partitions() -> dict[str, list[str]]:
    """Create the coming days' partitions of the sample and rollup tables ahead of time."""
    return migrate.maintain_partitions(get_settings())
