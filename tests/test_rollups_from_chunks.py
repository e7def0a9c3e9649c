"""Rollups computed from the raw store (sealed chunks plus head) against a real MariaDB: the same
rows whether a sample is sealed or in the head, bit for bit what MariaDB's own GROUP BY gives, a
late sample merged after sealing re-rolls its minute, and another tenant's rows stay untouched."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import numpy as np
import pytest

from microdash_core import chunks, db
from microdash_workers import rollups
from support import insert_chunk

WINDOW = chunks.WINDOW_MS
MINUTE = 60_000
BASE = 1_700_006_400_000 - 1_700_006_400_000 % WINDOW  # a window start
NOW = BASE + 3 * WINDOW  # within raw retention of every timestamp below
COLUMNS = "series_id, bucket_ts, sample_count, value_sum, value_min, value_max, last_value, last_ts"
# What the rollup job computed in SQL before it read chunks: the oracle for the head's samples.
SQL_1M = f"""
SELECT agg.series_id, agg.bucket, agg.n, agg.total, agg.lo, agg.hi, s.value, agg.last_ts
FROM (SELECT series_id, ts - ts MOD 60000 AS bucket, COUNT(*) AS n, SUM(value) AS total, MIN(value) AS lo,
             MAX(value) AS hi, MAX(ts) AS last_ts
      FROM samples WHERE tenant_id = %s GROUP BY series_id, bucket) AS agg
JOIN samples AS s ON s.tenant_id = %s AND s.series_id = agg.series_id AND s.ts = agg.last_ts
ORDER BY agg.series_id, agg.bucket
"""
# ... and of the 5m rows, from the 1m rows.
SQL_5M = """
SELECT agg.series_id, agg.bucket, agg.n, agg.total, agg.lo, agg.hi, m.last_value, agg.last_ts
FROM (SELECT series_id, bucket_ts - bucket_ts MOD 300000 AS bucket, SUM(sample_count) AS n,
             SUM(value_sum) AS total, MIN(value_min) AS lo, MAX(value_max) AS hi, MAX(last_ts) AS last_ts
      FROM samples_1m WHERE tenant_id = %s GROUP BY series_id, bucket) AS agg
JOIN samples_1m AS m ON m.tenant_id = %s AND m.series_id = agg.series_id
                     AND m.bucket_ts = agg.last_ts - agg.last_ts MOD 60000
ORDER BY agg.series_id, agg.bucket
"""


def _new_series(cursor, tenant_id: int, name: str) -> int:
    cursor.execute("INSERT INTO series (tenant_id, series_hash, metric, labels) VALUES (%s, %s, %s, '{}')",
                   (tenant_id, hashlib.md5(name.encode()).digest(), name))
    return cursor.lastrowid


def _seal(cursor, tenant_id: int, series_id: int, ts: np.ndarray, vs: np.ndarray) -> None:
    insert_chunk(cursor, tenant_id=tenant_id, series_id=series_id, timestamps=ts.tolist(), values=vs.tolist())


def _head(cursor, tenant_id: int, series_id: int, ts, vs) -> None:
    cursor.executemany("INSERT INTO samples VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE value = VALUES(value)",
                       [(tenant_id, series_id, int(t), float(v)) for t, v in zip(ts, vs)])


def _roll(stack, tenant_id: int, minutes, *, read_ahead: bool = False) -> None:
    """roll_tenant as the job calls it, reading on its own connection (or, read_ahead, on a second
    connection one step ahead, as roll_up does)."""
    with closing(db.connect(stack.settings)) as database, closing(db.connect(stack.settings)) as reader, \
            ThreadPoolExecutor(max_workers=1) as executor:
        rollups.roll_tenant(database, stack.settings, tenant_id=tenant_id, minutes=sorted(set(minutes)), now_ms=NOW,
                            read_ahead=rollups.ReadAhead(reader, executor) if read_ahead else None)


def _rows(stack, table: str, tenant_id: int, series_ids: list[int]) -> list[tuple]:
    """The rollup rows with each series id replaced by its position in series_ids."""
    position = {series_id: i for i, series_id in enumerate(series_ids)}
    rows = stack.sql(f"SELECT {COLUMNS} FROM {table} WHERE tenant_id = %s ORDER BY series_id, bucket_ts",
                     (tenant_id,))
    return [(position[row[0]], *row[1:]) for row in rows]


def _awkward_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sums whose last bits depend on the order of addition, and magnitudes from 1e-300 to 1e300."""
    values = rng.normal(0, 1, n) * 10.0 ** rng.integers(-12, 12, n)
    values[::97] = 1e300 * rng.choice([-1.0, 1.0], len(values[::97]))
    values[5::89] = 1e-300
    values[7::101] = 0.1
    return values


@pytest.fixture
def tenants(stack):
    return [stack.new_tenant(prefix)[0].id for prefix in ("rc-sealed", "rc-head", "rc-other")]


def _series_data(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Three series over two windows and a bit: one every 10 s, one irregular and dense (up to
    one sample a second), one with a single sample."""
    steady = np.arange(BASE, BASE + 2 * WINDOW + 30 * MINUTE, 10_000, dtype=np.int64)
    dense = np.unique(rng.integers(BASE, BASE + 2 * WINDOW + 30 * MINUTE, 20_000) // 1000 * 1000)
    single = np.array([BASE + WINDOW + 17 * MINUTE + 123], dtype=np.int64)
    return [(ts, _awkward_values(rng, len(ts))) for ts in (steady, dense, single)]


def _store(stack, tenant_id: int, names: str, data, *, sealed_windows: int) -> list[int]:
    """The series' samples of the first sealed_windows windows as chunk rows, the rest as head rows."""
    sealed_before = BASE + sealed_windows * WINDOW
    series_ids = []
    with db.transaction(stack.settings) as cursor:
        for i, (ts, vs) in enumerate(data):
            series_id = _new_series(cursor, tenant_id, f"{names}{i}")
            series_ids.append(series_id)
            for window in range(sealed_windows):
                inside = (ts >= BASE + window * WINDOW) & (ts < BASE + (window + 1) * WINDOW)
                if inside.any():
                    _seal(cursor, tenant_id, series_id, ts[inside], vs[inside])
            later = ts >= sealed_before
            _head(cursor, tenant_id, series_id, ts[later], vs[later])
    return series_ids


def _minutes(data) -> list[int]:
    return sorted({int(t) - int(t) % MINUTE for ts, _vs in data for t in ts})


def test_rollups_over_chunks_and_head_equal_the_sql_rollups_over_the_head(stack, tenants, monkeypatch):
    sealed_tenant, head_tenant, _ = tenants
    monkeypatch.setattr(rollups, "SERIES_PER_READ", 2)  # several reads per window
    data = _series_data(np.random.default_rng(13))
    sealed_ids = _store(stack, sealed_tenant, "rc-sealed-", data, sealed_windows=2)
    head_ids = _store(stack, head_tenant, "rc-head-", data, sealed_windows=0)
    minutes = _minutes(data)
    _roll(stack, sealed_tenant, minutes, read_ahead=True)
    _roll(stack, head_tenant, minutes)

    from_chunks = _rows(stack, "samples_1m", sealed_tenant, sealed_ids)
    assert len(from_chunks) == sum(len(_minutes([pair])) for pair in data)
    assert from_chunks == _rows(stack, "samples_1m", head_tenant, head_ids)
    position = {series_id: i for i, series_id in enumerate(head_ids)}
    oracle = [(position[row[0]], *row[1:]) for row in stack.sql(SQL_1M, (head_tenant, head_tenant))]
    assert from_chunks == oracle  # bit for bit, sums in the order MariaDB adds them
    five_minutes = _rows(stack, "samples_5m", sealed_tenant, sealed_ids)
    assert five_minutes == _rows(stack, "samples_5m", head_tenant, head_ids)
    position = {series_id: i for i, series_id in enumerate(sealed_ids)}
    oracle = [(position[row[0]], *row[1:]) for row in stack.sql(SQL_5M, (sealed_tenant, sealed_tenant))]
    assert five_minutes == oracle and len(oracle) == sum(len({t - t % 300_000 for t in ts.tolist()}) for ts, _ in data)


def test_a_late_sample_merged_after_sealing_rerolls_its_minute(stack, tenants):
    tenant, _, _ = tenants
    ts = np.arange(BASE, BASE + 10 * MINUTE, 20_000, dtype=np.int64)  # 3 a minute
    vs = np.arange(len(ts), dtype=np.float64)
    with db.transaction(stack.settings) as cursor:
        series_id = _new_series(cursor, tenant, "rc-late")
        _seal(cursor, tenant, series_id, ts, vs)
    _roll(stack, tenant, _minutes([(ts, vs)]))
    minute_two = BASE + 2 * MINUTE
    assert _rows(stack, "samples_1m", tenant, [series_id])[2] == (0, minute_two, 3, 21.0, 6.0, 8.0, 8.0,
                                                                  minute_two + 40_000)
    with db.transaction(stack.settings) as cursor:  # one new sample and one re-written sealed one
        _head(cursor, tenant, series_id, [minute_two + 50_000, minute_two + 20_000], [100.0, -5.0])
    _roll(stack, tenant, [minute_two])
    rows = _rows(stack, "samples_1m", tenant, [series_id])
    assert rows[2] == (0, minute_two, 4, 6.0 - 5.0 + 8.0 + 100.0, -5.0, 100.0, 100.0, minute_two + 50_000)
    assert rows[1] == (0, BASE + MINUTE, 3, 12.0, 3.0, 5.0, 5.0, BASE + MINUTE + 40_000)  # untouched
    five_minute_sum = sum(range(15)) - 7.0 - 5.0 + 100.0
    assert _rows(stack, "samples_5m", tenant, [series_id])[0] == (0, BASE, 16, five_minute_sum, -5.0, 100.0, 14.0,
                                                                  BASE + 4 * MINUTE + 40_000)


def test_rolling_a_tenant_leaves_another_tenants_rows_alone(stack, tenants):
    mine, theirs, _ = tenants
    ts = np.arange(BASE, BASE + 3 * MINUTE, 30_000, dtype=np.int64)
    with db.transaction(stack.settings) as cursor:
        my_series = _new_series(cursor, mine, "rc-mine")
        their_series = _new_series(cursor, theirs, "rc-theirs")
        _seal(cursor, mine, my_series, ts, np.ones(len(ts)))
        # their samples under my series id too: a read must not mix them in
        _head(cursor, theirs, my_series, ts, np.full(len(ts), 50.0))
        _head(cursor, theirs, their_series, ts, np.full(len(ts), 7.0))
        cursor.execute("INSERT INTO samples_1m VALUES (%s, %s, %s, 1, 99, 99, 99, 99, %s)",
                       (theirs, their_series, BASE, BASE))
    before = stack.sql(f"SELECT {COLUMNS} FROM samples_1m WHERE tenant_id = %s", (theirs,))
    _roll(stack, mine, _minutes([(ts, None)]))
    assert stack.sql(f"SELECT {COLUMNS} FROM samples_1m WHERE tenant_id = %s", (theirs,)) == before
    assert stack.sql("SELECT COUNT(*) FROM samples_5m WHERE tenant_id = %s", (theirs,)) == [(0,)]
    assert [row[2:4] for row in _rows(stack, "samples_1m", mine, [my_series])] == [(2, 2.0)] * 3
