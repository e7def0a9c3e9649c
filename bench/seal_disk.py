"""Scenario `seal` (right after `bulk`): force-seal the bulk tenant's samples into chunks, then
bytes on disk per raw sample and the sealing throughput.

Bytes are the InnoDB files of `samples` (the head) and `sample_chunks`, every partition, after a
flush (`FLUSH TABLES ... FOR EXPORT`): "allocated" is what the file system holds (page
compression punches holes), as in bench/chunk_disk.py. Figures:
  bulk_disk_bytes_per_sample_rows  the head's files before the seal (every sample a row)
  bulk_disk_bytes_per_sample       both tables' files after the seal, as they are: InnoDB keeps
                                   the emptied head pages in the file (later inserts reuse them)
  bulk_chunk_bytes_per_sample      the chunk table's files alone: what sealed data costs
  bulk_seal_samples_per_s          samples sealed per second of wall time (one sealer, batches of
                                   500 series), with the CPU seconds of this process (the sealer)
                                   and, in cpu_seconds.seal, of each stack process (MariaDB too)
"""

import time
from contextlib import closing
from pathlib import Path

from microdash_core import chunks, db
from microdash_core.store import sealing

TABLES = ("samples", "sample_chunks")


def files_bytes(datadir: Path, database: str, table: str) -> tuple[int, int]:
    """(apparent size, allocated bytes) of a table's .ibd files, one per partition."""
    files = list((datadir / database).glob(f"{table}.ibd")) + list((datadir / database).glob(f"{table}#[Pp]#*.ibd"))
    return sum(path.stat().st_size for path in files), sum(path.stat().st_blocks * 512 for path in files)


def flushed_sizes(connection, datadir: Path, database: str) -> dict[str, tuple[int, int]]:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"FLUSH TABLES {table} FOR EXPORT")  # every dirty page of it written
            cursor.execute("UNLOCK TABLES")
    return {table: files_bytes(datadir, database, table) for table in TABLES}


def run_seal(stack, tenant_name: str = "bench-bulk") -> dict:
    settings = stack.settings
    database = db.DatabaseAddress.from_url(settings.database_url).database
    datadir = (stack.services.root / "mariadb").resolve()
    with closing(db.connect(settings)) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM tenants WHERE name = %s", (tenant_name,))
            found = cursor.fetchone()
            if found is None:
                raise RuntimeError(f"scenario seal measures the load of scenario bulk: run it first (no {tenant_name})")
            tenant_id = found[0]
            cursor.execute("SELECT COUNT(*), MAX(ts) FROM samples WHERE tenant_id = %s", (tenant_id,))
            samples, newest = cursor.fetchone()
        connection.commit()
        before = flushed_sizes(connection, datadir, database)
        cpu_started = time.process_time()
        sealed = sealing.seal_due(connection, cutoff_ms=int(newest) + chunks.WINDOW_MS, tenant_ids=[tenant_id])
        sealer_cpu = time.process_time() - cpu_started
        after = flushed_sizes(connection, datadir, database)

    def per_sample(bytes_: int) -> float:
        return round(bytes_ / samples, 2)

    return {
        "bulk_disk_bytes_per_sample_rows": per_sample(before["samples"][1]),
        "bulk_disk_bytes_per_sample": per_sample(after["samples"][1] + after["sample_chunks"][1]),
        "bulk_chunk_bytes_per_sample": per_sample(after["sample_chunks"][1]),
        "bulk_seal_samples_per_s": round(sealed.samples / sealed.seconds) if sealed.seconds else None,
        "seal_detail": {
            "samples": samples, "samples_sealed": sealed.samples, "chunk_rows": sealed.chunks,
            "series_windows": sealed.series_windows, "transactions": sealed.batches,
            "seconds": round(sealed.seconds, 2), "sealer_cpu_s": round(sealer_cpu, 2),
            "sealer_cpu_us_per_sample": round(sealer_cpu / max(sealed.samples, 1) * 1e6, 2),
            "bytes_file_allocated": {"before": {t: list(v) for t, v in before.items()},
                                     "after": {t: list(v) for t, v in after.items()}},
        },
    }
