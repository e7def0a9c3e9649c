"""step_buckets against a plain Python reference: buckets of `ts // step`, sums added one by one
in time order, avg as the total over the total count, last as the latest row's value."""

import numpy as np
import pytest

from microdash_api.step_buckets import AGGREGATIONS, Rows, SeriesRows, aggregate, aggregate_series


def _reference(ts, columns, step, aggregation):
    buckets: dict[int, list[int]] = {}
    for index, t in enumerate(ts):
        buckets.setdefault(t // step, []).append(index)
    out = []
    for bucket, rows in buckets.items():
        total, count = 0.0, 0.0
        for row in rows:
            total += columns["sums"][row]
            count += columns["counts"][row] if columns["counts"] is not None else 1.0
        value = {"sum": total, "count": count, "avg": total / count,
                 "min": min(columns["mins"][row] for row in rows), "max": max(columns["maxs"][row] for row in rows),
                 "last": columns["lasts"][rows[-1]]}[aggregation]
        out.append((bucket * step, value))
    return out


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("step", [1, 7, 1000, 60_000])
def test_samples_and_rollup_rows_aggregate_like_the_reference(aggregation, step):
    rng = np.random.default_rng(step)
    ts = np.cumsum(rng.integers(1, 3000, 500)).astype(np.int64)
    values = rng.standard_normal(500) * 10.0 ** rng.integers(-3, 12, 500)
    samples = Rows.of_samples(ts, values)
    rollups = Rows(ts, sums=values, counts=rng.integers(1, 60, 500).astype(np.float64),
                   mins=values - 1, maxs=values + 1, lasts=values * 2)
    for rows in (samples, rollups):
        columns = {"sums": rows.sums, "counts": rows.counts, "mins": rows.mins, "maxs": rows.maxs, "lasts": rows.lasts}
        starts, got = aggregate(rows, step, aggregation)
        assert list(zip(starts.tolist(), got.tolist())) == _reference(ts.tolist(), columns, step, aggregation)


def test_no_rows_give_no_points():
    starts, values = aggregate(Rows.of_samples(np.empty(0, dtype=np.int64), np.empty(0)), 1000, "avg")
    assert starts.size == values.size == 0


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("step", [1, 7, 60_000, 3_600_000])
def test_series_back_to_back_aggregate_as_each_alone(aggregation, step):
    """Series whose times overlap and meet (a bucket must not span two series), one of them empty."""
    rng = np.random.default_rng(step + len(aggregation))
    sizes = [300, 0, 1, 250, 40]
    parts = [np.sort(rng.choice(10**6, size=size, replace=False)).astype(np.int64) for size in sizes]
    parts[4] = parts[3][-40:].copy()  # starts inside the previous series' last bucket
    ts = np.concatenate(parts)
    values = rng.standard_normal(ts.size) * 1e3
    counts = rng.integers(1, 60, ts.size).astype(np.float64)
    whole = Rows(ts, sums=values, counts=counts, mins=values - 1, maxs=values + 1, lasts=values * 2)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    found = aggregate_series(SeriesRows([11, 12, 13, 14, 15], offsets, whole), step, aggregation)
    for n, series_id in enumerate([11, 12, 13, 14, 15]):
        a, b = offsets[n], offsets[n + 1]
        alone = Rows(ts[a:b], sums=values[a:b], counts=counts[a:b], mins=values[a:b] - 1, maxs=values[a:b] + 1,
                     lasts=values[a:b] * 2)
        if a == b:
            assert series_id not in found
            continue
        starts, got = found[series_id]
        expected_starts, expected = aggregate(alone, step, aggregation)
        assert starts.tolist() == expected_starts.tolist() and got.tolist() == expected.tolist()
