"""What a read of a few series pays for the head's log, and what writing and compacting the log
costs (docs/storage.md, "What a read of recent time pays for the log").

Stand-alone, in-process, against a throwaway MariaDB: 100,000 series x 6 rounds (10 s apart) in
batches of 5,000 series appended to the log as the worker does (600,000 samples: ~60 s of the
common load, what the log holds at the default compaction age), then one-series reads of recent
time (count_statement, then read_series, as the raw query does), then one compaction of
everything. CPU seconds of this process and of mariadbd for each step; bytes of log blobs a read
receives. Run it from any checkout: `.venv/bin/python bench/log_reads.py [--reads N]`.
"""

import argparse
import json
import os
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import cpu_seconds  # noqa: E402
from throwaway import throwaway_services  # noqa: E402

from microdash_core import db  # noqa: E402
from microdash_core.migrate import migrate  # noqa: E402
from microdash_core.store import compaction, head_log, reads  # noqa: E402

SERIES, ROUNDS, BATCH_SERIES, STEP_MS = 100_000, 6, 5_000, 10_000
TENANT = 1


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _measured(mariadb_pid: int, work) -> tuple[object, float, float]:
    """work()'s result, this process's and mariadbd's CPU seconds for it."""
    own, server = _own_cpu(), cpu_seconds(mariadb_pid)
    result = work()
    return result, _own_cpu() - own, cpu_seconds(mariadb_pid) - server


def _append_all(connection, base_ms: int) -> dict:
    rng = np.random.default_rng(1)
    for round_ in range(ROUNDS):
        for first in range(1, SERIES + 1, BATCH_SERIES):
            ids = np.arange(first, first + BATCH_SERIES, dtype=np.int64)
            ts = np.full(ids.size, base_ms + round_ * STEP_MS, dtype=np.int64)
            with connection.cursor() as cursor:
                head_log.append(cursor, TENANT, ids, ts, rng.normal(0, 100, ids.size))
            connection.commit()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE sample_log")
        cursor.fetchall()
        cursor.execute("SELECT COUNT(*), SUM(LENGTH(data)) FROM sample_log")
        rows, blob_bytes = cursor.fetchone()
        cursor.execute("SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES"
                       " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sample_log'")
        return {"rows": int(rows), "blob_bytes": int(blob_bytes), "table_bytes": int(cursor.fetchone()[0])}


def _one_series_reads(connection, span: reads.Span, count: int) -> int:
    """The samples the reads received, in total."""
    samples = 0
    for n in range(count):
        series_ids = [1 + (n * 7919) % SERIES]
        with connection.cursor() as cursor:
            cursor.execute(*reads.count_statement(tenant_id=TENANT, series_ids=series_ids, span=span))
            counted = int(cursor.fetchone()[0])
            found = reads.read_series(cursor, tenant_id=TENANT, series_ids=series_ids, span=span, counted=counted)
        connection.commit()
        samples += sum(ts.size for ts, _vs in found.values())
    return samples


def _blob_bytes_of_one_read(connection, span: reads.Span) -> int:
    sql, params = reads.statements(tenant_id=TENANT, series_ids=[1], span=span, shape="rows")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sum(len(row[4]) for row in cursor.fetchall() if row[1] == 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    base_ms = int(time.time() * 1000) - ROUNDS * STEP_MS
    span = reads.Span(base_ms - 3_600_000, base_ms + ROUNDS * STEP_MS)
    with throwaway_services("headlog-bench-") as (services, settings, _root):
        migrate(settings)
        mariadb = services.processes["mariadb"].pid
        with closing(db.connect(settings)) as connection:
            rows, append_cpu, append_server = _measured(mariadb, lambda: _append_all(connection, base_ms))
            samples, read_cpu, read_server = _measured(mariadb, lambda: _one_series_reads(connection, span, args.reads))
            blob_bytes = _blob_bytes_of_one_read(connection, span)
            done, compact_cpu, compact_server = _measured(
                mariadb, lambda: compaction.compact_due(connection, policy=compaction.EVERYTHING))
    print(json.dumps({
        "log": rows, "log_samples": SERIES * ROUNDS,
        "append_cpu_s": {"client": round(append_cpu, 3), "mariadb": round(append_server, 3)},
        "one_series_read": {"reads": args.reads, "samples_each": samples / args.reads,
                            "client_ms": round(read_cpu / args.reads * 1000, 3),
                            "mariadb_ms": round(read_server / args.reads * 1000, 3),
                            "log_blob_bytes": blob_bytes},
        "compaction": {"log_rows": done.log_rows, "parts": done.parts, "client_cpu_s": round(compact_cpu, 3),
                       "mariadb_cpu_s": round(compact_server, 3), "seconds": round(done.seconds, 3)},
    }, indent=1))


if __name__ == "__main__":
    main()
