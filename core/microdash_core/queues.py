"""The RQ queues and how a batch is put on them. Job code lives in microdash_workers and is named
here by its import path, so the edges (API, MQTT bridge) never import the workers."""

from dataclasses import dataclass

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from . import keys
from .batches import Batch
from .settings import Settings

INGEST_JOB = "microdash_workers.ingest.store_batch"
MAINTAIN_PARTITIONS_JOB = "microdash_workers.maintenance.maintain_partitions"
FORGET_DELETED_TENANTS_JOB = "microdash_workers.maintenance.forget_deleted_tenants"
ROLLUP_JOB = "microdash_workers.rollups.roll_up"
SEAL_JOB = "microdash_workers.sealing.seal_windows"
COMPACT_JOB = "microdash_workers.compaction.compact_log"
RETENTION_JOB = "microdash_workers.retention.enforce_retention"
ALERT_SCHEDULE_JOB = "microdash_workers.alert_eval.schedule_evaluations"
ALERT_EVAL_JOB = "microdash_workers.alert_eval.evaluate_tenant"
NOTIFY_JOB = "microdash_workers.notify.deliver"
# A failed job is kept for a week for inspection (`microdash jobs failed`).
FAILURE_TTL_SECONDS = 7 * 24 * 3600


class UncompressedJob(Job):
    """An RQ job saved without zlib. RQ compresses a job's data (its pickled arguments) each time
    it saves the job; for an ingest batch of compact MessagePack that took more CPU than encoding
    the batch itself (docs/decisions.md: the queue's Redis holds more bytes per waiting sample in
    exchange). Pickling one bytes argument is a copy. Any Job class reads such a job back: RQ
    falls back to the raw data when it does not decompress, and pickled data (0x80...) is never
    a zlib stream (0x78...)."""

    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict:
        data = self.data
        self._data = b""  # RQ's to_dict compresses self.data: give it nothing to compress
        try:
            saved = super().to_dict(include_meta=include_meta, include_result=include_result)
        finally:
            self._data = data
        saved["data"] = data
        return saved


def ingest_queue(connection: redis.Redis, settings: Settings) -> Queue:
    return Queue(settings.ingest_queue, connection=connection, job_class=UncompressedJob)


def enqueue_batch(queue: Queue, batch: Batch, settings: Settings) -> None:
    """Put a batch on the ingest queue; returns only once Redis has it (raises on Redis errors).

    Failures are retried after the intervals of INGEST_RETRY_INTERVALS, the last one for ever
    (microdash_workers.worker): a batch leaves the queue only stored or dead-lettered."""
    with queue.connection.pipeline() as pipe:
        _add_enqueue(pipe, queue, batch, settings)
        pipe.execute()


def enqueue_commands(queue: Queue, batch: Batch, settings: Settings) -> list[tuple]:
    """The Redis commands that enqueue_batch sends (in its transaction), as argument tuples, for a
    caller that runs them inside a script of its own (IngestRateLimiter.admit_each_then_run: the
    rate check and the enqueue in one round trip). RQ writes them into a pipeline that is never sent;
    it reads the server's version once per queue (`get_redis_server_version`), so a caller on an
    event loop reads it before, off the loop."""
    with queue.connection.pipeline() as pipe:
        _add_enqueue(pipe, queue, batch, settings)
        return [args for args, _options in pipe.command_stack]


def _add_enqueue(pipe, queue: Queue, batch: Batch, settings: Settings) -> None:
    intervals = settings.ingest_retry_intervals
    queue.enqueue(
        INGEST_JOB,
        batch.encode(),
        job_id=batch.batch_id,
        job_timeout=settings.ingest_job_timeout_seconds,
        result_ttl=0,
        failure_ttl=FAILURE_TTL_SECONDS,
        retry=Retry(max=len(intervals), interval=intervals),
        description=f"tenant {batch.tenant_id}: {len(batch.samples)} samples",
        pipeline=pipe,
    )
    pipe.zadd(keys.ingest_pending(queue.name), {batch.batch_id: batch.received_ms})


@dataclass(frozen=True)
class BacklogKeys:
    """Where the ingest queue's batches wait: queued (an RQ list), awaiting a retry (RQ's scheduled
    registry), given up (RQ's failed registry: undecodable only), and every batch not yet stored
    by received time (ours)."""

    queued: str
    retrying: str
    failed: str
    pending: str

    @classmethod
    def of(cls, settings: Settings) -> "BacklogKeys":
        name = settings.ingest_queue
        return cls(Queue.redis_queue_namespace_prefix + name, ScheduledJobRegistry.key_template.format(name),
                   FailedJobRegistry.key_template.format(name), keys.ingest_pending(name))


@dataclass(frozen=True)
class Backlog:
    """How far ingest is behind: batches queued or awaiting a retry, and Redis' memory use."""

    waiting: int
    used_memory: int
    max_memory: int  # 0: no limit

    @classmethod
    def read(cls, connection: redis.Redis, settings: Settings) -> "Backlog":
        with connection.pipeline(transaction=False) as pipe:
            cls.add_reads(pipe, settings)
            return cls.from_replies(pipe.execute())

    @staticmethod
    def add_reads(pipe, settings: Settings) -> None:
        """Queue the reads on a pipeline (sync or asyncio); from_replies makes a Backlog of the replies."""
        keys_ = BacklogKeys.of(settings)
        pipe.llen(keys_.queued)
        pipe.zcard(keys_.retrying)
        pipe.info("memory")

    @classmethod
    def from_replies(cls, replies: list) -> "Backlog":
        queued, retrying, memory = replies
        return cls(queued + retrying, memory["used_memory"], memory["maxmemory"])

    def too_far_behind(self, settings: Settings) -> str | None:
        """Why ingest must be held back (HTTP 503, MQTT unacknowledged), or None."""
        if self.waiting >= settings.ingest_queue_high_water:
            return f"{self.waiting} batches waiting to be stored"
        if self.max_memory and self.used_memory >= settings.ingest_redis_memory_high_water * self.max_memory:
            return f"the queue's Redis is {self.used_memory * 100 // self.max_memory}% full"
        return None


def notify_queue(connection: redis.Redis, settings: Settings) -> Queue:
    return Queue(settings.notify_queue, connection=connection)


def notify_retry(settings: Settings) -> Retry | None:
    """Exponential backoff: base, 2 base, 4 base ... for the attempts after the first."""
    intervals = [settings.notify_retry_base_seconds * 2 ** n for n in range(settings.notify_max_attempts - 1)]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def notify_job_timeout(settings: Settings) -> int:
    """Seconds a delivery job may run: three attempts' time (connect, TLS, send) and a margin. The
    chart's worker grace period is derived from it (charts/microdash/templates/_helpers.tpl)."""
    return int(settings.notify_timeout_seconds * 3) + 10


def enqueue_delivery(queue: Queue, notification_id: int, settings: Settings) -> None:
    queue.enqueue(NOTIFY_JOB, notification_id, job_timeout=notify_job_timeout(settings),
                  result_ttl=3600, failure_ttl=FAILURE_TTL_SECONDS, retry=notify_retry(settings),
                  description=f"notification {notification_id}")
