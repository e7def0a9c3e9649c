"""Deleting a tenant (the one path of the CLI, the api's admin and the operator) empties its raw
samples wherever they are stored, the log, the legacy head and the chunks, in bounded deletes, and
counts them; another tenant's stay, whether the legacy head is unpartitioned (the stack's fresh
install) or daily-partitioned (an upgraded database before its rows are sealed). Real MariaDB;
chunk rows inserted as the sealer writes them."""

import datetime as dt

from microdash_core import chunks, db
from microdash_core.store import head_log
from microdash_core.tenants import deletion, directory
from seal_support import drop_database, migrated_database
from support import append_log, insert_chunk, legacy_head_partitioned, partition_legacy_head, recent_ms

WINDOW = chunks.WINDOW_MS


def _store(settings, tenant_id: int, base: int) -> None:
    with db.transaction(settings) as cursor:
        for index in range(5):
            start = base + index * WINDOW
            insert_chunk(cursor, tenant_id=tenant_id, series_id=1, timestamps=[start, start + 1000], values=[1.0, 2.0])
        cursor.executemany("INSERT INTO samples VALUES (%s, 1, %s, 3.0)",
                           [(tenant_id, base + 5 * WINDOW + offset) for offset in range(3)])
        for index in range(3):  # log rows: two series of one bucket each, in the last window
            start = base + 6 * WINDOW + index * 10
            append_log(cursor, tenant_id=tenant_id, series_ids=[1, 1 + head_log.BUCKETS], timestamps=[start, start],
                       values=[4.0, 5.0])


def test_deleting_a_tenant_empties_its_log_head_and_chunks(stack, monkeypatch):
    monkeypatch.setattr(deletion, "SEALED_CHUNK_DELETE_CHUNK", 2)  # several bounded deletes
    gone, _ = stack.new_tenant("gone")
    kept, _ = stack.new_tenant("kept")
    base = chunks.window_of(recent_ms()) - 10 * WINDOW
    _store(stack.settings, gone.id, base)
    _store(stack.settings, kept.id, base)
    assert stack.count_samples(gone.id) == 19
    with db.transaction(stack.settings) as cursor:
        assert not legacy_head_partitioned(cursor)

    with db.transaction(stack.settings) as cursor:
        assert deletion.delete_tenant(cursor, tenant=gone) == 19

    for table in ("sample_log", "samples", "sample_chunks"):
        assert stack.sql(f"SELECT COUNT(*) FROM {table} WHERE tenant_id = %s", (gone.id,)) == [(0,)]
    assert stack.sql("SELECT COUNT(*) FROM sample_chunks WHERE tenant_id = %s", (kept.id,)) == [(5,)]
    assert stack.sql("SELECT COUNT(*) FROM sample_log WHERE tenant_id = %s", (kept.id,)) == [(3,)]
    assert stack.count_samples(kept.id) == 19


def test_deleting_a_tenant_empties_a_partitioned_legacy_head(stack):
    settings = migrated_database(stack, "deletion")
    try:
        partition_legacy_head(settings, today=dt.datetime.now(dt.timezone.utc).date(), days_back=7, days_ahead=2)
        with db.transaction(settings) as cursor:
            gone = directory.create_tenant(cursor, name="gone")
            kept = directory.create_tenant(cursor, name="kept")
        base = chunks.window_of(recent_ms()) - 10 * WINDOW
        _store(settings, gone.id, base)
        _store(settings, kept.id, base)

        with db.transaction(settings) as cursor:
            assert deletion.delete_tenant(cursor, tenant=gone) == 19
            assert legacy_head_partitioned(cursor)
            for table, kept_rows in (("sample_log", 3), ("samples", 3), ("sample_chunks", 5)):
                cursor.execute(f"SELECT tenant_id, COUNT(*) FROM {table} GROUP BY tenant_id")
                assert cursor.fetchall() == ((kept.id, kept_rows),), table
    finally:
        drop_database(settings)
