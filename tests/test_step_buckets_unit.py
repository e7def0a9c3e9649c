"""step_buckets against a plain Python reference: buckets of `ts // step`, sums added one by one
in time order, avg as the total over the total count, last as the latest row's value."""

import numpy as np
import pytest

from microdash_api.step_buckets import AGGREGATIONS, Rows, aggregate


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
