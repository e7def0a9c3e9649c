"""CPU per sample of the ingest code alone, in one process, no services: the edge (decode and
validate a bulk body, build the batch, the RQ job as saved) and the worker (read the job back,
decode, check, resolve series from a warm cache, build the INSERT and the rollup marks; the live
stream's entry is the payload itself, nothing to build). The SQL is built but not sent, so the figures leave out MariaDB, Redis and the network.

    python bench/ingest_cpu.py [--samples 200000] [--rounds 3]

The edge is measured for each protocol's body: JSON bulk, Prometheus remote-write (snappy
protobuf, one sample per series as Prometheus sends a scrape) and Influx line protocol, all the
same samples and series; the worker's share is the same for all of them.

Process CPU time over the samples, the best of the rounds: on a machine shared with other jobs
it moves far less than a throughput figure. To compare with an earlier version, put that
version's core and workers first on PYTHONPATH (e.g. from `git archive <commit> core workers`).
"""

import argparse
import gc
import time

import orjson
import redis
from rq.job import Job

from ingest_load import bulk_bodies, line_protocol_bodies, remote_write_bodies
from microdash_api.protocols import influx_line_protocol, prometheus_remote_write
from microdash_core import queues
from microdash_core.batches import Batch
from microdash_core.samples import SampleValidator
from microdash_core.series import canonical_labels
from microdash_core.settings import Settings
from microdash_workers import poison
from microdash_workers.storage import SampleStore

BATCH = 5_000
MINUTE_MS = 60_000


class CapturingConnection:
    """Stands in for the MariaDB connection so that SampleStore builds its INSERT and no more."""

    open = True

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def execute(self, query):
        self.last_query = query

    def commit(self):
        pass


class IngestCode:
    def __init__(self, settings: Settings):
        self.validator = SampleValidator(settings)
        self.queue = queues.ingest_queue(redis.Redis(), settings)  # never connects: jobs are only built
        self.store = SampleStore(settings)
        self.store._connection = CapturingConnection()
        self.now_ms = int(time.time() * 1000)
        self.remote_write_label_sets = prometheus_remote_write.LabelSetCache(max_entries=20_000)
        # Versions with the remote-write fast path take the validator (and its clock) to use it.
        fast = "validator" in prometheus_remote_write.decode.__code__.co_varnames
        self.remote_write_fast_path = {"validator": self.validator, "now_ms": self.now_ms} if fast else {}
        fast = "validator" in influx_line_protocol.decode.__code__.co_varnames
        self.line_protocol_fast_path = {"validator": self.validator, "now_ms": self.now_ms} if fast else {}

    def edge(self, body: bytes) -> bytes:
        """What the api does for a bulk body; returns the job's data as RQ saves it."""
        accept_json = getattr(self.validator, "accept_json", None)  # absent in versions before msgspec
        return self._queued((accept_json(body) if accept_json else None) or orjson.loads(body))

    def remote_write_edge(self, body: bytes) -> bytes:
        settings = self.validator.settings
        decoded = prometheus_remote_write.decode(
            body, label_sets=self.remote_write_label_sets, max_samples=settings.max_bulk_samples,
            max_decompressed_bytes=settings.max_remote_write_decompressed_bytes, max_labels=settings.max_labels,
            **self.remote_write_fast_path)
        return self._queued(decoded.items)

    def line_protocol_edge(self, body: bytes) -> bytes:
        decoded = influx_line_protocol.decode(body, precision="ms", max_samples=self.validator.settings.max_bulk_samples,
                                              **self.line_protocol_fast_path)
        return self._queued(decoded.items)

    def _queued(self, items) -> bytes:
        samples, errors = self.validator.validate_many(items, now_ms=self.now_ms)
        assert not errors, errors[:3]
        batch = Batch(1, "b" * 32, self.now_ms, samples)
        job = self.queue.create_job(queues.INGEST_JOB, args=(batch.encode(),), job_id=batch.batch_id, result_ttl=0)
        return job.to_dict()["data"]

    def worker(self, saved_data: bytes) -> None:
        """What the ingest job does with a batch, but for the round trips."""
        job = Job(connection=self.queue.connection)
        job.restore({b"data": saved_data})
        batch = Batch.decode(job.args[0])
        if getattr(batch, "typed", False) and poison._all_finite([sample[3] for sample in batch.samples]):
            samples = batch.samples
        else:
            samples = [sample for sample in batch.samples if poison.malformation(sample) is None]
        series_ids = self.store._resolve_series(1, samples)
        self.store._insert_samples(1, series_ids, samples)
        {ts - ts % MINUTE_MS for _metric, _labels, ts, _value in samples}

    def warm_series_cache(self, saved: list[bytes]) -> None:
        for data in saved:
            job = Job(connection=self.queue.connection)
            job.restore({b"data": data})
            for metric, labels, _ts, _value in Batch.decode(job.args[0]).samples:
                text = labels if type(labels) is str else canonical_labels(labels)
                self.store.cache.put((1, metric, text), 1)


def cpu_per_sample(action, items: list, samples: int) -> tuple[float, list]:
    gc.collect()
    started = time.process_time()
    results = [action(item) for item in items]
    return (time.process_time() - started) / samples * 1e6, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    code = IngestCode(Settings())
    bodies = [body for body, _ in bulk_bodies(args.samples, BATCH, base_ts=code.now_ms - 300_000)]
    saved = [code.edge(body) for body in bodies]  # the names and label sets become known, as in a running api
    code.warm_series_cache(saved)
    base_ts = code.now_ms - 300_000
    protocols = {"remote-write": (code.remote_write_edge, remote_write_bodies(args.samples, BATCH, base_ts=base_ts)),
                 "line protocol": (code.line_protocol_edge, line_protocol_bodies(args.samples, BATCH, base_ts=base_ts))}
    for action, protocol_bodies in protocols.values():
        for body, _ in protocol_bodies:
            action(body)  # warm, as JSON's
    edge, worker = [], []
    protocol_edge: dict[str, list[float]] = {name: [] for name in protocols}
    for _ in range(args.rounds):
        spent, saved = cpu_per_sample(code.edge, bodies, args.samples)
        edge.append(spent)
        worker.append(cpu_per_sample(code.worker, saved, args.samples)[0])
        for name, (action, protocol_bodies) in protocols.items():
            protocol_edge[name].append(cpu_per_sample(action, [body for body, _ in protocol_bodies], args.samples)[0])
    _print("edge (JSON bulk)", edge)
    for name, spent in protocol_edge.items():
        _print(f"edge ({name})", spent)
    _print("worker", worker)


def _print(name: str, spent: list[float]) -> None:
    print(f"{name:<26} {min(spent):.2f} us/sample (rounds: {', '.join(f'{x:.2f}' for x in spent)})")


if __name__ == "__main__":
    main()
