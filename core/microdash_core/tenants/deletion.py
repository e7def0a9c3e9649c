"""Deleting a tenant and everything stored for it."""

from pymysql.cursors import Cursor

from .directory import Tenant, delete_tenant_row

SAMPLE_DELETE_CHUNK = 10_000
# A sealed chunk row holds hundreds of samples (~720 at 10 s), so fewer of them per DELETE.
SEALED_CHUNK_DELETE_CHUNK = 100


def delete_tenant(cursor: Cursor, *, tenant: Tenant) -> int:
    """Delete a tenant, its tokens, memberships, series, samples (the log, the legacy head and the
    chunks) and rollups. Returns the samples deleted (a re-delivered batch's log rows counted again).

    Rows are deleted in bounded chunks so that a large tenant never holds long locks
    against concurrent ingest of other tenants. The partitioned tables cannot have foreign keys,
    so they are emptied here rather than by ON DELETE CASCADE. The log and the head go before the
    chunks, because compaction and sealing racing with the deletion move samples into chunks, never back;
    rollups last, so that a rollup run racing with the deletion finds no samples left to
    re-create them from.
    """
    deleted = _delete_log_rows(cursor, tenant.id)
    deleted += _delete_in_chunks(cursor, "samples", tenant.id)
    deleted += _delete_sealed_chunks(cursor, tenant.id)
    for rollup_table in ("samples_1m", "samples_5m"):
        _delete_in_chunks(cursor, rollup_table, tenant.id)
    delete_tenant_row(cursor, tenant_id=tenant.id)
    return deleted


def _delete_in_chunks(cursor: Cursor, table: str, tenant_id: int) -> int:
    deleted = 0
    while True:
        cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s LIMIT %s", (tenant_id, SAMPLE_DELETE_CHUNK))
        deleted += cursor.rowcount
        cursor.connection.commit()
        if cursor.rowcount < SAMPLE_DELETE_CHUNK:
            return deleted


def _delete_log_rows(cursor: Cursor, tenant_id: int) -> int:
    """Returns the samples the deleted log rows held. A row holds up to MAX_BATCH_SAMPLES samples,
    so fewer rows per statement than for the head."""
    return _delete_counted_rows(cursor, "sample_log", tenant_id)


def _delete_sealed_chunks(cursor: Cursor, tenant_id: int) -> int:
    """Returns the samples the deleted chunks held."""
    return _delete_counted_rows(cursor, "sample_chunks", tenant_id)


def _delete_counted_rows(cursor: Cursor, table: str, tenant_id: int) -> int:
    """Deletes a table's rows that each hold `sample_count` samples; returns the samples deleted."""
    samples = 0
    while True:
        cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s LIMIT %s RETURNING sample_count",
                       (tenant_id, SEALED_CHUNK_DELETE_CHUNK))
        counts = cursor.fetchall()
        samples += sum(count for (count,) in counts)
        cursor.connection.commit()
        if len(counts) < SEALED_CHUNK_DELETE_CHUNK:
            return samples
