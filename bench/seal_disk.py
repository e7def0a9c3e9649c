"""Scenario `seal` (right after `bulk`): compact the bulk tenant's log into level-0 parts and
force-seal them into canonical chunks, then bytes on disk per raw sample and the throughput.

Bytes are the InnoDB files of the head (`sample_log`, and the legacy `samples`) and
`sample_chunks`, every partition, after a flush (`FLUSH TABLES ... FOR EXPORT`): "allocated" is
what the file system holds (page compression punches holes), as in bench/chunk_disk.py. After the
seal, the head's free space is reclaimed as the sealing job does it (store.reclaim with the
settings' policy: an online rebuild if worth it). Figures:
  bulk_disk_bytes_per_sample_rows    the head's files before compaction and the seal
  bulk_disk_bytes_per_sample_sealed  every table's files after the seal, before the reclaim:
                                     InnoDB keeps emptied pages in the file
  bulk_disk_bytes_per_sample         every table's files after the reclaim: the issue's figure
  bulk_chunk_bytes_per_sample        the chunk table's files alone: what sealed data costs
  bulk_seal_samples_per_s            samples compacted and sealed per second of wall time (one
                                     compactor then one sealer), with the CPU seconds of this
                                     process for each and, in cpu_seconds.seal, of each stack
                                     process (MariaDB too, for both steps and the reclaim)
  reclaim_detail                     the reclaim's outcome, wall time and CPU seconds (MariaDB does
                                     the rebuild), the partitions of each table and what an empty
                                     one costs on disk
"""

import time
from contextlib import closing
from pathlib import Path

from microdash_core import chunks, db
from microdash_core.settings import Settings
from microdash_core.store import compaction, reclaim, sealing
from microdash_core.tenants import directory

TABLES = ("sample_log", "samples", "sample_chunks")
HEAD_TABLES = ("sample_log", "samples")


def table_files(datadir: Path, database: str, table: str) -> list[Path]:
    """A table's .ibd files, one per partition."""
    return list((datadir / database).glob(f"{table}.ibd")) + list((datadir / database).glob(f"{table}#[Pp]#*.ibd"))


def files_bytes(datadir: Path, database: str, table: str) -> tuple[int, int]:
    """(apparent size, allocated bytes) of a table's .ibd files."""
    files = table_files(datadir, database, table)
    return sum(path.stat().st_size for path in files), sum(path.stat().st_blocks * 512 for path in files)


def partition_costs(connection, datadir: Path, database: str) -> dict:
    """Per table: how many partitions (files; an unpartitioned table's one file) it has, how many
    hold no row, and the allocated bytes of those empty ones (each file's smallest size: InnoDB's
    initial extent)."""
    costs = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute("SELECT PARTITION_NAME FROM information_schema.PARTITIONS"
                           " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND TABLE_ROWS = 0", (table,))
            empty = {(f"{table}#P#{name}.ibd" if name else f"{table}.ibd").lower() for (name,) in cursor.fetchall()}
            files = table_files(datadir, database, table)
            empty_files = [path for path in files if path.name.lower() in empty]
            costs[table] = {"partitions": len(files), "empty": len(empty_files),
                            "empty_bytes_allocated": sum(path.stat().st_blocks * 512 for path in empty_files),
                            "one_empty_bytes_allocated": min((path.stat().st_blocks * 512 for path in empty_files),
                                                             default=None)}
    connection.commit()
    return costs


def reclaim_as_the_job_does(stack, connection, settings: Settings) -> dict:
    """The sealing job's step after a run that sealed everything due."""
    cpu_before = stack.cpu_seconds()
    started = time.monotonic()
    done = reclaim.reclaim_head(connection, reclaim.policy_of(settings))
    wall = time.monotonic() - started
    cpu_after = stack.cpu_seconds()
    return {"outcomes": {table.table: table.outcome for table in done}, "wall_s": round(wall, 2),
            "cpu_s": {name: round(cpu_after.get(name, 0.0) - seconds, 2) for name, seconds in cpu_before.items()},
            "footprint_before": {table.table: table.before.footprint for table in done},
            "footprint_after": {table.table: table.after.footprint for table in done if table.after}}


def flushed_sizes(connection, datadir: Path, database: str) -> dict[str, tuple[int, int]]:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"FLUSH TABLES {table} FOR EXPORT")  # every dirty page of it written
            cursor.execute("UNLOCK TABLES")
    return {table: files_bytes(datadir, database, table) for table in TABLES}


def _unsealed(cursor, tenant_id: int) -> tuple[int, int]:
    """(samples, newest ts) of the tenant not in canonical chunks: log rows, level-0 parts and
    legacy head rows (the workers' jobs may have compacted some)."""
    cursor.execute("SELECT COALESCE(SUM(sample_count), 0), MAX(last_ts) FROM sample_log WHERE tenant_id = %s", (tenant_id,))
    log_samples, log_newest = cursor.fetchone()
    cursor.execute("SELECT COALESCE(SUM(sample_count), 0), MAX(last_ts) FROM sample_chunks WHERE tenant_id = %s"
                   " AND part >= %s", (tenant_id, chunks.LEVEL0_PART_BASE))
    level0_samples, level0_newest = cursor.fetchone()
    cursor.execute("SELECT COUNT(*), MAX(ts) FROM samples WHERE tenant_id = %s", (tenant_id,))
    head_samples, head_newest = cursor.fetchone()
    newest = max(int(ts) for ts in (log_newest, level0_newest, head_newest, 0) if ts is not None)
    return int(log_samples) + int(level0_samples) + int(head_samples), newest


def run_seal(stack, tenant_name: str = "bench-bulk") -> dict:
    settings = stack.settings
    database = db.DatabaseAddress.from_url(settings.database_url).database
    datadir = (stack.services.root / "mariadb").resolve()
    with closing(db.connect(settings)) as connection:
        with connection.cursor() as cursor:
            tenant_id = directory.tenant_id_of(cursor, name=tenant_name)
            if tenant_id is None:
                raise RuntimeError(f"scenario seal measures the load of scenario bulk: run it first (no {tenant_name})")
            samples, newest = _unsealed(cursor, tenant_id)
        connection.commit()
        before = flushed_sizes(connection, datadir, database)
        cpu_started = time.process_time()
        compacted = compaction.compact_due(connection, tenant_ids=[tenant_id])
        compactor_cpu = time.process_time() - cpu_started
        cpu_started = time.process_time()
        sealed = sealing.seal_due(connection, cutoff_ms=int(newest) + chunks.WINDOW_MS, tenant_ids=[tenant_id])
        sealer_cpu = time.process_time() - cpu_started
        sealed_sizes = flushed_sizes(connection, datadir, database)
        reclaimed = reclaim_as_the_job_does(stack, connection, settings)
        after = flushed_sizes(connection, datadir, database)
        reclaimed["partitions"] = partition_costs(connection, datadir, database)

    def per_sample(bytes_: int) -> float:
        return round(bytes_ / samples, 2)

    seconds = compacted.seconds + sealed.seconds
    return {
        "bulk_disk_bytes_per_sample_rows": per_sample(sum(before[table][1] for table in HEAD_TABLES)),
        "bulk_disk_bytes_per_sample_sealed": per_sample(sum(sealed_sizes[table][1] for table in TABLES)),
        "bulk_disk_bytes_per_sample": per_sample(sum(after[table][1] for table in TABLES)),
        "bulk_chunk_bytes_per_sample": per_sample(after["sample_chunks"][1]),
        "bulk_seal_samples_per_s": round(samples / seconds) if seconds else None,
        "seal_detail": {
            "samples": samples, "samples_compacted": compacted.samples, "log_rows": compacted.log_rows,
            "level0_parts": compacted.parts, "compaction_seconds": round(compacted.seconds, 2),
            "compactor_cpu_s": round(compactor_cpu, 2),
            "samples_sealed": sealed.samples, "chunk_rows": sealed.chunks,
            "series_windows": sealed.series_windows, "transactions": sealed.batches,
            "seconds": round(sealed.seconds, 2), "sealer_cpu_s": round(sealer_cpu, 2),
            "sealer_cpu_us_per_sample": round((compactor_cpu + sealer_cpu) / max(samples, 1) * 1e6, 2),
            "bytes_file_allocated": {"before": {t: list(v) for t, v in before.items()},
                                     "sealed": {t: list(v) for t, v in sealed_sizes.items()},
                                     "after": {t: list(v) for t, v in after.items()}},
        },
        "reclaim_detail": {**reclaimed, "empty_partitions_bytes_per_sample": per_sample(
            sum(table["empty_bytes_allocated"] for table in reclaimed["partitions"].values()))},
    }
