"""Daily range partitions of the sample tables (raw chunks and rollups): created ahead of time,
dropped whole by retention. The legacy head gets none, and loses its partitioning once empty."""

import datetime as dt
import logging

import pymysql
from pymysql.cursors import Cursor

from .db import LOCK_WAIT_TIMEOUT

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
FUTURE = "p_future"
# Every table kept range-partitioned by day on its time column.
PARTITIONED_TABLES = ("samples_1m", "samples_5m", "sample_chunks")
# The legacy head (a row per sample, written before the log, 0011): no longer written, so it needs
# no partitions for coming days; each would be a file of its own (~64 KiB) holding nothing.
LEGACY_HEAD = "samples"


def day_partition_name(day: dt.date) -> str:
    return f"p{day:%Y%m%d}"


def day_end_ms(day: dt.date) -> int:
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    return int(midnight.timestamp() * 1000)


def day_starting_at(midnight_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(midnight_ms / 1000, tz=dt.timezone.utc).date()


def existing_partitions(cursor: Cursor, table: str) -> dict[str, int | None]:
    """The table's partitions and their upper bounds (None: MAXVALUE); empty if it has none."""
    cursor.execute(
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND PARTITION_NAME IS NOT NULL",
        (table,),
    )
    return {name: (None if bound == "MAXVALUE" else int(bound)) for name, bound in cursor.fetchall()}


def ensure_partitions(cursor: Cursor, *, today: dt.date, days_back: int, days_ahead: int, table: str) -> list[str]:
    """Split the catch-all partition so that each day up to today+days_ahead has its own, starting
    at today-days_back or right after the newest existing daily partition.

    Idempotent; only days later than the newest existing daily partition are added, so the
    reorganised partition (p_future) is normally empty and the operation is instant. Days missed
    while this did not run get their own partitions too, so retention can still drop them by day.
    """
    partitions = existing_partitions(cursor, table)
    newest_bound = max((bound for bound in partitions.values() if bound is not None), default=None)
    first = today - dt.timedelta(days=days_back) if newest_bound is None else day_starting_at(newest_bound)
    missing = [first + dt.timedelta(days=offset)
               for offset in range((today + dt.timedelta(days=days_ahead) - first).days + 1)]
    if not missing:
        return []
    definitions = ", ".join(
        f"PARTITION {day_partition_name(day)} VALUES LESS THAN ({day_end_ms(day)})" for day in missing
    )
    cursor.execute(
        f"ALTER TABLE {table} REORGANIZE PARTITION {FUTURE} INTO"
        f" ({definitions}, PARTITION {FUTURE} VALUES LESS THAN MAXVALUE)"
    )
    names = [day_partition_name(day) for day in missing]
    log.info("created partitions", extra={"table": table, "partitions": names})
    return names


def drop_partitions_before(cursor: Cursor, *, table: str, cutoff_ms: int) -> list[str]:
    """Drop the daily partitions whose every row is older than cutoff_ms (never p_future)."""
    expired = sorted(name for name, bound in existing_partitions(cursor, table).items()
                     if bound is not None and bound <= cutoff_ms)
    if expired:
        cursor.execute(f"ALTER TABLE {table} DROP PARTITION {', '.join(expired)}")
        log.info("dropped partitions", extra={"table": table, "partitions": expired})
    return expired


def remove_partitioning_if_empty(cursor: Cursor, table: str, *, lock_wait_seconds: int) -> bool:
    """Turn a partitioned table that holds no row into an unpartitioned one: one small file instead
    of one per partition. A table with rows is left as it is (that would be a copy of every row),
    as is one whose metadata lock is not had within lock_wait_seconds (the next call tries again).
    A row written between the check and the ALTER is copied with the table, never lost."""
    if not existing_partitions(cursor, table):
        return False
    cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")
    holds_rows = cursor.fetchone() is not None
    cursor.connection.commit()  # no snapshot of ours may hold the table's metadata lock
    if holds_rows:
        return False
    try:
        cursor.execute(f"ALTER TABLE {table} WAIT {int(lock_wait_seconds)} REMOVE PARTITIONING")
    except pymysql.err.MySQLError as exc:
        if exc.args[0] != LOCK_WAIT_TIMEOUT:
            raise
        log.warning("the empty table's partitioning stays until the next try: no metadata lock",
                    extra={"table": table})
        return False
    log.info("removed the empty table's partitioning", extra={"table": table})
    return True
