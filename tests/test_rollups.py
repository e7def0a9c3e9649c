"""Rollups: 1m/5m aggregates computed by the rollup job from samples stored by the real pipeline."""

import time

import redis
from rq import Queue

from microdash_core import db, keys
from microdash_core.queues import RETENTION_JOB, ROLLUP_JOB
from microdash_core.tenants import deletion
from microdash_workers import rollup_marks
from microdash_workers.rollups import roll_up
from support import recent_ms

MINUTE = 60_000
ROLLUP_COLUMNS = "bucket_ts, sample_count, value_sum, value_min, value_max, last_value, last_ts"


def five_minutes_aligned(hours_ago: float) -> int:
    ts = recent_ms(-int(hours_ago * 3_600_000))
    return ts - ts % (5 * MINUTE)


def known_samples(base: int) -> list[dict]:
    """Minute 0: 1, 4, 2.5; minute 1: 10, 6; minute 4: -3; minute 5 (next 5m bucket): 8."""
    offsets_values = [(0, 1.0), (20_000, 4.0), (40_000, 2.5), (60_000, 10.0), (90_000, 6.0), (250_000, -3.0),
                      (300_000, 8.0)]
    return [{"metric": "temp", "value": value, "ts": base + offset, "labels": {"host": "a"}}
            for offset, value in reversed(offsets_values)]


def ingest(stack, token, tenant_id, samples):
    """Post, then wait until the worker has stored them and marked their minutes for rollup."""
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics/bulk", json=samples)
    assert response.status_code == 202, response.text
    connection = redis.Redis.from_url(stack.settings.redis_url)
    members = {rollup_marks.member(tenant_id, rollup_marks.minute_of(s["ts"])) for s in samples}
    deadline = time.monotonic() + 30
    while not all(connection.zscore(keys.ROLLUP_DIRTY, m) is not None for m in members):
        assert time.monotonic() < deadline, "ingest did not mark its minutes for rollup"
        time.sleep(0.05)


def rollup_rows(stack, table, tenant_id):
    return stack.sql(f"SELECT {ROLLUP_COLUMNS} FROM {table} WHERE tenant_id = %s ORDER BY series_id, bucket_ts",
                     (tenant_id,))


def test_rollup_values_are_exact(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=3)
    ingest(stack, token, tenant.id, known_samples(base))
    assert roll_up(stack.settings) >= 4
    assert rollup_rows(stack, "samples_1m", tenant.id) == [
        (base, 3, 7.5, 1.0, 4.0, 2.5, base + 40_000),
        (base + MINUTE, 2, 16.0, 6.0, 10.0, 6.0, base + 90_000),
        (base + 4 * MINUTE, 1, -3.0, -3.0, -3.0, -3.0, base + 250_000),
        (base + 5 * MINUTE, 1, 8.0, 8.0, 8.0, 8.0, base + 300_000),
    ]
    assert rollup_rows(stack, "samples_5m", tenant.id) == [
        (base, 6, 20.5, -3.0, 10.0, -3.0, base + 250_000),
        (base + 5 * MINUTE, 1, 8.0, 8.0, 8.0, 8.0, base + 300_000),
    ]


def test_rerolling_gives_the_same_rows(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=4)
    samples = known_samples(base)
    ingest(stack, token, tenant.id, samples)
    roll_up(stack.settings)
    first = rollup_rows(stack, "samples_1m", tenant.id), rollup_rows(stack, "samples_5m", tenant.id)
    connection = redis.Redis.from_url(stack.settings.redis_url)
    with connection.pipeline() as pipe:
        rollup_marks.mark_touched(pipe, tenant.id, [(s["metric"], s["labels"], s["ts"], s["value"]) for s in samples])
        pipe.execute()
    assert roll_up(stack.settings) >= 4
    assert (rollup_rows(stack, "samples_1m", tenant.id), rollup_rows(stack, "samples_5m", tenant.id)) == first
    assert len(first[0]) == 4 and len(first[1]) == 2


def test_a_late_sample_rerolls_the_buckets_it_touches(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=5)
    ingest(stack, token, tenant.id, known_samples(base))
    roll_up(stack.settings)
    late = [{"metric": "temp", "value": 100.0, "ts": base + 50_000, "labels": {"host": "a"}},  # new last and max
            {"metric": "temp", "value": -10.0, "ts": base + 5_000, "labels": {"host": "a"}},   # new min, not last
            {"metric": "temp", "value": 0.5, "ts": base + 270_000, "labels": {"host": "a"}}]   # new last of the 5m
    ingest(stack, token, tenant.id, late)
    roll_up(stack.settings)
    one_minute = rollup_rows(stack, "samples_1m", tenant.id)
    assert one_minute[0] == (base, 5, 97.5, -10.0, 100.0, 100.0, base + 50_000)
    assert one_minute[2] == (base + 4 * MINUTE, 2, -2.5, -3.0, 0.5, 0.5, base + 270_000)
    assert one_minute[1] == (base + MINUTE, 2, 16.0, 6.0, 10.0, 6.0, base + 90_000)  # untouched
    assert rollup_rows(stack, "samples_5m", tenant.id)[0] == (base, 9, 111.0, -10.0, 100.0, 0.5, base + 270_000)


def test_a_minute_is_rolled_up_only_after_it_closes_plus_grace(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=6)
    ingest(stack, token, tenant.id, [{"metric": "m", "value": 1.0, "ts": base + 1_000}])
    grace_ms = stack.settings.rollup_grace_seconds * 1000
    roll_up(stack.settings, now_ms=base + MINUTE + grace_ms - 1)
    assert rollup_rows(stack, "samples_1m", tenant.id) == []
    roll_up(stack.settings, now_ms=base + MINUTE + grace_ms)
    assert rollup_rows(stack, "samples_1m", tenant.id) == [(base, 1, 1.0, 1.0, 1.0, 1.0, base + 1_000)]


def test_buckets_claimed_by_a_crashed_run_are_rolled_by_the_next(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=7)
    ingest(stack, token, tenant.id, [{"metric": "m", "value": 2.0, "ts": base}])
    connection = redis.Redis.from_url(stack.settings.redis_url)
    rollup_marks.claim_closed(connection, closed_before_ms=recent_ms(), limit=100_000)  # then "crash"
    assert connection.zscore(keys.ROLLUP_DIRTY, rollup_marks.member(tenant.id, base)) is None
    assert rollup_rows(stack, "samples_1m", tenant.id) == []
    roll_up(stack.settings)
    assert rollup_rows(stack, "samples_1m", tenant.id) == [(base, 1, 2.0, 2.0, 2.0, 2.0, base)]
    assert connection.zscore(keys.ROLLUP_CLAIMED, rollup_marks.member(tenant.id, base)) is None


def test_the_worker_runs_the_scheduled_jobs_by_their_paths(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=12)
    ingest(stack, token, tenant.id, [{"metric": "m", "value": 3.0, "ts": base}])
    queue = Queue(stack.settings.scheduled_queue, connection=redis.Redis.from_url(stack.settings.redis_url))
    jobs = [queue.enqueue(ROLLUP_JOB), queue.enqueue(RETENTION_JOB)]
    deadline = time.monotonic() + 30
    while any(job.get_status(refresh=True) != "finished" for job in jobs):
        assert time.monotonic() < deadline, [job.get_status() for job in jobs]
        time.sleep(0.1)
    assert rollup_rows(stack, "samples_5m", tenant.id) == [(base, 1, 3.0, 3.0, 3.0, 3.0, base)]


def test_buckets_behind_the_tenants_raw_retention_are_not_rerolled(stack):
    tenant, token = stack.new_tenant()
    stack.sql("UPDATE tenants SET retention_raw_days = 1 WHERE id = %s", (tenant.id,))
    old, recent = five_minutes_aligned(hours_ago=30), five_minutes_aligned(hours_ago=2)
    ingest(stack, token, tenant.id, [{"metric": "m", "value": 1.0, "ts": old},
                                     {"metric": "m", "value": 2.0, "ts": recent}])
    roll_up(stack.settings)
    assert [row[0] for row in rollup_rows(stack, "samples_1m", tenant.id)] == [recent]


def test_deleting_a_tenant_deletes_its_rollups(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=13)
    ingest(stack, token, tenant.id, [{"metric": "m", "value": 1.0, "ts": base}])
    roll_up(stack.settings)
    assert len(rollup_rows(stack, "samples_5m", tenant.id)) == 1
    with db.transaction(stack.settings) as cursor:
        deletion.delete_tenant(cursor, tenant=tenant)
    assert rollup_rows(stack, "samples_1m", tenant.id) == rollup_rows(stack, "samples_5m", tenant.id) == []
