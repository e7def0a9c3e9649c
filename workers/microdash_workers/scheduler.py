"""Periodic jobs, registered with rq-scheduler. Kept in this one module so that the scheduler
can be swapped for RQ's own cron support without touching the jobs."""

import logging
import time
from datetime import datetime, timezone

import redis
from rq_scheduler import Scheduler

from microdash_core.queues import (ALERT_SCHEDULE_JOB, COMPACT_JOB, FORGET_DELETED_TENANTS_JOB,
                                   MAINTAIN_PARTITIONS_JOB, RETENTION_JOB, ROLLUP_JOB, SEAL_JOB)
from microdash_core.settings import Settings

log = logging.getLogger(__name__)

# (job id, function path, interval in seconds)
PERIODIC_JOBS = [
    ("microdash-maintain-partitions", MAINTAIN_PARTITIONS_JOB, 3600),
    ("microdash-rollups", ROLLUP_JOB, 15),
    ("microdash-retention", RETENTION_JOB, 3600),
    ("microdash-forget-deleted-tenants", FORGET_DELETED_TENANTS_JOB, 3600),
]
ALERT_EVALUATION_JOB_ID = "microdash-alert-evaluation"
SEAL_JOB_ID = "microdash-seal"
COMPACT_JOB_ID = "microdash-compact"


def periodic_jobs(settings: Settings) -> list[tuple[str, str, int]]:
    return [*PERIODIC_JOBS, (ALERT_EVALUATION_JOB_ID, ALERT_SCHEDULE_JOB, settings.alert_eval_interval_seconds),
            (SEAL_JOB_ID, SEAL_JOB, settings.seal_interval_seconds),
            (COMPACT_JOB_ID, COMPACT_JOB, settings.compact_interval_seconds)]


def register_periodic_jobs(scheduler: Scheduler, queue_name: str, settings: Settings) -> None:
    """Idempotent: re-registering replaces each job instead of adding a second copy."""
    for job_id, function, interval in periodic_jobs(settings):
        if job_id in scheduler:
            scheduler.cancel(job_id)
        scheduler.schedule(
            scheduled_time=datetime.now(timezone.utc),
            func=function,
            interval=interval,
            repeat=None,
            id=job_id,
            queue_name=queue_name,
            result_ttl=interval * 2,
        )


def run_scheduler(settings: Settings, *, interval: float = 5.0, burst: bool = False) -> None:
    """Run until stopped; if Redis goes away, wait and start over instead of exiting."""
    while True:
        try:
            connection = redis.Redis.from_url(settings.redis_url)
            scheduler = Scheduler(queue_name=settings.scheduled_queue, connection=connection, interval=interval)
            register_periodic_jobs(scheduler, settings.scheduled_queue, settings)
            log.info("scheduler started", extra={"jobs": [job_id for job_id, _, _ in periodic_jobs(settings)]})
            scheduler.run(burst=burst)
            return
        except redis.exceptions.ConnectionError as exc:
            log.error("Redis unreachable, retrying in 2 s", extra={"error": str(exc)})
            time.sleep(2)
