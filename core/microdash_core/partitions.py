"""Daily range partitions of the samples table, created ahead of time."""

import datetime as dt
import logging

from pymysql.cursors import Cursor

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
FUTURE = "p_future"


def day_partition_name(day: dt.date) -> str:
    return f"p{day:%Y%m%d}"


def day_end_ms(day: dt.date) -> int:
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    return int(midnight.timestamp() * 1000)


def existing_partitions(cursor: Cursor, table: str = "samples") -> dict[str, int | None]:
    cursor.execute(
        "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    )
    return {name: (None if bound == "MAXVALUE" else int(bound)) for name, bound in cursor.fetchall()}


def ensure_partitions(cursor: Cursor, *, today: dt.date, days_back: int, days_ahead: int, table: str = "samples") -> list[str]:
    """Split the catch-all partition so that each day from today-days_back to today+days_ahead has its own.

    Idempotent; only days later than the newest existing daily partition are added, so the
    reorganised partition (p_future) is normally empty and the operation is instant.
    """
    partitions = existing_partitions(cursor, table)
    bounds = [bound for bound in partitions.values() if bound is not None]
    newest_bound = max(bounds, default=None)
    wanted = [today + dt.timedelta(days=offset) for offset in range(-days_back, days_ahead + 1)]
    missing = [day for day in wanted if newest_bound is None or day_end_ms(day) > newest_bound]
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
    log.info("created sample partitions", extra={"partitions": names})
    return names
