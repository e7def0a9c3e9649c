"""reads.assemble on rows as the read statement returns them (pure: no MariaDB), against a
reference that applies every part in write order: a series' sealed chunks decoded together give
what decoding them one by one gave, overlaps and newer parts included, and a corrupt chunk is
named. (tests/test_store_reads.py reads the same through MariaDB.)"""

import random

import numpy as np
import pytest

from microdash_core import chunks
from microdash_core.store import reads

WINDOW = chunks.WINDOW_MS
BASE = 1_764_000_000_000 - 1_764_000_000_000 % WINDOW
_CHUNK, _HEAD_TEXT = 0, 1


def sealed_row(series_id: int, ts: np.ndarray, vs: np.ndarray, part: int = 0) -> tuple:
    return (series_id, _CHUNK, chunks.window_of(int(ts[0])), part, chunks.encode(ts, vs), None)


def level0_row(series_id: int, ts: np.ndarray, vs: np.ndarray, log_id: int) -> tuple:
    return (series_id, _CHUNK, chunks.window_of(int(ts[0])), chunks.level0_part(log_id), chunks.level0.encode(ts, vs),
            None)


def head_row(series_id: int, ts: np.ndarray, vs: np.ndarray, span: reads.Span) -> tuple:
    """A legacy head group: the statement selects only its samples in the span."""
    kept = (ts >= span.first_ms) & (ts <= span.last_ms)
    ts, vs = ts[kept], vs[kept]
    return (series_id, _HEAD_TEXT, 0, 0, ",".join(map(str, ts.tolist())), ",".join(map(repr, vs.tolist())))


def reference(rows: list[tuple], span: reads.Span) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Every part applied in write order (sealed by window and part, the head, level-0 parts by
    part), a later value replacing an earlier one; then the span."""
    def order(row):
        _series, kind, key, part, _a, _b = row
        return (kind == _HEAD_TEXT or chunks.is_level0(part), chunks.is_level0(part), key, part)
    latest: dict[int, dict[int, float]] = {}
    for row in sorted(rows, key=order):
        series_id, kind, _key, _part, a, b = row
        ts, vs = (chunks.decode(a) if kind == _CHUNK else reads.parse_texts(a, b))
        latest.setdefault(series_id, {}).update(zip(ts.tolist(), vs.tolist()))
    found = {}
    for series_id, samples in latest.items():
        kept = sorted((t, v) for t, v in samples.items() if span.first_ms <= t <= span.last_ms)
        if kept:
            found[series_id] = (np.array([t for t, _ in kept], np.int64), np.array([v for _, v in kept]))
    return found


def assert_assembled(rows: list[tuple], span: reads.Span, series_ids=None):
    got = reads.assemble(list(rows), span, series_ids=series_ids)
    want = reference(rows, span)
    assert got.keys() == want.keys()
    for series_id, (ts, vs) in want.items():
        got_ts, got_vs = got[series_id]
        assert np.array_equal(got_ts, ts), series_id
        assert np.array_equal(got_vs, vs, equal_nan=True), series_id


def day(series_id: int, interval: int = 8_640, count: int = 10_000, jitter: bool = False) -> list[tuple]:
    """A series' day sealed into its windows' chunks, like the rollup bench's."""
    ts = BASE + 1_234 + interval * np.arange(count, dtype=np.int64)
    if jitter:
        ts += np.random.default_rng(series_id).integers(0, 250, count)
    vs = ((np.arange(count) + series_id) % 97).astype(np.float64)
    windows = ts - ts % WINDOW
    return [sealed_row(series_id, ts[windows == w], vs[windows == w]) for w in np.unique(windows)]


SPANS = [reads.Span(BASE, BASE + 3 * 86_400_000), reads.Span(BASE + 5_000_000, BASE + 80_000_000),
         reads.Span(BASE + 7_300_000, BASE + 7_300_000)]


@pytest.mark.parametrize("span", SPANS)
@pytest.mark.parametrize("jitter", [False, True])
def test_sealed_days_in_any_row_order(span, jitter):
    rows = day(1, jitter=jitter) + day(2, interval=10_000, jitter=jitter) + day(3, count=1)
    random.Random(7).shuffle(rows)
    assert_assembled(rows, span)


@pytest.mark.parametrize("span", SPANS)
def test_newer_parts_after_and_over_the_sealed_day(span):
    rows = day(1)
    last = chunks.decode(max(rows, key=lambda row: row[2])[4])[0][-1]
    after = last + 8_640 * np.arange(1, 70)
    rows.append(level0_row(1, after, np.arange(69) * 0.5, log_id=10))  # the day's last minutes, not sealed yet
    assert_assembled(rows, span)
    over = BASE + 1_234 + 8_640 * np.arange(100, 120)  # rewrites samples of a sealed chunk
    rows.append(level0_row(1, over, -np.arange(20) * 1.0, log_id=11))
    assert_assembled(rows, span)
    rows.append(head_row(1, over[::3], np.full(over[::3].size, 7.25), span))
    assert_assembled(rows, span)


def test_overlapping_sealed_parts_the_later_part_wins():
    ts = BASE + 10_000 * np.arange(500, dtype=np.int64)
    rows = [sealed_row(4, ts, np.zeros(500), part=0), sealed_row(4, ts[100:300] + 5, np.ones(200), part=1),
            sealed_row(4, ts[200:400], np.full(200, 2.0), part=2)]
    for span in SPANS:
        assert_assembled(rows[::-1], span)


def test_a_corrupt_chunk_is_named():
    rows = day(5)
    window, blob = rows[4][2], bytearray(rows[4][4])
    blob[-1] ^= 0x01
    rows[4] = rows[4][:4] + (bytes(blob), None)
    with pytest.raises(chunks.ChunkError, match=f"series 5, window {window}, part 0: chunk checksum"):
        reads.assemble(rows, SPANS[0], series_ids=[5])
