"""The ingest job: store one batch, then announce its points on the tenant's live stream and mark
the minutes it touched for rollup."""

import logging
import time
from collections.abc import Callable

import orjson
import redis
from rq import get_current_job

from microdash_core import dead_letters, keys, live, telemetry
from microdash_core.batches import Batch
from microdash_core.errors import PoisonBatch
from microdash_core.settings import get_settings

from . import rollup_marks
from .column_batch import ColumnBatch
from .poison import DATA_ERRORS, Outcome, store_isolating_poison
from .storage import SampleStore

log = logging.getLogger(__name__)
_store: SampleStore | None = None


def sample_store() -> SampleStore:
    global _store
    if _store is None:
        _store = SampleStore(get_settings())
    return _store


def store_batch(payload: bytes) -> int:
    """RQ job. Idempotent: a retried or re-delivered batch overwrites its own rows. Samples the
    database refuses are dead-lettered in the tenant's list; every other sample is stored."""
    columns = ColumnBatch.decode(payload)
    if columns is not None:
        try:
            sample_store().store_columns(columns)
        except DATA_ERRORS:
            pass  # the row path below isolates the samples the database refuses
        else:
            _publish(columns.tenant_id, columns.batch_id, columns.received_ms, payload, len(columns),
                     lambda pipe: rollup_marks.mark_touched_at(pipe, columns.tenant_id, columns.timestamps))
            return len(columns)
    try:
        batch = Batch.decode(payload)
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:  # msgspec.DecodeError is a ValueError
        raise PoisonBatch(f"undecodable batch: {exc}") from exc
    outcome = store_isolating_poison(sample_store(), batch.tenant_id, batch.samples, typed=batch.typed)
    if outcome.refused:
        log.error("samples refused by the database, dead-lettered",
                  extra={"tenant_id": batch.tenant_id, "batch_id": batch.batch_id, "refused": len(outcome.refused),
                         "stored": len(outcome.stored), "first_reason": outcome.refused[0].reason})
    publish_outcome(batch, outcome, payload)
    return len(outcome.stored)


def stored_batch(batch: Batch, outcome: Outcome, payload: bytes) -> bytes:
    """The stored samples as a batch, encoded: the payload itself when every sample was stored
    (in its order: store_isolating_poison keeps it), else the stored ones encoded again."""
    if not outcome.refused and len(outcome.stored) == len(batch.samples):
        return payload
    return Batch(batch.tenant_id, batch.batch_id, batch.received_ms, outcome.stored).encode()


def publish_outcome(batch: Batch, outcome: Outcome, payload: bytes) -> None:
    refused = [dead_letters.sample_entry(refused.sample, reason=refused.reason, batch_id=batch.batch_id)
               for refused in outcome.refused]
    _publish(batch.tenant_id, batch.batch_id, batch.received_ms,
             stored_batch(batch, outcome, payload) if outcome.stored else None, len(outcome.stored),
             lambda pipe: rollup_marks.mark_touched(pipe, batch.tenant_id, outcome.stored), refused)


def _publish(tenant_id: int, batch_id: str, received_ms: int, stored_payload: bytes | None, stored: int,
             mark_touched: Callable[[redis.client.Pipeline], None], dead_lettered: list | None = None) -> None:
    """After the commit: the stored samples (as an encoded batch) on the tenant's live stream, the
    minutes they touched marked for rollup, the refused ones dead-lettered, the job's telemetry."""
    settings = get_settings()
    job = get_current_job()
    connection: redis.Redis = job.connection
    lag_seconds = max(0.0, time.time() - received_ms / 1000)
    dead_lettered = dead_lettered or []
    if stored:
        # Entries are whole batches, so the replay window is bounded by age as well as by count.
        appender = live.LiveAppender(connection, maxlen=settings.live_stream_maxlen,
                                     window_seconds=settings.live_stream_window_seconds)
        appender.append(keys.live_stream(tenant_id), stored_payload, now_ms=int(time.time() * 1000))
    with connection.pipeline(transaction=False) as pipe:
        if stored:
            mark_touched(pipe)
        dead_letters.push(pipe, tenant_id, dead_lettered)
        telemetry.record_stored_batch(pipe, queue_name=job.origin, batch_id=batch_id, samples=stored,
                                      lag_seconds=lag_seconds, dead_lettered=len(dead_lettered))
        pipe.execute()
