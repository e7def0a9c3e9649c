"""On-disk bytes per sample of chunks in InnoDB, against today's one-row-per-sample table.

    python bench/chunk_disk.py [--samples 1000000] [--series 10000]

Starts a throwaway MariaDB (the same server flags as the tests), then stores the same samples
four ways and prints, per table, the bytes of its .ibd file (apparent size and blocks really
allocated, which is what page compression saves) and InnoDB's data + index length, per sample:
  rows             : today's layout, (tenant_id, series_id, ts) -> value, one row per sample
  chunks           : one row per series and 2 h window, data = microdash_core.chunks.encode(...)
  chunks_pagecomp  : the same table with PAGE_COMPRESSED=1 (zlib pages, holes punched)
  chunks_rowcomp   : the same table with ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8
Three data sets: `bench` is `make bench`'s bulk load (series k % N, ts base + k // N, value
(k % 1000) * 0.25: every series constant, 1 ms apart); `node` is node_exporter-like series at
10 s, half of them jittered (bench/chunk_codec.py); `node-2h` is the same with full 720-sample
windows (fewer series, same sample count); `node2h_large` (--large) is that at 10x the size, to
show the per-sample figure once InnoDB's allocation steps are amortised. Nothing is asserted; figures are printed.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pymysql

sys.path.insert(0, str(Path(__file__).parent))
from chunk_codec import SHAPES, shape_values, timestamps  # noqa: E402

from throwaway import throwaway_services  # noqa: E402
from microdash_core import chunks  # noqa: E402

ROWS_TABLE = """CREATE TABLE rows_{name} (
    tenant_id INT UNSIGNED NOT NULL, series_id BIGINT UNSIGNED NOT NULL, ts BIGINT NOT NULL,
    value DOUBLE NOT NULL, PRIMARY KEY (tenant_id, series_id, ts)) ENGINE=InnoDB"""
CHUNK_TABLE = """CREATE TABLE {table} (
    tenant_id INT UNSIGNED NOT NULL, series_id BIGINT UNSIGNED NOT NULL, window_start BIGINT NOT NULL,
    sample_count INT UNSIGNED NOT NULL, first_ts BIGINT NOT NULL, last_ts BIGINT NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (tenant_id, series_id, window_start)) ENGINE=InnoDB {options}"""
CHUNK_VARIANTS = {"chunks": "", "chunks_pagecomp": "PAGE_COMPRESSED=1",
                  "chunks_rowcomp": "ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8"}
BATCH = 5_000


def bench_load(total: int, series: int) -> list[tuple[np.ndarray, np.ndarray]]:
    base = 1_764_000_000_000
    k = np.arange(total, dtype=np.int64)
    ts, vs, ids = base + k // series, (k % 1000) * 0.25, k % series
    return [(ts[ids == s], vs[ids == s]) for s in range(series)]


def node_load(total: int, series: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(13)
    per_series = total // series
    return [(timestamps(per_series, s % 2 == 1, rng), shape_values(SHAPES[s % len(SHAPES)], per_series, rng))
            for s in range(series)]


def chunk_rows(load):
    for series_id, (ts, vs) in enumerate(load):
        windows = np.array([chunks.window_of(int(t)) for t in ts])
        for start in np.unique(windows):
            part = windows == start
            blob = chunks.encode(ts[part], vs[part])
            yield 1, series_id, int(start), int(part.sum()), int(ts[part][0]), int(ts[part][-1]), blob


def sample_rows(load):
    """In arrival order, as ingest writes them: every series' first sample, then every second..."""
    longest = max(ts.size for ts, _ in load)
    for index in range(longest):
        yield from ((1, series_id, int(ts[index]), float(vs[index]))
                    for series_id, (ts, vs) in enumerate(load) if index < ts.size)


def insert(connection, sql: str, rows) -> None:
    batch = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                connection.commit()
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            connection.commit()


def table_size(connection, datadir: Path, database: str, table: str) -> tuple[int, int, int, int]:
    """(file bytes, allocated bytes, data + index length, bytes of records in the table's pages)
    once every dirty page is on disk. The last is what the rows really take: small tables are
    dominated by InnoDB's allocation steps (whole 1 MiB extents once a segment passes 32 pages,
    files grown several MiB at a time), which the largest data set shows amortised."""
    with connection.cursor() as cursor:
        cursor.execute(f"FLUSH TABLES {table} FOR EXPORT")
        cursor.execute("UNLOCK TABLES")
        cursor.execute(f"ANALYZE TABLE {table}")
        cursor.fetchall()
        cursor.execute("SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES"
                       " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (database, table))
        (length,) = cursor.fetchone()
        cursor.execute("SELECT COALESCE(SUM(DATA_SIZE), 0) FROM information_schema.INNODB_BUFFER_PAGE"
                       " WHERE TABLE_NAME = %s", (f"`{database}`.`{table}`",))
        (records,) = cursor.fetchone()
    stat = (datadir / database / f"{table}.ibd").stat()
    return stat.st_size, stat.st_blocks * 512, int(length), int(records)


def measure(connection, datadir: Path, name: str, load, samples: int, *, rows: bool = True) -> None:
    with connection.cursor() as cursor:
        for table, options in CHUNK_VARIANTS.items():
            cursor.execute(CHUNK_TABLE.format(table=f"{table}_{name}", options=options))
        cursor.execute(ROWS_TABLE.format(name=name))
    started = time.perf_counter()
    encoded = list(chunk_rows(load))
    encode_s = time.perf_counter() - started
    blob_bytes = sum(len(row[-1]) for row in encoded)
    print(f"\n{name}: {samples:,} samples, {len(load):,} series, {len(encoded):,} chunks;"
          f" blobs {blob_bytes / samples:.2f} bytes/sample; encode {encode_s / samples * 1e6:.2f} µs/sample")
    print(f"{'table':<26}{'file B/sample':>15}{'allocated B/sample':>20}{'data+index B/sample':>21}"
          f"{'records B/sample':>18}{'insert s':>10}")
    for table in CHUNK_VARIANTS:
        started = time.perf_counter()
        insert(connection, f"INSERT INTO {table}_{name} VALUES (%s, %s, %s, %s, %s, %s, %s)", encoded)
        report(connection, datadir, f"{table}_{name}", samples, time.perf_counter() - started)
    if not rows:
        return
    started = time.perf_counter()
    insert(connection, f"INSERT INTO rows_{name} VALUES (%s, %s, %s, %s)", sample_rows(load))
    report(connection, datadir, f"rows_{name}", samples, time.perf_counter() - started)


def report(connection, datadir: Path, table: str, samples: int, insert_s: float) -> None:
    size, allocated, length, records = table_size(connection, datadir, "chunkdisk", table)
    print(f"{table:<26}{size / samples:>15.2f}{allocated / samples:>20.2f}{length / samples:>21.2f}"
          f"{records / samples:>18.2f}{insert_s:>10.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=10_000_000,
                        help="samples of a last, chunks-only data set in 2 h windows (0: skip)")
    args = parser.parse_args()
    with throwaway_services("microdash-chunkdisk-") as (services, _settings, root):
        connection = pymysql.connect(host="127.0.0.1", port=services.ports["mariadb"], user="root", autocommit=False)
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE chunkdisk")
            cursor.execute("SELECT @@innodb_page_size, @@innodb_compression_algorithm, @@version")
            print("InnoDB page size %s, page compression %s, MariaDB %s" % cursor.fetchone())
        connection.select_db("chunkdisk")
        datadir = root / "mariadb"
        measure(connection, datadir, "bench", bench_load(args.samples, args.series), args.samples)
        measure(connection, datadir, "node", node_load(args.samples, args.series), args.samples)
        two_hour_series = args.samples // 720
        measure(connection, datadir, "node2h", node_load(two_hour_series * 720, two_hour_series), two_hour_series * 720)
        if args.large:
            series = args.large // 720
            measure(connection, datadir, "node2h_large", node_load(series * 720, series), series * 720, rows=False)
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
