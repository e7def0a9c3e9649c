"""The RQ worker process (`microdash worker`)."""

import logging
import time

import redis
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.utils import now
from rq.worker import DequeueStrategy, WorkerStatus

from microdash_core import heap, telemetry
from microdash_core.errors import PoisonBatch
from microdash_core.queues import INGEST_JOB, UncompressedJob
from microdash_core.settings import Settings, get_settings

from . import ingest  # noqa: F401  (RQ would import the job's modules at the first job: after the freeze)
from .orphans import requeue_orphaned_batches

log = logging.getLogger(__name__)
HEARTBEAT_GRACE_SECONDS = 10
# An idle worker looks for a stop request this often (it cannot be interrupted safely in BLPOP).
STOP_CHECK_SECONDS = 2
WORKER_HEARTBEAT_EVERY_SECONDS = 1.0
SUSPENSION_CHECK_EVERY_SECONDS = 1.0


class WorkerJob(UncompressedJob):
    """The worker's view of a job: RQ 2.12's cleanup of a finished job kept for 0 s (every ingest
    job) in one round trip.

    RQ's (rq.job.Job.delete) reads the job's status three times (finished? deferred? started?), then
    its executions twice (each a ZREMRANGEBYSCORE, a ZRANGE and an HGETALL per execution), one
    round trip each, on every batch's way to MariaDB. Here the status and the execution ids are
    read together, and the same writes as RQ's go into the caller's transaction: the executions
    out of the started registry, their records and the job's registry deleted, the job's keys
    deleted. A job in any other state, or in a group, takes RQ's way."""

    def cleanup(self, ttl: int | None = None, pipeline=None, remove_from_queue: bool = True) -> None:
        if ttl != 0 or pipeline is None or remove_from_queue or self.group_id:
            super().cleanup(ttl, pipeline=pipeline, remove_from_queue=remove_from_queue)
            return
        execution_registry = self.execution_registry
        with self.connection.pipeline(transaction=False) as reads:
            reads.hget(self.key, "status")
            reads.zrange(execution_registry.key, 0, -1)
            status, execution_ids = reads.execute()
        if status is None or JobStatus(status.decode()) != JobStatus.STARTED:
            super().cleanup(ttl, pipeline=pipeline, remove_from_queue=remove_from_queue)
            return
        composite_keys = [f"{self.id}:{execution_id.decode()}" for execution_id in execution_ids]
        if composite_keys:
            started = StartedJobRegistry(self.origin, connection=self.connection, job_class=type(self))
            pipeline.zrem(started.key, *composite_keys)
            pipeline.delete(*(f"rq:execution:{key}" for key in composite_keys))
        pipeline.delete(execution_registry.key)
        pipeline.delete(self.key, self.dependents_key, self.dependencies_key)


class IngestWorker(SimpleWorker):
    """Runs jobs in-process (no fork per job) so the series cache and DB connection are reused.

    A job whose worker dies (even by SIGKILL) stays in the started registry until its heartbeat
    expires (job timeout + a short grace instead of RQ's fixed minute); the next maintenance pass
    of any worker then re-queues it under its Retry policy. Storing is idempotent, so the
    re-run cannot duplicate samples.
    """

    _heartbeat_sent_at = float("-inf")  # time.monotonic() of the last heartbeat sent alone
    _started_job_id: str | None = None  # the job whose start prepare_execution wrote
    _suspension_checked_at = float("-inf")  # time.monotonic() of the last look for `rq suspend`

    def get_heartbeat_ttl(self, job: Job) -> int:
        return int(job.timeout or self.worker_ttl) + HEARTBEAT_GRACE_SECONDS

    def _shutdown(self) -> None:
        """A warm stop (SIGTERM, as Kubernetes sends) ends the loop only between jobs.

        RQ raises StopRequested from the signal handler whenever the worker is not busy, which
        includes the moment after BLPOP has taken a job off the queue and before the started
        registry records it: that batch would be in no queue and no registry, found only by the
        orphan sweep minutes later. Here the handler only asks; the job in hand runs first."""
        self._stop_requested = True
        if self.scheduler:
            self.stop_scheduler()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        """RQ's, in short blocking waits so that an idle worker notices a stop request promptly;
        None once a stop is requested (the job taken by the last wait, if any, is returned)."""
        if timeout is None or max_idle_time is not None:  # burst mode, or RQ's own idle limit
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        wait = min(timeout, STOP_CHECK_SECONDS)
        while not self._stop_requested:
            result = super().dequeue_job_and_maintain_ttl(wait, max_idle_time=wait)
            if result is not None:
                return result
        return None

    def set_state(self, state: str, pipeline=None) -> None:
        """RQ's, minus a write of the state the worker is in already (RQ 2.12 writes IDLE after each
        job and again before each dequeue: a round trip waiting for an fsync per batch). Only this
        worker writes its state."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline=pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's, at most once a second (RQ 2.12 looks before every job, a round trip each):
        `rq suspend` then takes up to a second longer to stop a busy worker."""
        if time.monotonic() - self._suspension_checked_at < SUSPENSION_CHECK_EVERY_SECONDS:
            return
        super().check_for_suspension(burst)
        self._suspension_checked_at = time.monotonic()

    def handle_execution_ended(self, job: Job, queue, heartbeat_ttl: int) -> None:
        """RQ 2.12's sets the end time and extends the job's heartbeat, one round trip, for the time
        its success or failure callback may take. A job with neither callback (every one of ours)
        goes straight to its success or failure handling, well within the heartbeat that
        prepare_execution gave it (the job's timeout + a grace)."""
        if job._success_callback_name or job._failure_callback_name:
            super().handle_execution_ended(job, queue, heartbeat_ttl)
            return
        job.ended_at = now()

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        """RQ's, except that the worker's own heartbeat (RQ sends it three times per job: before and
        after each dequeue and after each job, as two writes one by one) goes at most once a
        second, in one round trip. With the queue's `appendfsync always` each of those writes waits
        for an fsync, one of them on every batch's way from the queue to MariaDB. The worker's key
        lives `worker_ttl` + 60 s, so a second between refreshes loses nothing; the heartbeats RQ
        sends in its pipelines (with a job's) are untouched."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        if timeout is None and time.monotonic() - self._heartbeat_sent_at < WORKER_HEARTBEAT_EVERY_SECONDS:
            return
        with self.connection.pipeline() as own:
            super().heartbeat(timeout, pipeline=own)
            own.execute()
        self._heartbeat_sent_at = time.monotonic()

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's two writes before a job runs (rq.executions.prepare_execution: the execution record
        and the worker busy; then prepare_job_execution: the worker's current job and heartbeat,
        the job started) in one transaction, in RQ's order: each was a round trip waiting for an
        fsync on every batch's way to MariaDB."""
        ttl = self.get_heartbeat_ttl(job)
        with self.connection.pipeline() as pipeline:
            self.execution = Execution.create(job, ttl, pipeline=pipeline, worker_name=self.name)
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            self.set_current_job_id(job.id, pipeline=pipeline)
            self.set_current_job_working_time(0, pipeline=pipeline)
            self.heartbeat(ttl, pipeline=pipeline)
            job.heartbeat(now(), ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            pipeline.execute()
        self._started_job_id = job.id
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")
        return self.execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Written with the execution record already (prepare_execution); RQ's for any other case."""
        if self._started_job_id == job.id and not remove_from_intermediate_queue:
            self._started_job_id = None
            return
        super().prepare_job_execution(job, remove_from_intermediate_queue)

    def run_maintenance_tasks(self) -> None:
        if self._stop_requested:
            return  # RQ's would start the scheduler process again, which the stop request ended
        super().run_maintenance_tasks()
        requeue_orphaned_batches(self.connection, get_settings())

    def handle_exception(self, job: Job, *exc_info) -> None:
        """Like RQ's, minus logging the job's arguments (for ingest, a whole batch of samples;
        ingest failures are logged by retry_ingest_outages_for_ever instead)."""
        if job.func_name != INGEST_JOB:
            log.error("job failed", exc_info=exc_info, extra={"job_id": job.id, "func": job.func_name})
        for handler in self._exc_handlers:
            if handler(job, *exc_info) is False:
                break


def retry_ingest_outages_for_ever(job: Job, exc_type, exc_value, traceback) -> bool:
    """Ingest failures: an undecodable batch goes to the failed registry at once; anything else
    is an outage (MariaDB away, a lock timeout, a killed worker) and is retried for ever, after
    the last of INGEST_RETRY_INTERVALS once those are used up. Samples the database refuses never
    get here: the job dead-letters them itself (poison.py)."""
    if job.func_name != INGEST_JOB:
        return True  # other jobs (alert evaluation, notifications): logged by the worker, retried per their Retry
    if isinstance(exc_value, PoisonBatch):
        job.retries_left = 0
        log.error("poison batch moved to the failed registry", extra={"job_id": job.id, "reason": str(exc_value)})
        telemetry.record_failed_batch(job.connection, permanent=True, queue_name=job.origin, batch_id=job.id)
    else:
        job.retries_left = max(job.retries_left or 0, 1)
        job.retry_intervals = job.retry_intervals or get_settings().ingest_retry_intervals
        telemetry.record_failed_batch(job.connection, permanent=False, queue_name=job.origin, batch_id=job.id)
        log.warning("batch failed, will retry", extra={"job_id": job.id, "error": repr(exc_value)})
    return True


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Run until stopped; if Redis goes away, wait and start over instead of exiting."""
    heap.collect_garbage_less_often()
    while True:
        connection = redis.Redis.from_url(settings.redis_url)
        try:
            worker = IngestWorker(
                [settings.ingest_queue, settings.scheduled_queue, settings.notify_queue],
                connection=connection,
                exception_handlers=[retry_ingest_outages_for_ever],
                job_class=WorkerJob,  # a batch re-saved on a retry stays uncompressed too
                maintenance_interval=settings.worker_maintenance_interval_seconds,
                worker_ttl=settings.worker_ttl_seconds,
            )
            # Round robin: an ingest backlog must not starve rollups, alert evaluation or deliveries.
            worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level.upper(),
                        dequeue_strategy=DequeueStrategy.ROUND_ROBIN)
            if burst or worker._shutdown_requested_date is not None:
                return  # stopped on request (SIGTERM/SIGINT), or the queue is empty in burst mode
            log.error("worker loop ended (Redis timeout), restarting in 2 s")
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.error("Redis unreachable, retrying in 2 s", extra={"error": str(exc)})
        time.sleep(2)
