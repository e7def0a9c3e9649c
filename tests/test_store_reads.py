"""microdash_core.store.reads against a real MariaDB: chunks plus head as one series, the head
winning over a sealed sample at the same time, spans, tenancy, and the row fallback."""

import numpy as np
import pytest

from microdash_core import chunks, db
from microdash_core.store import head_log, reads
from support import append_log

WINDOW = chunks.WINDOW_MS
BASE = 1_700_006_400_000 - 1_700_006_400_000 % WINDOW  # a window start


def _seal(cursor, tenant_id: int, series_id: int, ts: list[int], vs: list[float], part: int = 0) -> None:
    blob = chunks.encode(np.array(ts, dtype=np.int64), np.array(vs, dtype=np.float64))
    cursor.execute("INSERT INTO sample_chunks VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                   (tenant_id, series_id, chunks.window_of(ts[0]), part, len(ts), min(ts), max(ts), blob))


def _head(cursor, tenant_id: int, series_id: int, ts: list[int], vs: list[float]) -> None:
    cursor.executemany("INSERT INTO samples VALUES (%s, %s, %s, %s)",
                       [(tenant_id, series_id, t, v) for t, v in zip(ts, vs)])


@pytest.fixture
def two_tenants(stack):
    mine, _ = stack.new_tenant("reads")
    theirs, _ = stack.new_tenant("reads-other")
    return mine.id, theirs.id


def _read(stack, tenant_id, series_ids, span, **kwargs):
    with db.transaction(stack.settings) as cursor:
        return reads.read_series(cursor, tenant_id=tenant_id, series_ids=series_ids, span=span, **kwargs)


def test_chunks_and_head_read_as_one_series_and_the_head_wins(stack, two_tenants):
    tenant, _ = two_tenants
    first = [BASE + i * 10_000 for i in range(720)]
    second = [BASE + WINDOW + i * 10_000 for i in range(10)]
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, tenant, 1, first, [float(i) for i in range(720)])
        _seal(cursor, tenant, 1, second, [1000.0 + i for i in range(10)])
        # the head: newer samples, and one re-written after its window was sealed
        _head(cursor, tenant, 1, [BASE + WINDOW + 200_000, first[5]], [7.5, -1.0])
    found = _read(stack, tenant, [1], reads.Span(BASE, BASE + 2 * WINDOW))
    ts, vs = found[1]
    assert ts.tolist() == first + second + [BASE + WINDOW + 200_000]
    assert vs[5] == -1.0 and vs[6] == 6.0 and vs[-1] == 7.5
    assert vs[720:730].tolist() == [1000.0 + i for i in range(10)]


def test_spans_clip_chunks_and_head(stack, two_tenants):
    tenant, _ = two_tenants
    ts = [BASE + i * 1000 for i in range(100)]
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, tenant, 2, ts[:50], [float(i) for i in range(50)])
        _head(cursor, tenant, 2, ts[50:], [float(i) for i in range(50, 100)])
    found = _read(stack, tenant, [2], reads.Span.left_open(ts[10], ts[60]))
    assert found[2][0].tolist() == ts[11:61]
    found = _read(stack, tenant, None, reads.Span.half_open(ts[10], ts[60]))
    assert found[2][0].tolist() == ts[10:60]
    assert _read(stack, tenant, [2], reads.Span(ts[-1] + 1, ts[-1] + 10_000)) == {}


def test_another_tenant_reads_nothing(stack, two_tenants):
    mine, theirs = two_tenants
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, mine, 3, [BASE, BASE + 1000], [1.0, 2.0])
        _head(cursor, mine, 3, [BASE + 2000], [3.0])
    span = reads.Span(BASE, BASE + WINDOW)
    assert _read(stack, theirs, [3], span) == {}
    assert _read(stack, theirs, None, span) == {}
    assert _read(stack, mine, [3], span)[3][1].tolist() == [1.0, 2.0, 3.0]


def test_a_head_text_at_its_bound_is_read_again_as_rows(stack, two_tenants, monkeypatch):
    tenant, _ = two_tenants
    ts = [BASE + i for i in range(2000)]
    values = [i / 7 for i in range(2000)]
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, tenant, 4, [BASE - 5000], [0.5])
        _head(cursor, tenant, 4, ts, values)
    monkeypatch.setattr(reads, "TEXT_BOUND", 1000)
    found = _read(stack, tenant, [4], reads.Span(BASE - WINDOW, BASE + WINDOW))
    assert found[4][0].tolist() == [BASE - 5000, *ts]
    assert found[4][1].tolist() == [0.5, *values]  # exact: doubles round-trip through the text


def test_every_shape_reads_the_same_samples(stack, two_tenants, monkeypatch):
    """Head texts by series-hour, by series (a read counted at most SERIES_TEXT_SAMPLES) and one
    row per sample give the same arrays, whatever order the head rows were written in; a series
    text at its bound is read again as rows."""
    tenant, _ = two_tenants
    rng = np.random.default_rng(3)
    written = {series_id: sorted(int(t) for t in rng.choice(3 * 3_600_000, 1500, replace=False) + BASE)
               for series_id in (6, 7)}
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, tenant, 6, [BASE - WINDOW + 5, BASE - 5], [0.25, 0.5])
        for series_id, ts in written.items():
            order = rng.permutation(len(ts))
            _head(cursor, tenant, series_id, [ts[i] for i in order], [ts[i] / 3 for i in order])
    span = reads.Span(BASE - WINDOW, BASE + 4 * 3_600_000)
    found = {}
    with db.transaction(stack.settings) as cursor:
        for shape in ("texts", "series_texts", "rows"):
            cursor.execute(*reads.statements(tenant_id=tenant, series_ids=[6, 7], span=span, shape=shape))
            found[shape] = reads.assemble(cursor.fetchall(), span, series_ids=[6, 7])
    for shape, arrays in found.items():
        assert arrays[6][0].tolist() == [BASE - WINDOW + 5, BASE - 5, *written[6]], shape
        assert arrays[6][1].tolist() == [0.25, 0.5, *(t / 3 for t in written[6])], shape
        assert arrays[7][0].tolist() == written[7] and arrays[7][1].tolist() == [t / 3 for t in written[7]], shape
    assert reads.shapes_for(None) == reads.shapes_for(reads.SERIES_TEXT_SAMPLES + 1) == ("texts", "rows")
    assert reads.shapes_for(3002) == reads.shapes_for(reads.SERIES_TEXT_SAMPLES) == ("series_texts", "rows")
    assert reads.shapes_for(reads.SMALL_READ_SAMPLES) == ("rows",)
    monkeypatch.setattr(reads, "TEXT_BOUND", 1000)
    at_bound = _read(stack, tenant, [6, 7], span, counted=3002)
    assert {k: (ts.tolist(), vs.tolist()) for k, (ts, vs) in at_bound.items()} == \
        {k: (ts.tolist(), vs.tolist()) for k, (ts, vs) in found["rows"].items()}


def test_counts_whole_chunks_and_head_rows(stack, two_tenants):
    tenant, _ = two_tenants
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, tenant, 5, [BASE + i for i in range(30)], [1.0] * 30)
        _head(cursor, tenant, 5, [BASE + 100, BASE + 101], [1.0, 2.0])
        sql, params = reads.count_statement(tenant_id=tenant, series_ids=[5], span=reads.Span(BASE + 10, BASE + 100))
        cursor.execute(sql, params)
        assert int(cursor.fetchone()[0]) == 31


def test_same_series_id_and_window_in_two_tenants_stay_apart_in_reads_and_counts(stack, two_tenants):
    mine, theirs = two_tenants
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, mine, 6, [BASE, BASE + 1000], [1.0, 2.0])
        _seal(cursor, theirs, 6, [BASE, BASE + 1000, BASE + 2000], [-1.0, -2.0, -3.0])
        _head(cursor, theirs, 6, [BASE + 1000], [-9.0])  # would win over mine's chunk if tenants mixed
    span = reads.Span(BASE, BASE + WINDOW)
    assert _read(stack, mine, [6], span)[6][1].tolist() == [1.0, 2.0]
    assert _read(stack, mine, None, span)[6][1].tolist() == [1.0, 2.0]
    assert _read(stack, theirs, [6], span)[6][1].tolist() == [-1.0, -9.0, -3.0]
    with db.transaction(stack.settings) as cursor:
        for tenant, expected in ((mine, 2), (theirs, 4)):
            cursor.execute(*reads.count_statement(tenant_id=tenant, series_ids=None, span=span))
            assert int(cursor.fetchone()[0]) == expected


def _log(cursor, tenant_id: int, rows: list[tuple[int, int, float]]) -> int:
    return append_log(cursor, tenant_id=tenant_id, series_ids=[row[0] for row in rows],
                      timestamps=[row[1] for row in rows], values=[row[2] for row in rows])


@pytest.mark.parametrize("counted", [None, 1])  # texts for the legacy head, or rows
def test_newest_write_wins_across_chunks_legacy_head_level0_parts_and_the_log(stack, two_tenants, counted):
    """Canonical parts < legacy head rows < level-0 parts (by number) < log rows (by id, then
    position in the row), at an equal (series, ts); every place clipped to the span."""
    tenant, _ = two_tenants
    ts = [BASE + WINDOW + i * 10_000 for i in range(20)]
    with db.transaction(stack.settings) as cursor:
        _seal(cursor, tenant, 21, ts, [1.0] * 20)
        _head(cursor, tenant, 21, ts[2:12], [2.0] * 10)
        _seal(cursor, tenant, 21, ts[4:12], [4.0] * 8, part=chunks.level0_part(9))
        _seal(cursor, tenant, 21, ts[3:12], [3.0] * 9, part=chunks.level0_part(5))  # older: inserted later
        _seal(cursor, tenant, 21, [ts[19] + 5], [3.5], part=chunks.level0_part(5, 1))
        before = _log(cursor, tenant, [(23, ts[0], 0.0)])
        newer = _log(cursor, tenant, [(21, ts[11], 6.0), (22, ts[0], 60.0), (21, ts[10], 6.0), (21, ts[11], 6.5)])
        older = _log(cursor, tenant, [(21, ts[t], 5.0) for t in range(6, 12)] + [(21, ts[19] + 7, 5.5)])
        # the ids decide, not the order of the inserts (the newer batch is two rows: two buckets)
        assert cursor.execute("UPDATE sample_log SET id = id + 1000 WHERE tenant_id = %s AND id > %s AND id <= %s"
                              " ORDER BY id DESC", (tenant, before, newer)) == 2
        assert older < newer + 1000
    expected = {ts[0]: 1.0, ts[1]: 1.0, ts[2]: 2.0, ts[3]: 3.0, **{ts[t]: 4.0 for t in (4, 5)},
                **{ts[t]: 5.0 for t in range(6, 10)}, ts[10]: 6.0, ts[11]: 6.5,
                **{ts[t]: 1.0 for t in range(12, 20)}, ts[19] + 5: 3.5, ts[19] + 7: 5.5}

    found = _read(stack, tenant, [21], reads.Span(BASE, BASE + 2 * WINDOW), counted=counted)
    assert list(found) == [21]
    assert dict(zip(found[21][0].tolist(), found[21][1].tolist())) == expected
    assert np.all(np.diff(found[21][0]) > 0)

    span = reads.Span(ts[3], ts[10])
    clipped = _read(stack, tenant, [21, 22], span, counted=counted)
    assert dict(zip(clipped[21][0].tolist(), clipped[21][1].tolist())) == {
        t: v for t, v in expected.items() if span.first_ms <= t <= span.last_ms}
    assert 22 not in clipped  # its one sample is outside the span
    everything = _read(stack, tenant, None, reads.Span(BASE, BASE + 2 * WINDOW), counted=counted)
    assert everything[22][0].tolist() == [ts[0]] and everything[22][1].tolist() == [60.0]
    assert set(everything) == {21, 22, 23}


def test_another_tenants_log_rows_never_appear(stack, two_tenants):
    tenant, other = two_tenants
    with db.transaction(stack.settings) as cursor:
        _log(cursor, other, [(31, BASE + 1000, 9.0), (32, BASE + 1000, 9.0)])
        _log(cursor, tenant, [(31, BASE + 2000, 1.0)])
    span = reads.Span(BASE, BASE + WINDOW)
    for series_ids in ([31, 32], None):
        found = _read(stack, tenant, series_ids, span)
        assert {series: arrays[0].tolist() for series, arrays in found.items()} == {31: [BASE + 2000]}
    with db.transaction(stack.settings) as cursor:
        cursor.execute(*reads.count_statement(tenant_id=tenant, series_ids=[31], span=span))
        assert cursor.fetchone()[0] == 1
        cursor.execute(*reads.count_statement(tenant_id=other, series_ids=None, span=span))
        assert cursor.fetchone()[0] == 2


def test_a_corrupt_log_row_is_a_chunk_error_naming_it(stack, two_tenants):
    tenant, _ = two_tenants
    with db.transaction(stack.settings) as cursor:
        log_id = _log(cursor, tenant, [(41, BASE + 3000, 1.0)])
        cursor.execute("UPDATE sample_log SET data = CONCAT(LEFT(data, 40), 'x', SUBSTRING(data, 42)) WHERE id = %s",
                       (log_id,))
    with pytest.raises(chunks.ChunkError, match=f"log row {log_id}"):
        _read(stack, tenant, [41], reads.Span(BASE, BASE + WINDOW))


def test_the_budget_counts_a_log_row_at_most_n_times_its_busiest_series(stack, two_tenants):
    """A one-series read is not charged the whole tenant's log: only its bucket's rows count, a
    row of many series with one sample each counts 1 for it (and all its samples for the whole
    tenant); a series with 30 samples in a row counts 30, so the bound never undercounts."""
    tenant, other = two_tenants
    with db.transaction(stack.settings) as cursor:
        for b in range(5):
            _log(cursor, tenant, [(series, BASE + b * 10_000, 1.0) for series in range(1000, 2000)])
        _log(cursor, tenant, [(7, BASE + i, 2.0) for i in range(30)] + [(8, BASE, 3.0)])
        _log(cursor, other, [(1000, BASE + i, 1.0) for i in range(500)])
    span = reads.Span(BASE, BASE + WINDOW)
    counts = {}
    with db.transaction(stack.settings) as cursor:
        for name, series_ids in (("one", [1500]), ("two", [1500, 1501]), ("busy", [7]), ("all", None)):
            cursor.execute(*reads.count_statement(tenant_id=tenant, series_ids=series_ids, span=span))
            counts[name] = int(cursor.fetchone()[0])
    # 1500 and 1501 share no bucket with 7 or 8; 7's bucket holds 1031, 1095, ... (one sample each a row)
    assert counts == {"one": 5, "two": 5 * 2 * 2, "busy": 5 + 30, "all": 5000 + 31}
    found = _read(stack, tenant, [1500, 7], span)
    assert sum(ts.size for ts, _vs in found.values()) == 5 + 30 <= counts["busy"] + counts["one"]


def test_a_read_of_a_few_series_loads_only_the_log_rows_of_their_buckets(stack, two_tenants):
    """Each stored batch is a row per series bucket: a corrupt row of one bucket fails the reads
    that need it (its series, every series) and no other; the statement returns only the rows of
    the series' buckets."""
    tenant, _ = two_tenants
    buckets = head_log.BUCKETS
    series = list(range(500, 500 + 3 * buckets))  # three series a bucket
    with db.transaction(stack.settings) as cursor:
        for b in range(4):
            _log(cursor, tenant, [(s, BASE + b * 1000, float(s + b)) for s in series])
        cursor.execute("SELECT bucket, COUNT(*) FROM sample_log WHERE tenant_id = %s GROUP BY bucket", (tenant,))
        assert dict(cursor.fetchall()) == {bucket: 4 for bucket in range(buckets)}
        cursor.execute("UPDATE sample_log SET data = CONCAT(LEFT(data, 40), 'x', SUBSTRING(data, 42))"
                       " WHERE tenant_id = %s AND bucket = %s", (tenant, 500 % buckets))
    span = reads.Span(BASE, BASE + WINDOW)
    healthy = 501
    found = _read(stack, tenant, [healthy, healthy + buckets], span)
    assert {s: arrays[1].tolist() for s, arrays in found.items()} == {
        s: [float(s + b) for b in range(4)] for s in (healthy, healthy + buckets)}
    with db.transaction(stack.settings) as cursor:
        cursor.execute(*reads.statements(tenant_id=tenant, series_ids=[healthy], span=span, shape="rows"))
        assert len(cursor.fetchall()) == 4  # its bucket's four rows, of the 256
    absent = healthy + 10 * buckets  # its bucket's rows overlap the span, none holds it
    assert _read(stack, tenant, [absent], span) == {}
    assert set(_read(stack, tenant, [absent, healthy], span)) == {healthy}
    for series_ids in ([500], [healthy, 500 + buckets], None):
        with pytest.raises(chunks.ChunkError, match="log row"):
            _read(stack, tenant, series_ids, span)
