"""Support for the sealing tests: databases of their own on the stack's MariaDB (a forced seal of
the shared database would seal other tests' samples), samples written as legacy head rows or log
rows, what the store holds compared sample by sample, a mover process killed at random points, and
races: a mover repeated in a thread while the test writes new and re-written samples."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing, contextmanager
from typing import Callable, Iterator

import numpy as np
import pymysql

from microdash_core import chunks, db, migrate
from microdash_core.settings import Settings
from microdash_core.store import compaction, head_log, reads, sealing

WINDOW = chunks.WINDOW_MS
NOW = 1_765_000_000_000 - 1_765_000_000_000 % WINDOW + WINDOW // 2  # half-way through a window
CURRENT = NOW - NOW % WINDOW
EVERYTHING = reads.Span(-(2 ** 62), 2 ** 62)
Expected = dict[tuple[int, int], dict[int, float]]  # (tenant, series) -> {ts: value}


def database_settings(stack, prefix: str = "seal") -> Settings:
    url = stack.env["MICRODASH_DATABASE_URL"].rsplit("/", 1)[0] + f"/{prefix}_{uuid.uuid4().hex[:10]}"
    return Settings(database_url=url, redis_url=stack.env["MICRODASH_REDIS_URL"])


def created_database(stack, prefix: str) -> Settings:
    """An empty database of its own (drop_database when done)."""
    settings = database_settings(stack, prefix)
    with closing(db.connect(settings, with_database=False)) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{db.DatabaseAddress.from_url(settings.database_url).database}`")
    return settings


def migrated_database(stack, prefix: str = "seal") -> Settings:
    settings = database_settings(stack, prefix)
    migrate.migrate(settings)
    return settings


def write_head(settings: Settings, rows: list[tuple[int, int, int, float]], expected: Expected | None = None) -> None:
    """Rows (tenant, series, ts, value) into the head as the ingest writes them: a re-written
    sample replaces the row's value."""
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany("INSERT INTO samples (tenant_id, series_id, ts, value) VALUES (%s, %s, %s, %s)"
                               " ON DUPLICATE KEY UPDATE value = VALUE(value)", rows[start:start + 5000])
            connection.commit()
    if expected is not None:
        for tenant, series, ts, value in rows:
            expected.setdefault((tenant, series), {})[ts] = value


def write_log(settings: Settings, rows: list[tuple[int, int, int, float]], expected: Expected | None = None,
              batch_size: int = 500) -> None:
    """Rows (tenant, series, ts, value) as log rows of batch_size, one tenant each, as the worker
    appends them (one transaction per row): later rows win at an equal (series, ts)."""
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            piece = rows[start:start + batch_size]
            for tenant in sorted({row[0] for row in piece}):
                mine = [row for row in piece if row[0] == tenant]
                head_log.append(cursor, tenant, np.array([row[1] for row in mine], dtype=np.int64),
                                np.array([row[2] for row in mine], dtype=np.int64),
                                np.array([row[3] for row in mine], dtype=np.float64))
                connection.commit()
    if expected is not None:
        for tenant, series, ts, value in rows:
            expected.setdefault((tenant, series), {})[ts] = value


def by_series(settings: Settings, tenant_id: int, written: dict[tuple[str, int], float], label: str,
              expected: Expected | None = None) -> Expected:
    """What was written through the ingest, (the value of the series' one label, ts) -> value,
    added to expected by the series' ids; -1 for a series not stored yet."""
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT id, labels FROM series WHERE tenant_id = %s", (tenant_id,))
        series_of = {labels: series_id for series_id, labels in cursor.fetchall()}
    expected = {} if expected is None else expected
    for (label_value, ts), value in written.items():
        expected.setdefault((tenant_id, series_of.get(f'{{"{label}":"{label_value}"}}', -1)), {})[ts] = value
    return expected


def read_all(settings: Settings, tenants: list[int]) -> Expected:
    found: Expected = {}
    with db.transaction(settings) as cursor:
        for tenant in tenants:
            for series, (ts, vs) in reads.read_series(cursor, tenant_id=tenant, series_ids=None, span=EVERYTHING).items():
                found[(tenant, series)] = dict(zip(ts.tolist(), vs.tolist()))
    return found


def assert_reads_exactly(settings: Settings, expected: Expected) -> None:
    found = read_all(settings, sorted({tenant for tenant, _series in expected}))
    assert found.keys() == expected.keys()
    for key, samples in expected.items():
        if found[key] != samples:
            missing = samples.keys() - found[key].keys()
            extra = found[key].keys() - samples.keys()
            changed = [ts for ts in samples.keys() & found[key].keys() if samples[ts] != found[key][ts]]
            raise AssertionError(f"{key}: {len(missing)} missing, {len(extra)} extra, {len(changed)} changed values")


def stored_samples(settings: Settings, tenants: list[int] | None = None
                   ) -> tuple[dict[tuple[int, int], np.ndarray], dict[tuple[int, int], list[int]]]:
    """Every canonical chunk part decoded (timestamps per tenant and series, in part order) and
    the timestamps not sealed yet per tenant and series (legacy head rows, level-0 parts and log
    rows; a re-delivered sample once per copy), of the given tenants or all; checks that every
    part is a well-formed chunk of its window."""
    sealed: dict[tuple[int, int], list[np.ndarray]] = {}
    head: dict[tuple[int, int], list[int]] = {}
    only = f" WHERE tenant_id IN ({','.join(str(int(t)) for t in tenants)})" if tenants else ""
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        tables = {name for (name,) in cursor.fetchall()}  # a database of a previous schema has fewer
        if "sample_chunks" not in tables:
            cursor.execute("SELECT 0, 0, 0, 0, 0, 0, 0, '' FROM DUAL WHERE FALSE")
        else:
            cursor.execute("SELECT tenant_id, series_id, window_start, part, sample_count, first_ts, last_ts, data"
                           f" FROM sample_chunks{only} ORDER BY tenant_id, series_id, window_start, part")
        for tenant, series, window_start, part, count, first, last, data in cursor.fetchall():
            ts, _vs = chunks.decode(data)
            assert (count, first, last) == (ts.size, ts[0], ts[-1])
            assert chunks.window_of(first) == window_start == chunks.window_of(last)
            assert count <= chunks.SEAL_MAX_SAMPLES
            if chunks.is_level0(part):
                head.setdefault((tenant, series), []).extend(ts.tolist())
            else:
                sealed.setdefault((tenant, series), []).append(ts)
        cursor.execute(f"SELECT tenant_id, series_id, ts FROM samples{only} ORDER BY tenant_id, series_id, ts")
        for tenant, series, ts in cursor.fetchall():
            head.setdefault((tenant, series), []).append(ts)
        cursor.execute(f"SELECT tenant_id, sample_count, first_ts, last_ts, data FROM sample_log{only} ORDER BY id"
                       if "sample_log" in tables else "SELECT 0, 0, 0, 0, '' FROM DUAL WHERE FALSE")
        for tenant, count, first, last, data in cursor.fetchall():
            series_ids, ts, _vs = chunks.batch.decode(data)
            assert (count, first, last) == (ts.size, ts.min(), ts.max())
            for series, stamp in zip(series_ids.tolist(), ts.tolist()):
                head.setdefault((tenant, series), []).append(stamp)
    return {key: np.concatenate(parts) for key, parts in sealed.items()}, head


def assert_nothing_doubled(settings: Settings, expected: Expected) -> None:
    """Within the canonical chunks every sample is stored once (parts in order, never overlapping),
    and they plus what is not sealed yet hold exactly the expected timestamps."""
    sealed, head = stored_samples(settings, sorted({tenant for tenant, _series in expected}))
    for key, ts in sealed.items():
        assert np.all(ts[1:] > ts[:-1]), f"{key}: a sample is sealed twice or out of order"
    for key, samples in expected.items():
        held = set(sealed.get(key, np.empty(0, dtype=np.int64)).tolist()) | set(head.get(key, []))
        assert held == samples.keys(), key


def head_count(settings: Settings, before_ms: int | None = None) -> int:
    """Samples not sealed yet (legacy head rows, level-0 parts, log rows), with ts < before_ms if given."""
    _sealed, head = stored_samples(settings)
    return sum(1 for stamps in head.values() for ts in stamps if before_ms is None or ts < before_ms)


def chunk_rows(settings: Settings) -> int:
    """Canonical chunk parts (level-0 parts not counted)."""
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT COUNT(*) FROM sample_chunks WHERE part < %s", (chunks.LEVEL0_PART_BASE,))
        return cursor.fetchone()[0]


def drop_database(settings: Settings) -> None:
    with closing(db.connect(settings, with_database=False)) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{db.DatabaseAddress.from_url(settings.database_url).database}`")


def seal(settings: Settings, cutoff_ms: int = NOW, **kwargs) -> sealing.Sealed:
    with closing(db.connect(settings)) as connection:
        return sealing.seal_due(connection, cutoff_ms=cutoff_ms, **kwargs)


def compact_and_seal(settings: Settings, cutoff_ms: int = NOW) -> sealing.Sealed:
    """The log into level-0 parts, then every window over at cutoff_ms sealed, as the jobs do."""
    with closing(db.connect(settings)) as connection:
        compaction.compact_due(connection)
        return sealing.seal_due(connection, cutoff_ms=cutoff_ms)


def late_rows(rng: np.random.Generator, series: range, windows: list[int], share: float, *, tenants: int = 1,
              shuffled: bool = False) -> list[tuple]:
    """Re-written samples (a new value at an existing ts) and new ones between, in the given
    windows, of tenant 1 + series % tenants."""
    rows = []
    for s in series:
        for window in windows:
            for i in range(0, 150, int(1 / share)):
                rows.append((1 + s % tenants, s, window + i * 40_000, float(rng.integers(-10**9, 10**9)) / 1000))
                rows.append((1 + s % tenants, s, window + i * 40_000 + 17, float(rng.normal())))
    if shuffled:
        rng.shuffle(rows)
    return rows


def killed_a_while_after_start(script: str, args: list, picker: random.Random, *,
                               wait_seconds: tuple[float, float]) -> bool:
    """Run script (python -c, its argv[1:] args; it prints "started" before its work), SIGKILL it a
    random time within wait_seconds after it starts; True if it was still running then."""
    process = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "MICRODASH_LOG_LEVEL": "WARNING"})
    try:
        assert process.stdout.readline().strip() == "started"
        time.sleep(picker.uniform(*wait_seconds))
        running = process.poll() is None
        if running:  # else it is reaped already: its pid may not be ours any more
            os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    return running


@contextmanager
def repeated_in_background(settings: Settings, step: Callable[[pymysql.connections.Connection], None]
                           ) -> Iterator[None]:
    """step(connection) run over and over in a thread, on a connection of its own, while the block
    runs (a mover racing the test's writes); stopped and joined when the block ends, and what the
    thread raised is raised then (unless the block raised first)."""
    done = threading.Event()
    failures: list[BaseException] = []

    def repeat() -> None:
        try:
            with closing(db.connect(settings)) as connection:
                while not done.is_set():
                    step(connection)
        except BaseException as exc:  # noqa: BLE001 - raised in the test's thread below
            failures.append(exc)

    thread = threading.Thread(target=repeat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=120)
    assert not thread.is_alive(), "the background step did not stop"
    if failures:
        raise failures[0]


class Rewrites:
    """Samples of one metric with one label, to race a mover with: each at a random (label value,
    ts) key, so later ones re-write earlier keys, and with values that only grow, so a key's newest
    write has its largest value. `written` holds each key's last value."""

    def __init__(self, rng: random.Random, *, metric: str, label: str, series: int,
                 timestamp: Callable[[random.Random], int], prefix: str = "s"):
        self.rng, self.metric, self.label, self.series, self.timestamp = rng, metric, label, series, timestamp
        self.prefix = prefix
        self.value = 0.0
        self.written: dict[tuple[str, int], float] = {}

    def batch(self, size: int) -> list[tuple[str, dict[str, str], int, float]]:
        """The next size samples as (metric, labels, ts, value), as SampleStore.store takes them."""
        samples = []
        for _ in range(size):
            key = (f"{self.prefix}{self.rng.randrange(self.series)}", self.timestamp(self.rng))
            self.value += 1
            self.written[key] = self.value  # the last in a batch wins too
            samples.append((self.metric, {self.label: key[0]}, key[1], self.value))
        return samples

    def body(self, size: int) -> list[dict]:
        """The next size samples as a /api/v1/metrics/bulk body."""
        return [{"metric": metric, "labels": labels, "ts": ts, "value": value}
                for metric, labels, ts, value in self.batch(size)]
