"""How long each resolution is kept: the configured default, or the tenant's own override."""

from dataclasses import dataclass

from pymysql.cursors import Cursor

from microdash_core import chunks
from microdash_core.settings import Settings
from microdash_core.tenants import limits

DAY_MS = 86_400_000
# Cut-offs are aligned to the widest rollup bucket, so a bounded delete never splits a bucket
# that a late sample could later re-roll from what is left of it.
CUTOFF_ALIGNMENT_MS = 300_000


@dataclass(frozen=True)
class Table:
    """A table of one resolution: rows with time_column < the cut-off are past retention.
    row_weight: how many head rows' worth of data one row holds, so a bounded delete of this
    table takes RETENTION_DELETE_CHUNK / row_weight rows and moves about as many bytes."""
    name: str
    time_column: str
    row_weight: int = 1

    def delete_limit(self, settings: Settings) -> int:
        return max(1, settings.retention_delete_chunk // self.row_weight)


@dataclass(frozen=True)
class Resolution:
    name: str
    tables: tuple[Table, ...]
    days_column: str  # one of tenants.limits.RETENTION_COLUMNS, and the settings attribute of the default
    cutoff_alignment_ms: int = CUTOFF_ALIGNMENT_MS

    def default_days(self, settings: Settings) -> int:
        return getattr(settings, self.days_column)

    def cutoff(self, now_ms: int, days: int) -> int:
        """Rows older than this (time < cutoff) are past a retention of `days`."""
        return cutoff_ms(now_ms, days, alignment_ms=self.cutoff_alignment_ms)


# Raw samples live in the legacy head (`samples`, a row per sample, partitioned until emptied) and in sealed chunks (`sample_chunks`,
# a row per series and 2 h window, ~720 samples at 10 s). A chunk goes whole or not at all, so the
# raw cut-off is aligned to a window: `window_start < cutoff` then means the window ends by the
# cut-off (window_start + WINDOW_MS <= cutoff), and the head is cut at the same instant, so a sample
# is kept or dropped alike whether it was sealed yet or not. Raw retention is thereby rounded up
# to the next 2 h. (`window_start < cutoff` rather than the sum keeps partition pruning.)
# The log (`sample_log`, a row per stored batch and series bucket, compacted into chunk parts
# within seconds) loses a row once its newest sample is past the cut-off; its older samples of a row that straddles the
# cut-off go with their chunk at the next run.
LOG = Table("sample_log", "last_ts", row_weight=1_000)
HEAD = Table("samples", "ts")
CHUNKS = Table("sample_chunks", "window_start", row_weight=100)
RAW = Resolution("raw", (LOG, HEAD, CHUNKS), "retention_raw_days", cutoff_alignment_ms=chunks.WINDOW_MS)
ONE_MINUTE = Resolution("1m", (Table("samples_1m", "bucket_ts"),), "retention_1m_days")
FIVE_MINUTES = Resolution("5m", (Table("samples_5m", "bucket_ts"),), "retention_5m_days")
RESOLUTIONS = (RAW, ONE_MINUTE, FIVE_MINUTES)


def cutoff_ms(now_ms: int, days: int, *, alignment_ms: int = CUTOFF_ALIGNMENT_MS) -> int:
    """Rows older than this (ts < cutoff) are past a retention of `days`. At the default alignment
    it is never earlier than RAW.cutoff, so no raw row at or after it has been deleted yet."""
    cutoff = now_ms - days * DAY_MS
    return cutoff - cutoff % alignment_ms


def tenant_days(cursor: Cursor, settings: Settings, resolution: Resolution) -> dict[int, int]:
    """Every tenant's retention for the resolution, in days."""
    return limits.retention_days_by_tenant(cursor, column=resolution.days_column,
                                           default_days=resolution.default_days(settings))


def days_of_tenant(cursor: Cursor, settings: Settings, resolution: Resolution, tenant_id: int) -> int:
    return limits.retention_days_of(cursor, column=resolution.days_column,
                                    default_days=resolution.default_days(settings), tenant_id=tenant_id)
