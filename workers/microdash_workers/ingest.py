"""The ingest job: store one batch, then announce its points on the tenant's live stream and mark
the minutes it touched for rollup."""

import logging
import time

import orjson
import redis
from rq import get_current_job

from microdash_core import keys, live, telemetry
from microdash_core.batches import Batch
from microdash_core.errors import PoisonBatch
from microdash_core.settings import get_settings

from . import rollup_marks
from .storage import SampleStore

log = logging.getLogger(__name__)
_store: SampleStore | None = None


def sample_store() -> SampleStore:
    global _store
    if _store is None:
        _store = SampleStore(get_settings())
    return _store


def store_batch(payload: bytes) -> int:
    """RQ job. Idempotent: a retried or re-delivered batch overwrites its own rows."""
    try:
        batch = Batch.decode(payload)
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise PoisonBatch(f"undecodable batch: {exc}") from exc
    stored = sample_store().store(tenant_id=batch.tenant_id, samples=batch.samples)
    publish_stored(batch)
    return stored


def publish_stored(batch: Batch) -> None:
    settings = get_settings()
    connection: redis.Redis = get_current_job().connection
    lag_seconds = max(0.0, time.time() - batch.received_ms / 1000)
    with connection.pipeline(transaction=False) as pipe:
        pipe.xadd(
            keys.live_stream(batch.tenant_id),
            {live.POINTS_FIELD: live.encode_points(batch.samples)},
            maxlen=settings.live_stream_maxlen,
            approximate=True,
        )
        # Entries are whole batches, so bound the replay window by age as well as by count.
        pipe.xtrim(keys.live_stream(batch.tenant_id), minid=f"{int(time.time() * 1000) - settings.live_stream_window_seconds * 1000}",
                   approximate=True)
        rollup_marks.mark_touched(pipe, batch.tenant_id, batch.samples)
        telemetry.record_stored_batch(pipe, samples=len(batch.samples), lag_seconds=lag_seconds)
        pipe.execute()
