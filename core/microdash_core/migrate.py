"""Schema migrations (yoyo-migrations, SQL files in ./migrations), then partition upkeep."""

import datetime as dt
import logging
from pathlib import Path

import pymysql
from yoyo import get_backend, read_migrations

from . import db
from .partitions import PARTITIONED_TABLES, ensure_partitions
from .settings import Settings

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
    """Give every partitioned table its daily partitions; returns the new ones per table."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    days_back = -(-settings.max_sample_age_seconds // 86_400)
    created = {}
    with db.transaction(settings) as cursor:
        for table in PARTITIONED_TABLES:
            created[table] = ensure_partitions(cursor, table=table, today=today, days_back=days_back,
                                               days_ahead=settings.partition_days_ahead)
    return created


def wait_for_database(settings: Settings, *, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            db.connect(settings, with_database=False).close()
            return
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
