"""GET /api/v1/query at raw resolution reads sealed chunks plus the head (microdash_core.store.reads)
and aggregates with numpy: the same answers as the SQL aggregation over the head it replaced,
bit for bit, before and after the samples are sealed; a head sample re-written after its window
was sealed wins; another tenant reads nothing; a read past the sample budget is refused."""

import asyncio
import time
from contextlib import closing

import httpx
import numpy as np
import pytest

from microdash_api import repository
from microdash_api.raw_samples import TooManySamples
from microdash_api.sql import open_pool
from microdash_core import chunks, db
from microdash_core.store import sealing
from microdash_core.db import DatabaseAddress
from microdash_workers.rollups import roll_up
from store_support import compact
from support import extra_api, recent_ms

WINDOW = chunks.WINDOW_MS
SPACING = 10_000
AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last")
_SQL_AGGREGATIONS = {"avg": "AVG(value)", "min": "MIN(value)", "max": "MAX(value)", "sum": "SUM(value)",
                     "count": "COUNT(*)"}


def _day_of_samples(stack, token, tenant_id: int, metric: str) -> tuple[int, list[int]]:
    """Two hosts, a sample every 10 s over 4.5 h from a window start, values with full precision
    (so the order of a sum shows in its last bits). Returns (the first window, the series ids)."""
    base = chunks.window_of(recent_ms(-6 * 3_600_000))
    rng = np.random.default_rng(13)
    samples = [{"metric": metric, "value": float(value), "ts": base + i * SPACING, "labels": {"host": host}}
               for host in ("a", "b")
               for i, value in enumerate(rng.standard_normal(1620) * 1000)]
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics/bulk", json=samples)
    assert response.status_code == 202, response.text
    assert stack.wait_for_samples(tenant_id, len(samples)) == len(samples)
    series_ids = [row[0] for row in stack.sql("SELECT id FROM series WHERE tenant_id = %s AND metric = %s ORDER BY id",
                                              (tenant_id, metric))]
    return base, series_ids


def _seal(stack, tenant_id: int, before_ms: int) -> None:
    """The real compaction and sealer, now, for this tenant's windows that end by before_ms (the
    stack's own jobs may do it too, or have done so already: the answers cannot change)."""
    compact(stack.settings, tenant_id)
    with closing(db.connect(stack.settings)) as connection:
        sealing.seal_due(connection, cutoff_ms=before_ms, tenant_ids=[tenant_id])
    assert stack.sql("SELECT COUNT(*) FROM samples WHERE tenant_id = %s AND ts < %s", (tenant_id, before_ms)) == [(0,)]
    assert stack.sql("SELECT COUNT(*) FROM sample_chunks WHERE tenant_id = %s AND window_start < %s AND part >= %s",
                     (tenant_id, chunks.window_of(before_ms), chunks.LEVEL0_PART_BASE)) == [(0,)]
    assert stack.sql("SELECT COUNT(*) FROM sample_chunks WHERE tenant_id = %s AND window_start < %s",
                     (tenant_id, before_ms))[0][0] >= 2


def _query(stack, token, **params) -> list[dict]:
    with stack.client(token) as client:
        response = client.get("/api/v1/query", params={"resolution": "raw", **params})
    assert response.status_code == 200, response.text
    return response.json()["series"]


def _sql_points(stack, tenant_id: int, series_ids: list[int], start: int, end: int, cases) -> dict:
    """The statements /api/v1/query ran before the store had chunks, on a copy of the tenant's
    samples (wherever they are stored now) in a temporary table of the same shape."""
    found = {}
    with db.transaction(stack.settings) as cursor:
        cursor.execute("CREATE TEMPORARY TABLE head_copy (tenant_id INT UNSIGNED NOT NULL, series_id BIGINT UNSIGNED"
                       " NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL, PRIMARY KEY (tenant_id, series_id, ts))")
        cursor.executemany("INSERT INTO head_copy VALUES (%s, %s, %s, %s)",
                           [(tenant_id, *row) for row in stack.stored_samples(tenant_id)])
        where = "tenant_id = %s AND series_id = %s AND ts >= %s AND ts < %s"
        for step, aggregation in cases:
            for series_id in series_ids:
                params = (step, tenant_id, series_id, start, end)
                if aggregation == "last":
                    cursor.execute(f"SELECT ts DIV %s, value FROM head_copy WHERE {where} ORDER BY ts", params)
                    rows = list(dict(cursor.fetchall()).items())
                else:
                    cursor.execute(f"SELECT ts DIV %s AS bucket, {_SQL_AGGREGATIONS[aggregation]} FROM head_copy"
                                   f" WHERE {where} GROUP BY bucket ORDER BY bucket", params)
                    rows = cursor.fetchall()
                found[(step, aggregation), series_id] = [[bucket * step, float(value)] for bucket, value in rows]
        cursor.execute("DROP TEMPORARY TABLE head_copy")
    return found


CASES = [(step, aggregation) for step in (7_000, 60_000, 3_600_000) for aggregation in AGGREGATIONS]


def test_raw_points_are_the_sql_aggregation_before_and_after_sealing(stack):
    tenant, token = stack.new_tenant("chunks")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "noise")
    start, end = base + 12_345, base + 4 * 3_600_000 + 1_800_000 - 999  # clips a chunk and the head
    sql = _sql_points(stack, tenant.id, series_ids, start, end, CASES)
    as_stored = {case: _query(stack, token, metric="noise", start=start, end=end, step=case[0], aggregation=case[1])
                 for case in CASES}
    for case, series in as_stored.items():
        assert [s["labels"]["host"] for s in series] == ["a", "b"]
        assert [s["points"] for s in series] == [sql[case, series_id] for series_id in series_ids], case

    _seal(stack, tenant.id, base + 2 * WINDOW)
    for case, series in as_stored.items():
        assert _query(stack, token, metric="noise", start=start, end=end, step=case[0],
                      aggregation=case[1]) == series, case


def test_a_sample_rewritten_after_its_window_was_sealed_wins(stack):
    tenant, token = stack.new_tenant("chunks")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "noise")
    _seal(stack, tenant.id, base + WINDOW)
    rewritten = base + 30 * SPACING
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics", json={"metric": "noise", "value": 1e6, "ts": rewritten,
                                                         "labels": {"host": "a"}})
    assert response.status_code == 202, response.text
    params = {"metric": "noise", "match": "host=a", "start": rewritten, "end": rewritten + SPACING, "step": SPACING}
    deadline = time.monotonic() + 30
    while _query(stack, token, **params, aggregation="max")[0]["points"] != [[rewritten, 1e6]]:
        assert time.monotonic() < deadline, "the re-written sample never won over the sealed one"
        time.sleep(0.1)
    for aggregation, wanted in (("last", 1e6), ("count", 1.0), ("min", 1e6)):
        (series,) = _query(stack, token, **params, aggregation=aggregation)
        assert series["points"] == [[rewritten, wanted]], aggregation


def test_another_tenant_reads_none_of_the_chunks_or_the_head(stack):
    tenant, token = stack.new_tenant("chunks")
    other, other_token = stack.new_tenant("chunks-other")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "secret")
    _seal(stack, tenant.id, base + WINDOW)
    day = {"metric": "secret", "start": base, "end": base + 2 * WINDOW, "step": 60_000}
    assert len(_query(stack, token, **day)) == 2
    assert _query(stack, other_token, **day) == []
    guessed = asyncio.run(_aggregate(stack, tenant_id=other.id, series_ids=series_ids, start_ms=base,
                                     end_ms=base + 2 * WINDOW, step_ms=60_000, aggregation="count"))
    assert guessed == {series_id: [] for series_id in series_ids}
    mine = asyncio.run(_aggregate(stack, tenant_id=tenant.id, series_ids=series_ids, start_ms=base,
                                  end_ms=base + 2 * WINDOW, step_ms=WINDOW, aggregation="count"))
    assert mine == {series_id: [(base, 720.0), (base + WINDOW, 720.0)] for series_id in series_ids}


def test_a_read_of_more_raw_samples_than_the_budget_is_refused(stack, tmp_path):
    tenant, token = stack.new_tenant("chunks")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "many")
    _seal(stack, tenant.id, base + WINDOW)
    with pytest.raises(TooManySamples):
        asyncio.run(_aggregate(stack, tenant_id=tenant.id, series_ids=series_ids, start_ms=base, end_ms=base + WINDOW,
                               step_ms=60_000, aggregation="avg", max_raw_samples=1439))
    within = asyncio.run(_aggregate(stack, tenant_id=tenant.id, series_ids=series_ids, start_ms=base,
                                    end_ms=base + WINDOW, step_ms=WINDOW, aggregation="count", max_raw_samples=1440))
    assert within == {series_id: [(base, 720.0)] for series_id in series_ids}
    # One series' 400 samples after the sealed window: 400 in the head, or 720 if the stack's own
    # sealing job has sealed that window too (a touched chunk counts whole); both under 1000.
    later = base + WINDOW
    with extra_api(stack, tmp_path, MICRODASH_QUERY_MAX_RAW_SAMPLES="1000") as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            params = {"metric": "many", "resolution": "raw", "step": 40 * SPACING}
            refused = client.get("/api/v1/query", params={**params, "start": base, "end": base + WINDOW})
            allowed = client.get("/api/v1/query", params={**params, "match": "host=a", "start": later,
                                                          "end": later + 400 * SPACING})
    assert refused.status_code == 422 and "more than 1000 raw samples" in refused.json()["detail"]
    assert allowed.status_code == 200, allowed.text
    assert [len(series["points"]) for series in allowed.json()["series"]] == [10]


async def _aggregate(stack, **kwargs):
    address = DatabaseAddress.from_url(stack.settings.database_url)
    pool = await open_pool(address)
    try:
        return await repository.aggregate_points(pool, resolution="raw", **kwargs)
    finally:
        pool.close()
        await pool.wait_closed()


def _unreadable_chunk_count(stack, api: str) -> float:
    for line in httpx.get(stack.api_url + "/metrics").text.splitlines():
        if line.startswith(f'microdash_query_unreadable_chunks_total{{api="{api}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_a_chunk_that_cannot_be_decoded_is_a_named_server_error(stack):
    tenant, token = stack.new_tenant("corrupt")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "broken")
    _seal(stack, tenant.id, base + WINDOW)
    roll_up(stack.settings)  # nothing of this tenant left for the rollup job to read while the chunk is corrupt
    chunk = "tenant_id = %s AND series_id = %s AND window_start = %s"
    key = (tenant.id, series_ids[0], base)
    (original,), = stack.sql(f"SELECT data FROM sample_chunks WHERE {chunk}", key)
    stack.sql("UPDATE sample_chunks SET data = CONCAT(LEFT(data, 50), CHAR(ASCII(SUBSTRING(data, 51, 1)) ^ 1),"
              f" SUBSTRING(data, 52)) WHERE {chunk}", key)  # one bit flipped past the header
    before = _unreadable_chunk_count(stack, "native")
    try:
        with stack.client(token) as client:
            params = {"metric": "broken", "resolution": "raw", "start": base, "end": base + WINDOW, "step": 60_000}
            response = client.get("/api/v1/query", params=params)
            untouched = client.get("/api/v1/query", params={**params, "match": "host=b"})
    finally:  # the session's other tests share this database
        stack.sql(f"UPDATE sample_chunks SET data = %s WHERE {chunk}", (original, *key))
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert "stored samples could not be decoded" in detail, detail
    assert f"the chunk of series {series_ids[0]}, window {base}, part 0" in detail, detail
    assert _unreadable_chunk_count(stack, "native") == before + 1
    assert untouched.status_code == 200 and len(untouched.json()["series"][0]["points"]) == WINDOW // 60_000


def test_the_plain_and_the_documented_route_answer_the_same_bytes(stack):
    """A plainly valid query is answered by the plain route, the same query with a parameter the
    plain route leaves alone (an unknown one, which FastAPI ignores) by the documented route:
    byte for byte the same over chunks, a clipped chunk and the head, and nothing of another
    tenant's through either."""
    tenant, token = stack.new_tenant("plain")
    other, other_token = stack.new_tenant("plain-other")
    base, _ = _day_of_samples(stack, token, tenant.id, "plain")
    _seal(stack, tenant.id, base + 2 * WINDOW)
    cases = [{"metric": "plain", "resolution": "raw", "start": base + 12_345, "end": base + 4 * 3_600_000 + 999,
              "step": step, "aggregation": aggregation, "match": ["host=~a|b"]}
             for step in (SPACING, 60_000) for aggregation in ("avg", "last", "count")]
    with stack.client(token) as client, stack.client(other_token) as stranger, stack.client() as nobody:
        for params in cases:
            plain = client.get("/api/v1/query", params=params)
            documented = client.get("/api/v1/query", params={**params, "unknown": "1"})
            assert plain.status_code == documented.status_code == 200, plain.text
            assert plain.content == documented.content
            assert plain.headers["content-type"] == documented.headers["content-type"] == "application/json"
            assert len(plain.json()["series"]) == 2 and all(s["points"] for s in plain.json()["series"])
            for who in (stranger, nobody):
                answers = [who.get("/api/v1/query", params=p) for p in (params, {**params, "unknown": "1"})]
                assert answers[0].status_code == answers[1].status_code
                assert answers[0].content == answers[1].content
            assert stranger.get("/api/v1/query", params=params).json()["series"] == []
            assert nobody.get("/api/v1/query", params=params).status_code == 401
        wrong = {**cases[0], "start": base + 1, "end": base}
        assert client.get("/api/v1/query", params=wrong).content == \
            client.get("/api/v1/query", params={**wrong, "unknown": "1"}).content


def test_a_dashboard_session_reads_its_own_tenant_through_the_plain_route(stack):
    tenant, token = stack.new_tenant("plain-session")
    other, _ = stack.new_tenant("plain-session-other")
    base, _ = _day_of_samples(stack, token, tenant.id, "viewed")
    params = {"metric": "viewed", "resolution": "raw", "start": base, "end": base + 3_600_000, "step": 60_000}
    with stack.session_client(stack.new_user([(tenant, "viewer")])) as viewer, \
            stack.session_client(stack.new_user([(other, "admin")])) as outsider, stack.client(token) as client:
        plain = viewer.get("/api/v1/query", params=params)
        documented = viewer.get("/api/v1/query", params={**params, "unknown": "1"})
        assert plain.status_code == 200 and plain.content == documented.content == \
            client.get("/api/v1/query", params=params).content
        assert [len(series["points"]) for series in plain.json()["series"]] == [60, 60]
        assert outsider.get("/api/v1/query", params=params).json()["series"] == []
