"""Counters and the ingest lag histogram, kept in Redis so that every worker contributes and any
API process can expose them on /metrics."""

import redis

from . import keys

# Upper bounds in seconds for the ingest → stored lag histogram.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def lag_bucket(seconds: float) -> str:
    for bound in LAG_BUCKETS:
        if seconds <= bound:
            return repr(bound)
    return "+Inf"


def record_stored_batch(pipe: redis.client.Pipeline, *, queue_name: str, batch_id: str, samples: int,
                        lag_seconds: float, dead_lettered: int = 0) -> None:
    pipe.zrem(keys.ingest_pending(queue_name), batch_id)
    pipe.hincrby(keys.TELEMETRY_COUNTERS, "batches_stored", 1)
    pipe.hincrby(keys.TELEMETRY_COUNTERS, "samples_stored", samples)
    pipe.hincrby(keys.TELEMETRY_LAG_BUCKETS, lag_bucket(lag_seconds), 1)
    pipe.hincrbyfloat(keys.TELEMETRY_LAG_BUCKETS, "sum", lag_seconds)
    if dead_lettered:
        pipe.hincrby(keys.TELEMETRY_COUNTERS, "batches_poisoned", 1)
        pipe.hincrby(keys.TELEMETRY_COUNTERS, "samples_dead_lettered", dead_lettered)


def record_failed_batch(connection: redis.Redis, *, permanent: bool, queue_name: str, batch_id: str) -> None:
    with connection.pipeline(transaction=False) as pipe:
        pipe.hincrby(keys.TELEMETRY_COUNTERS, "batches_poisoned" if permanent else "batches_retried", 1)
        if permanent:
            pipe.zrem(keys.ingest_pending(queue_name), batch_id)  # no longer waiting: in the failed registry
        pipe.execute()


RECLAIM_SKIPPED = {"backoff": "head_rebuilds_deferred", "no_process_privilege": "head_crash_cleanups_skipped"}


def record_reclaim_skipped(connection: redis.Redis, reason: str) -> None:
    """A sealing run left part of the reclaim alone: `backoff` (a table's rebuild waits after a
    failure) or `no_process_privilege` (the crash clean-up cannot read InnoDB's dictionary)."""
    connection.hincrby(keys.TELEMETRY_COUNTERS, RECLAIM_SKIPPED[reason], 1)


def record_reclaim_failed(connection: redis.Redis) -> None:
    """A head rebuild ended in an error (not a timeout it gives up on): logged, and backed off."""
    connection.hincrby(keys.TELEMETRY_COUNTERS, "head_rebuilds_failed", 1)


def record_reclaimed(connection: redis.Redis, *, rebuilt: bool, bytes_returned: int) -> None:
    """One head table rebuild attempted: done (and the free bytes it returned) or given up."""
    if rebuilt:
        _add_to_counters(connection, head_rebuilds=1, head_bytes_reclaimed=bytes_returned)
    else:
        _add_to_counters(connection, head_rebuilds_given_up=1)


def record_compacted(connection: redis.Redis, *, samples: int, parts: int) -> None:
    """One committed compaction: log samples moved into level-0 chunk parts, and the parts written."""
    _add_to_counters(connection, samples_compacted=samples, level0_parts_written=parts)


def record_sealed(connection: redis.Redis, *, samples: int, chunks: int) -> None:
    """One committed seal: head samples moved into chunks, and the chunk rows (parts) written."""
    _add_to_counters(connection, samples_sealed=samples, chunks_written=chunks)


def _add_to_counters(connection: redis.Redis, **amounts: int) -> None:
    """Each amount added to its counter, in one round trip."""
    with connection.pipeline(transaction=False) as pipe:
        for name, amount in amounts.items():
            pipe.hincrby(keys.TELEMETRY_COUNTERS, name, amount)
        pipe.execute()
