"""Acknowledged batches that RQ lost track of are queued again.

A worker that listens to several queues takes a job with BLPOP, then records it in the started
registry: if Redis goes away between the two (a restart), the job's id is in no queue and no
registry, and no one would ever run it. Every acknowledged batch is also in our pending set until
it is stored (keys.ingest_pending), so a maintenance pass finds the ones that have been pending
for a while yet are nowhere RQ looks, and queues them again. Storing is idempotent: a batch that
was only between BLPOP and the started registry at that instant is stored once all the same.
"""

import logging
import time

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.queue import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from microdash_core import keys
from microdash_core.settings import Settings

log = logging.getLogger(__name__)
MAX_CHECKED_PER_PASS = 10_000


def requeue_orphaned_batches(connection: redis.Redis, settings: Settings) -> int:
    """Queue again the pending batches older than INGEST_ORPHAN_AFTER_SECONDS that RQ holds nowhere;
    returns how many."""
    queue = Queue(settings.ingest_queue, connection=connection)
    pending_key = keys.ingest_pending(queue.name)
    oldest_allowed_ms = int((time.time() - settings.ingest_orphan_after_seconds) * 1000)
    candidates = [member.decode() for member in connection.zrangebyscore(
        pending_key, "-inf", oldest_allowed_ms, start=0, num=MAX_CHECKED_PER_PASS)]
    if not candidates:
        return 0
    orphans = set(candidates) - _held_by_rq(connection, queue)
    requeued = 0
    for job_id in orphans:
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            connection.zrem(pending_key, job_id)  # stored, its pending entry left behind by an outage
            continue
        queue.enqueue_job(job)
        requeued += 1
        log.warning("re-queued a batch RQ had lost track of", extra={"job_id": job_id})
    return requeued


def _held_by_rq(connection: redis.Redis, queue: Queue) -> set[str]:
    with connection.pipeline(transaction=False) as pipe:
        pipe.lrange(queue.key, 0, -1)
        pipe.lrange(queue.intermediate_queue_key, 0, -1)
        for registry in (StartedJobRegistry, ScheduledJobRegistry, FailedJobRegistry):
            pipe.zrange(registry(queue=queue).key, 0, -1)
        replies = pipe.execute()
    # The started registry's members are "<job id>:<execution id>"; job ids hold no colon (batch ids are hex).
    return {member.decode().split(":", 1)[0] for reply in replies for member in reply}
