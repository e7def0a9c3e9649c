"""MariaDB's share of durable bulk ingest, alone: the bulk scenario's rows inserted into `samples`
the way the workers insert them, while MariaDB's own CPU time is measured.

    python bench/mariadb_insert.py [--samples 1000000] [--statement odku|ignore|plain|replace|json_table]
        [--rows-per-statement 5000] [--statements-per-commit 1] [--connections 2]
        [--driver pymysql|mariadb-bulk] [--server-flag=--innodb-adaptive-hash-index=OFF ...]
        [--unpartitioned] [--perf FILE] [--status]

Starts a throwaway MariaDB (cli/microdash_cli/localstack.py's flags plus --server-flag ones),
migrates, creates a tenant and its 10,000 series, then inserts sample k as series k % 10000 at
ts base + k // 10000 (as bench/ingest_load.py sends them) from --connections threads, each
taking the next 5,000-sample batch. Prints mariadbd's CPU seconds (user + system, from /proc)
per 1,000,000 rows, the wall time and, with --status, the SHOW GLOBAL STATUS counters that moved.
With --perf, `perf record -g` samples mariadbd during the inserts (read it with `perf report`).
No Python worker code is timed here; bench/profile_storage.py does the worker's side. The
client's own CPU is printed too: it matters for --driver mariadb-bulk, which needs MariaDB
Connector/Python (`mariadb`, not a project dependency: libmariadb-dev, then a venv of its own on
PYTHONPATH). Figures and what they showed: docs/benchmarks.md, "Durable bulk ingest".
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from microdash_cli import localstack
from throwaway import throwaway_services
from microdash_core import db, migrate
from microdash_core.partitions import ensure_partitions
from microdash_core.series import canonical_labels, series_hash
from microdash_core.settings import Settings
from microdash_core.tenants import directory

SERIES = 10_000
BATCH = 5_000
STATEMENTS = {
    "odku": (b"INSERT INTO samples (tenant_id, series_id, ts, value) VALUES ", b" ON DUPLICATE KEY UPDATE value = VALUE(value)"),
    "ignore": (b"INSERT IGNORE INTO samples (tenant_id, series_id, ts, value) VALUES ", b""),
    "plain": (b"INSERT INTO samples (tenant_id, series_id, ts, value) VALUES ", b""),
    "replace": (b"REPLACE INTO samples (tenant_id, series_id, ts, value) VALUES ", b""),
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def global_status(cursor) -> dict[str, int]:
    cursor.execute("SHOW GLOBAL STATUS")
    return {name: int(value) for name, value in cursor.fetchall() if value.lstrip("-").isdigit()}


def create_series(settings: Settings, tenant_id: int) -> list[int]:
    rows = []
    for index in range(SERIES):
        labels = canonical_labels({"host": f"h{index % 100}", "core": f"c{index // 100 % 100}"})
        rows.append((tenant_id, series_hash("bench.load", labels), "bench.load", labels))
    with db.transaction(settings) as cursor:
        cursor.executemany("INSERT INTO series (tenant_id, series_hash, metric, labels) VALUES (%s, %s, %s, %s)", rows)
        cursor.execute("SELECT id FROM series WHERE tenant_id = %s ORDER BY id", (tenant_id,))
        return [row[0] for row in cursor.fetchall()]


def statements(tenant_id: int, series_ids: list[int], *, samples: int, rows_per_statement: int,
               statement: str, base_ts: int) -> list[bytes]:
    if statement == "json_table":
        return json_table_statements(tenant_id, series_ids, samples=samples, rows_per_statement=rows_per_statement,
                                     base_ts=base_ts)
    head, tail = STATEMENTS[statement]
    row_start = b"(%d," % tenant_id
    built = []
    for start in range(0, samples, rows_per_statement):
        rows = sorted((series_ids[k % SERIES], base_ts + k // SERIES, (k % 1000) * 0.25)
                      for k in range(start, min(samples, start + rows_per_statement)))
        values = orjson.dumps(rows)[1:-1].replace(b"[", row_start).replace(b"]", b")")
        built.append(head + values + tail)
    return built


def bulk_parameters(tenant_id: int, series_ids: list[int], *, samples: int, rows_per_statement: int,
                    base_ts: int) -> list[list[tuple]]:
    return [sorted((tenant_id, series_ids[k % SERIES], base_ts + k // SERIES, (k % 1000) * 0.25)
                   for k in range(start, min(samples, start + rows_per_statement)))
            for start in range(0, samples, rows_per_statement)]


def connect_mariadb_connector(settings: Settings):
    """MariaDB Connector/Python (not a project dependency: experiments only), whose executemany
    sends the rows in the binary protocol's bulk form, one prepared statement, no SQL text per row."""
    import mariadb

    address = db.DatabaseAddress.from_url(settings.database_url)
    return mariadb.connect(host=address.host, port=address.port, user=address.user, password=address.password or "",
                           database=address.database, autocommit=False)


def json_table_statements(tenant_id: int, series_ids: list[int], *, samples: int, rows_per_statement: int,
                          base_ts: int) -> list[bytes]:
    """The rows as one JSON text that MariaDB turns into rows itself (JSON_TABLE), not SQL tuples."""
    built = []
    for start in range(0, samples, rows_per_statement):
        rows = sorted((series_ids[k % SERIES], base_ts + k // SERIES, (k % 1000) * 0.25)
                      for k in range(start, min(samples, start + rows_per_statement)))
        built.append(b"INSERT INTO samples (tenant_id, series_id, ts, value) SELECT %d, s, t, v FROM JSON_TABLE('%s',"
                     b" '$[*]' COLUMNS (s BIGINT UNSIGNED PATH '$[0]', t BIGINT PATH '$[1]', v DOUBLE PATH '$[2]')) AS j"
                     b" ON DUPLICATE KEY UPDATE value = VALUE(value)" % (tenant_id, orjson.dumps(rows)))
    return built


def insert_all(settings: Settings, built: list, *, connections: int, statements_per_commit: int,
               bulk_statement: str | None = None) -> None:
    queue = list(reversed(built))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def run() -> None:
        connection = connect_mariadb_connector(settings) if bulk_statement else db.connect(settings)
        try:
            cursor = connection.cursor()
            while True:
                with lock:
                    taken = [queue.pop() for _ in range(min(statements_per_commit, len(queue)))]
                if not taken:
                    return
                for sql in taken:
                    if bulk_statement:
                        cursor.executemany(bulk_statement, sql)
                    else:
                        cursor.execute(sql)
                connection.commit()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def run(args: argparse.Namespace, settings: Settings, mariadb_pid: int) -> None:
    migrate.migrate(settings)
    with db.transaction(settings) as cursor:
        tenant = directory.create_tenant(cursor, name="bench-mariadb")
    series_ids = create_series(settings, tenant.id)
    if not args.unpartitioned:  # as the legacy head was when it was written (before 0011): daily partitions
        with db.transaction(settings) as cursor:
            cursor.execute("ALTER TABLE samples PARTITION BY RANGE (ts) (PARTITION p_future VALUES LESS THAN MAXVALUE)")
            ensure_partitions(cursor, table="samples", today=dt.date.today(), days_back=7, days_ahead=7)
    base_ts = int(time.time() * 1000) - 300_000
    bulk_statement = None
    if args.driver == "mariadb-bulk":
        head, tail = STATEMENTS[args.statement]
        bulk_statement = (head + b"(?, ?, ?, ?)" + tail).decode()
        built = bulk_parameters(tenant.id, series_ids, samples=args.samples, rows_per_statement=args.rows_per_statement,
                                base_ts=base_ts)
    else:
        built = statements(tenant.id, series_ids, samples=args.samples, rows_per_statement=args.rows_per_statement,
                           statement=args.statement, base_ts=base_ts)
    monitor = db.connect(settings)
    with monitor.cursor() as cursor:
        status_before = global_status(cursor)
    perf = None
    if args.perf:
        perf = subprocess.Popen(["perf", "record", "-g", "-q", "-o", str(args.perf), "-p", str(mariadb_pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    cpu_before, client_before, started = cpu_seconds(mariadb_pid), time.process_time(), time.perf_counter()
    insert_all(settings, built, connections=args.connections, statements_per_commit=args.statements_per_commit,
               bulk_statement=bulk_statement)
    wall, cpu = time.perf_counter() - started, cpu_seconds(mariadb_pid) - cpu_before
    client_cpu = time.process_time() - client_before
    if perf is not None:
        perf.send_signal(2)
        perf.wait()
    with monitor.cursor() as cursor:
        status_after = global_status(cursor)
        count_cpu_before = cpu_seconds(mariadb_pid)
        cursor.execute("SELECT COUNT(*) FROM samples WHERE tenant_id = %s", (tenant.id,))
        (rows,) = cursor.fetchone()
        count_cpu = cpu_seconds(mariadb_pid) - count_cpu_before
    monitor.close()
    per_million = 1_000_000 / args.samples
    print(f"{args.driver}, {args.statement}, {args.rows_per_statement} rows a statement, {args.statements_per_commit} a commit,"
          f" {args.connections} connections{', unpartitioned' if args.unpartitioned else ''},"
          f" flags {args.server_flag or '-'}: {rows:,} rows;"
          f" mariadbd CPU {cpu * per_million:.2f} s per 1M rows (client {client_cpu * per_million:.2f}); wall {wall:.2f} s ({args.samples / wall:,.0f} rows/s)")
    print(f"  one SELECT COUNT(*) of the {rows:,} rows: {count_cpu:.2f} s of mariadbd CPU")
    if args.status:
        for name in sorted(status_after):
            delta = status_after[name] - status_before.get(name, 0)
            if delta and not name.startswith(("Com_show", "Uptime", "Bytes_")) or name.startswith("Innodb_rows"):
                print(f"  {name} {delta:,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--statement", choices=sorted([*STATEMENTS, "json_table"]), default="odku")
    parser.add_argument("--rows-per-statement", type=int, default=BATCH)
    parser.add_argument("--statements-per-commit", type=int, default=1)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--server-flag", action="append", default=[], help="extra mariadbd flag (repeatable)")
    parser.add_argument("--driver", choices=("pymysql", "mariadb-bulk"), default="pymysql",
                        help="pymysql's SQL text (as the workers), or MariaDB Connector/Python's bulk executemany")
    parser.add_argument("--unpartitioned", action="store_true", help="insert into samples without its partitions")
    parser.add_argument("--status", action="store_true", help="print the global status counters that moved")
    parser.add_argument("--perf", type=Path, default=None, help="perf record mariadbd into this file")
    args = parser.parse_args()
    original_argv = localstack.mariadb_argv
    localstack.mariadb_argv = lambda datadir, port, **kw: original_argv(datadir, port, **kw) + args.server_flag
    with throwaway_services("microdash-mariadb-insert-") as (services, settings, _root):
        run(args, settings, services.processes["mariadb"].pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
