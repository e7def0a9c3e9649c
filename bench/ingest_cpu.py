"""CPU per sample of the ingest code alone, in one process, no services: the edge (decode and
validate a bulk body, build the batch, the RQ job as saved) and the worker (read the job back,
decode, check, resolve series from a warm cache, build the INSERT, the live points, the rollup
marks). The SQL is built but not sent, so the figures leave out MariaDB, Redis and the network.

    python bench/ingest_cpu.py [--samples 200000] [--rounds 3]

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

from ingest_load import bulk_bodies
from microdash_core import live, queues
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

    def edge(self, body: bytes) -> bytes:
        """What the api does for a bulk body; returns the job's data as RQ saves it."""
        accept_json = getattr(self.validator, "accept_json", None)  # absent in versions before msgspec
        items = (accept_json(body) if accept_json else None) or orjson.loads(body)
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
        live.encode_points(samples)
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
    edge, worker = [], []
    for _ in range(args.rounds):
        spent, saved = cpu_per_sample(code.edge, bodies, args.samples)
        edge.append(spent)
        worker.append(cpu_per_sample(code.worker, saved, args.samples)[0])
    print(f"edge   {min(edge):.2f} us/sample (rounds: {', '.join(f'{x:.2f}' for x in edge)})")
    print(f"worker {min(worker):.2f} us/sample (rounds: {', '.join(f'{x:.2f}' for x in worker)})")


if __name__ == "__main__":
    main()
