"""Schema migrations (yoyo-migrations, SQL files in ./migrations), then partition upkeep."""

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Callable

import pymysql
from yoyo import get_backend, read_migrations

from . import db
from .errors import MicrodashError
from .partitions import LEGACY_HEAD, PARTITIONED_TABLES, ensure_partitions, remove_partitioning_if_empty
from .settings import Settings
from .store import reclaim, sealing

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _yoyo_url(address: db.DatabaseAddress) -> str:
    from urllib.parse import quote

    auth = quote(address.user, safe="")
    if address.password:
        auth += ":" + quote(address.password, safe="")
    url = f"mysql://{auth}@{address.host}:{address.port}/{address.database}"
    if address.unix_socket:
        url += f"?unix_socket={address.unix_socket}"
    return url


def create_database(settings: Settings) -> None:
    address = db.DatabaseAddress.from_url(settings.database_url)
    connection = db.connect(settings, with_database=False)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS `{address.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
    finally:
        connection.close()


def migrate(settings: Settings, *, today: dt.date | None = None) -> list[str]:
    """Bring the schema up to date; safe to run any number of times. Returns the migrations applied."""
    create_database(settings)
    backend = get_backend(_yoyo_url(db.DatabaseAddress.from_url(settings.database_url)))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    # Partitions under the same lock: processes started together (make run) all migrate at once,
    # and two concurrent REORGANIZE PARTITION of one table fail with a duplicate partition name.
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
        maintain_partitions(settings, today=today)
    applied = [migration.id for migration in pending]
    if applied:
        log.info("applied migrations", extra={"migrations": applied})
    return applied


def maintain_partitions(settings: Settings, *, today: dt.date | None = None) -> dict[str, list[str]]:
    """Give every partitioned table its daily partitions, and the legacy head none once it is
    empty (unpartition_legacy_head); returns the new partitions per table."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    days_back = -(-settings.max_sample_age_seconds // 86_400)
    created = {}
    with db.transaction(settings) as cursor:
        for table in PARTITIONED_TABLES:
            created[table] = ensure_partitions(cursor, table=table, today=today, days_back=days_back,
                                               days_ahead=settings.partition_days_ahead)
    unpartition_legacy_head(settings)
    return created


def unpartition_legacy_head(settings: Settings) -> bool:
    """Once the legacy head holds no row (always on a fresh install; on an upgraded database once
    its rows are sealed into chunks), remove its daily partitioning: one small file instead of one
    per day. Never while rows remain, which would copy them all. True if it was done now. It waits
    for the table's metadata lock as long as a reclaim's rebuild would: reads of the head queue
    behind it meanwhile."""
    connection = db.connect(settings)
    try:
        with connection.cursor() as cursor:
            return remove_partitioning_if_empty(cursor, LEGACY_HEAD,
                                                lock_wait_seconds=settings.reclaim_lock_wait_seconds)
    finally:
        connection.close()


def seal_backlog(settings: Settings, *, now_ms: int | None = None,
                 on_batch: Callable[[sealing.Batch, sealing.Sealed], None] | None = None) -> sealing.Sealed:
    """Convert the raw rows of every window that is over into chunks (the schema before 0010 kept
    every sample as a row). Resumable: each batch commits on its own, so an interrupted run leaves
    sealed windows sealed and the rest in the head, where reads find them too; the next run (or
    the sealing job) seals what is left."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    connection = db.connect(settings)
    try:
        return sealing.seal_due(connection, cutoff_ms=sealing.sealed_before(now, settings.seal_grace_seconds * 1000),
                                batch_series=settings.seal_batch_series, on_batch=on_batch)
    finally:
        connection.close()


def reclaim_head(settings: Settings, *, force: bool = False) -> list[reclaim.Reclaimed]:
    """After a backlog conversion: give the head's emptied pages back to the file system (an online
    rebuild, when the free space is worth it; store.reclaim)."""
    connection = db.connect(settings)
    try:
        return reclaim.reclaim_head(connection, reclaim.policy_of(settings), force=force)
    finally:
        connection.close()


class DatabaseRefused(MicrodashError):
    """The database answered and refused us: waiting cannot help."""


class DatabaseUnreachable(MicrodashError):
    pass


# MariaDB errors that no amount of waiting fixes: wrong user or password (1045; 1698 without a
# password over a socket), no rights on the database (1044), this host not allowed (1130).
REFUSED_CODES = frozenset({1044, 1045, 1130, 1698})
RETRY_LOG_SECONDS = 10.0


def wait_for_database(settings: Settings, *, timeout: float = 60.0, interval: float = 0.2) -> None:
    """Wait until MariaDB accepts a connection. Retries what a starting server or network does
    (connection refused, unknown host, too many connections), logging the reason when it changes
    and every RETRY_LOG_SECONDS; fails at once when the server refuses the credentials."""
    address = db.DatabaseAddress.from_url(settings.database_url)
    where = f"MariaDB at {address.unix_socket or f'{address.host}:{address.port}'} as {address.user!r}"
    deadline = time.monotonic() + timeout
    logged_reason, logged_at = None, 0.0
    while True:
        try:
            db.connect(settings, with_database=False).close()
            return
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else None
            reason = exc.args[1] if len(exc.args) > 1 else str(exc)
            if code in REFUSED_CODES:
                raise DatabaseRefused(f"{where} refused the credentials: {reason} "
                                      "(check the user and password in MICRODASH_DATABASE_URL)") from exc
            if time.monotonic() > deadline:
                raise DatabaseUnreachable(f"{where} not reachable within {timeout:g} s: {reason}") from exc
            if reason != logged_reason or time.monotonic() - logged_at > RETRY_LOG_SECONDS:
                log.warning("database not reachable yet, retrying", extra={"database": where, "error": reason})
                logged_reason, logged_at = reason, time.monotonic()
            time.sleep(interval)
