"""Returning a head table's freed pages to the file system (docs/storage.md, "Reclaiming the head").

Sealing deletes head rows, and InnoDB keeps the emptied pages in the table's files (it reuses them
for later rows, it never shrinks a file). After a bulk import, a backfill or a burst the head's
files stay at their high-water mark, and every past daily partition keeps the head of its day.

The way back is an online rebuild of the whole table: `ALTER TABLE t FORCE, ALGORITHM=INPLACE,
LOCK=NONE`. MariaDB 10.11 does it on a partitioned table (every partition is written anew,
holding only its rows) while inserts, updates and deletes go on: they are logged and applied to
the new copy, which replaces the old one atomically (an interrupted rebuild leaves the old table as
it was; after a server crash, the partial copy's files too, which drop_left_behind_copies drops). What it cannot do without stopping writers: the metadata lock it upgrades briefly at the
start and at the end waits for every open transaction on the table, and statements that come
after queue behind it. `WAIT n` bounds that wait (so the stall of ingest) to n seconds; a rebuild
that does not get its lock in time gives up and the next run tries again. Measured alternatives
(decisions.md): `REBUILD PARTITION` and `OPTIMIZE PARTITION` block every writer for the whole copy
(and OPTIMIZE rebuilds all partitions anyway); `EXCHANGE PARTITION` needs a second table and a
re-insert, and hides its rows from readers in between.

A rebuild reads and writes every row the table holds, so it runs only when the space it would
return is large in absolute terms and relative to what the rows need (the work is then bounded by
the space it returns)."""

import functools
import logging
import re
import time
from dataclasses import dataclass, replace

import pymysql

from microdash_core import db

log = logging.getLogger(__name__)

# The head's tables, whose rows are deleted as they move on: the ones worth reclaiming. The log
# (`sample_log`, compacted every few seconds) is small, but a bulk load or a compaction that fell
# behind leaves its files at their high-water mark, as the legacy head's.
HEAD_TABLES = ("samples", "sample_log")
# Bytes a row takes in a freshly rebuilt table (pages filled in key order, indexes included):
# measured, 58.7 for `samples` (bench/seal_disk.py). Ingest in arrival order fills pages less
# (~80), so a head that was never emptied does not look worth a rebuild.
PACKED_ROW_BYTES = {"samples": 60}
# A log row is its blob plus this (key columns, two secondary index entries, row header).
LOG_ROW_OVERHEAD_BYTES = 96
# The log is rebuilt for less than the policy's minimum: its rows are few (compaction empties it
# every few seconds), so copying them takes milliseconds, while its file stays at the high-water
# mark of a burst (~15 MB per 1 M samples of small rows). InnoDB reports only part of a small
# file's free space (DATA_FREE counts whole free extents less a reserve: 2 MiB of a 6 MB file).
LOG_MIN_FREE_BYTES = 1024 * 1024
# A rebuild that did not get its metadata lock in time, or whose concurrent writes outgrew
# innodb_online_alter_log_max_size: the table is as it was; the next run tries again.
ONLINE_LOG_TOO_BIG = 1799
GAVE_UP = {db.LOCK_WAIT_TIMEOUT: "lock wait timeout", ONLINE_LOG_TOO_BIG: "online log too big"}
_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")
# What a server killed mid-rebuild of a partitioned table leaves behind (MariaDB 10.11's crash
# recovery does not drop it): the new copy's partitions, `#sql-alter-<server>-<connection id>#P#p`,
# each an InnoDB table with its file. The connection id (hex) tells a live rebuild's copy apart.
_LEFT_BEHIND = re.compile(r"#sql-alter-[0-9a-f]+-([0-9a-f]+)(#P#[A-Za-z0-9_]+)?", re.IGNORECASE)
# Reading InnoDB's dictionary needs the PROCESS privilege; without it the copies cannot be found.
_NO_PRIVILEGE = {1227, 1044, 1142}


@dataclass(frozen=True)
class Policy:
    """When a table is worth rebuilding, and how long its rebuild may hold up other statements."""
    min_free_bytes: int = 32 * 1024 * 1024
    min_free_ratio: float = 1.0
    lock_wait_seconds: int = 1


def policy_of(settings) -> Policy:
    """The policy the settings give (MICRODASH_RECLAIM_*)."""
    return Policy(min_free_bytes=settings.reclaim_min_free_bytes, min_free_ratio=settings.reclaim_min_free_ratio,
                  lock_wait_seconds=settings.reclaim_lock_wait_seconds)


@dataclass(frozen=True)
class Space:
    """What InnoDB reports for a table, summed over its partitions: its rows (TABLE_ROWS, kept
    up to date by every insert and delete), the pages its indexes have reserved (DATA_LENGTH +
    INDEX_LENGTH: emptied pages too, until the index statistics are recalculated) and the free
    extents of its files (DATA_FREE, once InnoDB's purge has freed the deleted rows' pages)."""
    rows: int
    held_bytes: int
    free_bytes: int
    partitions: int

    @property
    def footprint(self) -> int:
        return self.held_bytes + self.free_bytes

    def reclaimable(self, row_bytes: int | None) -> int:
        """What a rebuild would give back: the footprint less what the rows need once packed
        (row_bytes each), or only the free extents for a table whose packed row size is unknown."""
        needed = self.rows * row_bytes if row_bytes else self.held_bytes
        return max(self.footprint - needed, 0)

    def worth_reclaiming(self, policy: Policy, row_bytes: int | None) -> bool:
        free = self.reclaimable(row_bytes)
        return free >= policy.min_free_bytes and free >= policy.min_free_ratio * (self.footprint - free)


def table_space(cursor, table: str) -> Space:
    """A partitioned table has a row per partition in information_schema.PARTITIONS, summed here.
    For an unpartitioned one (the log) that row can hold stale figures (DATA_FREE 0 after a purge
    freed most of the file), while information_schema.TABLES asks InnoDB afresh."""
    cursor.execute(
        "SELECT COALESCE(SUM(TABLE_ROWS), 0), COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0),"
        " COALESCE(SUM(DATA_FREE), 0), COUNT(*), COUNT(PARTITION_NAME)"
        " FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))
    rows, held, free, partitions, named = cursor.fetchone()
    if not partitions:
        raise ValueError(f"no table {table!r} in this database")
    if not named:
        cursor.execute(
            "SELECT TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH, DATA_FREE FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))
        rows, held, free = cursor.fetchone()
    return Space(int(rows), int(held), int(free), int(partitions))


def packed_row_bytes(connection: pymysql.connections.Connection, table: str) -> int | None:
    """What a row of the table needs once rebuilt: measured for `samples`; for the log, whose
    rows are blobs of any size, their mean blob (the log is small, so reading its lengths is
    cheap) plus the row's overhead; None (only free extents count) for any other table."""
    if table != "sample_log":
        return PACKED_ROW_BYTES.get(table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM sample_log")
        rows, blob_bytes = cursor.fetchone()
    connection.commit()
    return -(-int(blob_bytes) // max(int(rows), 1)) + LOG_ROW_OVERHEAD_BYTES


def rebuild(connection: pymysql.connections.Connection, table: str, *, lock_wait_seconds: int) -> str:
    """Rebuild the table online; returns `rebuilt` or why it gave up (the table is then as it was)."""
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    connection.commit()  # no transaction of ours may hold the table's metadata lock
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE `{table}` WAIT {int(lock_wait_seconds)} FORCE, ALGORITHM=INPLACE, LOCK=NONE")
    except pymysql.err.MySQLError as exc:
        if exc.args[0] not in GAVE_UP:
            raise
        return GAVE_UP[exc.args[0]]
    return "rebuilt"


@dataclass(frozen=True)
class Reclaimed:
    """One table's outcome: `rebuilt`, `not worth it` or why the rebuild gave up."""
    table: str
    outcome: str
    before: Space
    after: Space | None = None
    seconds: float = 0.0

    @property
    def rebuilt(self) -> bool:
        return self.outcome == "rebuilt"

    @property
    def bytes_returned(self) -> int:
        """Space that left the files (an estimate from InnoDB's figures)."""
        return max(self.before.footprint - self.after.footprint, 0) if self.after else 0


def reclaim_table(connection: pymysql.connections.Connection, table: str, policy: Policy = Policy(), *,
                  force: bool = False) -> Reclaimed:
    """Rebuild the table if its free space is worth it (or force), and say what happened."""
    with connection.cursor() as cursor:
        before = table_space(cursor, table)
    connection.commit()
    if not force and not before.worth_reclaiming(_policy_for(table, policy), packed_row_bytes(connection, table)):
        return Reclaimed(table, "not worth it", before)
    started = time.monotonic()
    outcome = rebuild(connection, table, lock_wait_seconds=policy.lock_wait_seconds)
    seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        after = table_space(cursor, table)
    connection.commit()
    done = Reclaimed(table, outcome, before, after, seconds)
    details = {"table": table, "outcome": outcome, "seconds": round(seconds, 3), "rows": before.rows,
               "bytes_before": before.footprint, "bytes_after": after.footprint}
    if done.rebuilt:
        log.info("rebuilt a head table to return its free space", extra=details)
    else:
        log.warning("a head table's rebuild gave up; the table is as it was", extra=details)
    return done


def _policy_for(table: str, policy: Policy) -> Policy:
    if table != "sample_log":
        return policy
    return replace(policy, min_free_bytes=min(policy.min_free_bytes, LOG_MIN_FREE_BYTES))


def reclaim_head(connection: pymysql.connections.Connection, policy: Policy = Policy(), *,
                 tables: tuple[str, ...] = HEAD_TABLES, force: bool = False) -> list[Reclaimed]:
    drop_left_behind_copies(connection)
    return [reclaim_table(connection, table, policy, force=force) for table in tables]


def drop_left_behind_copies(connection: pymysql.connections.Connection) -> list[str] | None:
    """Drop the partial copies that rebuilds interrupted by a server crash left in this database
    (the table they rebuilt is whole: the crash rolled the rebuild back). A copy whose connection
    is still open belongs to a rebuild under way and is left alone; the dictionary is read before
    the connections, so a rebuild that starts in between is seen as open too. None when the
    database user may not read InnoDB's dictionary (no PROCESS privilege): nothing was looked for."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DATABASE()")
        (database,) = cursor.fetchone()
        try:
            cursor.execute("SELECT NAME FROM information_schema.INNODB_SYS_TABLES WHERE NAME LIKE %s",
                           (f"{database}/#sql-alter-%",))
        except pymysql.err.MySQLError as exc:
            if exc.args[0] not in _NO_PRIVILEGE:
                raise
            _warn_no_process_privilege()
            return None
        names = [name.split("/", 1)[1] for (name,) in cursor.fetchall() if name.startswith(f"{database}/")]
        if not names:
            return []
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST")
        open_connections = {int(connection_id) for (connection_id,) in cursor.fetchall()}
        dropped = []
        for name in names:
            found = _LEFT_BEHIND.fullmatch(name)
            if found and int(found.group(1), 16) not in open_connections:
                cursor.execute(f"DROP TABLE IF EXISTS `#mysql50#{name}`")
                dropped.append(name)
    connection.commit()
    if dropped:
        log.warning("dropped the partial copies of rebuilds a server crash interrupted", extra={"tables": dropped})
    return dropped


@functools.cache  # once per process: the privilege does not come by itself, and the job runs every minute
def _warn_no_process_privilege() -> None:
    log.warning("the database user lacks the PROCESS privilege: the copies a MariaDB crash may leave behind"
                " mid-rebuild are not looked for (docs/operations.md, \"Reclaiming the head's disk\")")
