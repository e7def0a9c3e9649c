"""The retention job. Per resolution and each of its tables: drop the daily partitions past the
longest retention any tenant has (instant, no row scan), then delete the older rows of tenants
whose retention is shorter in bounded chunks, committing after each, so no statement holds locks
for long. Raw samples are three tables, the log, the legacy head and the chunks, cut at one
instant (retention_policy.RAW). A table without partitions (the log; the legacy head once empty,
or on a fresh install) loses its rows past the longest retention by bounded deletes too; whether a
table is partitioned is read from the database, as an upgraded one's legacy head stays partitioned
until its rows are sealed."""

import logging
import time
from contextlib import closing

import pymysql

from microdash_core import db
from microdash_core.partitions import drop_partitions_before, existing_partitions
from microdash_core.settings import Settings, get_settings

from .retention_policy import RESOLUTIONS, Resolution, Table, tenant_days

log = logging.getLogger(__name__)
Connection = pymysql.connections.Connection


def enforce_retention(settings: Settings | None = None, *, now_ms: int | None = None) -> dict[str, dict]:
    """RQ job (scheduled). Returns, per table, the partitions dropped and the rows deleted."""
    settings = settings or get_settings()
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    report: dict[str, dict] = {}
    with closing(db.connect(settings)) as database:
        for resolution in RESOLUTIONS:
            report.update(enforce_for(database, settings, resolution, now_ms))
    return report


def enforce_for(database: Connection, settings: Settings, resolution: Resolution, now_ms: int) -> dict[str, dict]:
    with database.cursor() as cursor:
        days = tenant_days(cursor, settings, resolution)
    longest = partition_keep_days(settings, resolution, days.values())
    shorter = {tenant_id: resolution.cutoff(now_ms, tenant_retention)
               for tenant_id, tenant_retention in days.items() if tenant_retention < longest}
    return {table.name: enforce_on_table(database, settings, table, partition_cutoff=resolution.cutoff(now_ms, longest),
                                         tenant_cutoffs=shorter)
            for table in resolution.tables}


def enforce_on_table(database: Connection, settings: Settings, table: Table, *, partition_cutoff: int,
                     tenant_cutoffs: dict[int, int]) -> dict:
    with database.cursor() as cursor:
        partitioned = bool(existing_partitions(cursor, table.name))
        dropped = drop_partitions_before(cursor, table=table.name, cutoff_ms=partition_cutoff) if partitioned else []
    database.commit()
    deleted = 0 if partitioned else delete_older_rows(database, settings, table, tenant_id=None,
                                                      before_ms=partition_cutoff)
    deleted += sum(delete_older_rows(database, settings, table, tenant_id=tenant_id, before_ms=before_ms)
                  for tenant_id, before_ms in tenant_cutoffs.items())
    if dropped or deleted:
        log.info("retention enforced", extra={"table": table.name, "dropped_partitions": dropped,
                                              "deleted_rows": deleted})
    return {"dropped_partitions": dropped, "deleted_rows": deleted}


def partition_keep_days(settings: Settings, resolution: Resolution, tenant_retentions) -> int:
    """Days a whole partition is kept: the longest retention of any tenant, and never less than the
    age up to which samples are still accepted (their partitions must stay)."""
    accepted_days = -(-settings.max_sample_age_seconds // 86_400)
    return max(resolution.default_days(settings), accepted_days, *tenant_retentions)


def delete_older_rows(database: Connection, settings: Settings, table: Table, *, tenant_id: int | None,
                      before_ms: int) -> int:
    """Rows of the tenant (every tenant's if None) older than before_ms, in bounded deletes."""
    of_tenant = "tenant_id = %s AND " if tenant_id is not None else ""
    sql = f"DELETE FROM {table.name} WHERE {of_tenant}{table.time_column} < %s LIMIT %s"
    limit = table.delete_limit(settings)
    deleted = 0
    while True:
        with database.cursor() as cursor:
            cursor.execute(sql, (*([tenant_id] if tenant_id is not None else []), before_ms, limit))
            count = cursor.rowcount
        database.commit()
        deleted += count
        if count < limit:
            return deleted
