"""Prometheus metrics of the API process, plus the pipeline figures kept in Redis by the workers."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from microdash_core import telemetry

disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)
INGEST_REQUESTS = Counter("microdash_ingest_requests", "Ingest requests by endpoint and status",
                          ["endpoint", "status"], registry=REGISTRY)
INGEST_SAMPLES = Counter("microdash_ingest_accepted_samples", "Samples accepted into the queue", registry=REGISTRY)
INGEST_REJECTED = Counter("microdash_ingest_rejected_samples", "Samples rejected at the edge", ["reason"],
                          registry=REGISTRY)
INGEST_DROPPED = Counter("microdash_ingest_dropped_samples",
                         "Samples a protocol carried that are not stored by design (a stale marker, say), by reason",
                         ["endpoint", "reason"], registry=REGISTRY)
BATCH_SIZE = Histogram("microdash_ingest_batch_samples", "Samples per accepted batch", registry=REGISTRY,
                       buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000))
UNREADABLE_CHUNK_READS = Counter("microdash_query_unreadable_chunks",
                                 "Queries refused with a 500 because a stored chunk could not be decoded, by API",
                                 ["api"], registry=REGISTRY)
SSE_CLIENTS = Gauge("microdash_sse_clients", "Connected SSE clients in this process", registry=REGISTRY)


PIPELINE_COUNTERS = {
    "batches_stored": "Batches stored by the workers",
    "samples_stored": "Samples stored by the workers",
    "batches_retried": "Batch attempts that failed and were scheduled for retry",
    "batches_poisoned": "Batches holding data that can never be stored: their refused samples are dead-lettered"
                        " (an undecodable batch goes to the failed registry whole)",
    "samples_dead_lettered": "Samples the database refused, kept in their tenant's dead-letter list",
    "samples_sealed": "Samples the sealing job moved from level-0 parts and the legacy head into canonical chunks"
                      " (docs/storage.md)",
    "chunks_written": "Chunk rows (parts) the sealing job wrote, new or merged",
    "head_rebuilds": "Online rebuilds of a head table that returned its free space to the file system",
    "head_bytes_reclaimed": "Free bytes the head rebuilds returned (InnoDB's estimate)",
    "head_rebuilds_failed": "Head rebuilds that ended in an error (logged; the table then waits out a backoff)",
    "head_rebuilds_deferred": "Sealing runs that left a head table alone while it waits out the backoff"
                              " (RECLAIM_BACKOFF_SECONDS) after a rebuild that failed or gave up",
    "head_crash_cleanups_skipped": "Sealing runs that could not look for the copies left by rebuilds a MariaDB"
                                   " crash interrupted: the database user lacks PROCESS (docs/operations.md)",
    "head_rebuilds_given_up": "Head rebuilds that did not get their metadata lock in time (retried after RECLAIM_BACKOFF_SECONDS)",
    "samples_compacted": "Samples the compaction job moved from the head's log into level-0 chunk parts",
    "level0_parts_written": "Level-0 chunk parts the compaction job wrote",
    "bridge_messages_received": "MQTT messages taken by the bridges (acknowledged once queued)",
    "bridge_samples_enqueued": "Samples the MQTT bridges put on the ingest queue",
    "bridge_messages_rejected": "MQTT messages rejected (dead-lettered) by the bridges",
    "bridge_messages_rate_limited": "MQTT messages dead-lettered for exceeding their tenant's rate limit",
    "bridge_reconnects": "Times an MQTT bridge reconnected to the broker",
}


@dataclass(frozen=True)
class QueueFigures:
    queued: int
    retrying: int
    failed: int
    oldest_age_seconds: float


class PipelineSnapshot:
    """Figures read from Redis for one scrape."""

    def __init__(self, queue: QueueFigures, counters: dict[bytes, bytes], lag: dict[bytes, bytes]):
        self.queue, self.counters, self.lag = queue, counters, lag

    def collect(self):
        queue = self.queue
        yield GaugeMetricFamily("microdash_queue_depth", "Batches waiting in the ingest queue", value=queue.queued)
        yield GaugeMetricFamily("microdash_queue_retrying", "Batches waiting for a retry after an outage",
                                value=queue.retrying)
        yield GaugeMetricFamily("microdash_queue_failed", "Batches in the failed registry (undecodable)",
                                value=queue.failed)
        yield GaugeMetricFamily("microdash_queue_oldest_batch_age_seconds",
                                "Age of the oldest acknowledged batch not yet stored", value=queue.oldest_age_seconds)
        for name, help_text in PIPELINE_COUNTERS.items():
            yield CounterMetricFamily(f"microdash_{name}", help_text, value=int(self.counters.get(name.encode(), 0)))
        buckets, cumulative = [], 0
        for bound in telemetry.LAG_BUCKETS:
            cumulative += int(self.lag.get(repr(bound).encode(), 0))
            buckets.append((repr(bound), cumulative))
        cumulative += int(self.lag.get(b"+Inf", 0))
        buckets.append(("+Inf", cumulative))
        yield HistogramMetricFamily("microdash_ingest_to_stored_seconds", "Lag from API acceptance to durable storage",
                                    buckets=buckets, sum_value=float(self.lag.get(b"sum", 0)))


def exposition(snapshot: PipelineSnapshot | None) -> bytes:
    text = generate_latest(REGISTRY)
    if snapshot is not None:
        extra = CollectorRegistry(auto_describe=False)
        extra.register(snapshot)
        text += generate_latest(extra)
    return text
