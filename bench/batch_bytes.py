"""What a waiting sample costs in the queue's Redis, per batch format: the bulk benchmark's load
(1,000,000 samples over 10,000 series, 5,000 per request: each batch holds 5,000 series once) and
an agent-like load (40 series of one host every 10 s: 125 cycles per batch of 5,000).

    python bench/batch_bytes.py [--samples 1000000]

Each load is validated as the api does, batched, and enqueued into a throwaway redis-server as
each format would be: JSON in a zlib-compressed RQ job (before 2026-12-06), MessagePack rows in an
uncompressed job (2026-12-06), MessagePack columns (now). Bytes per sample: Redis' used_memory
grown by the whole load, and the job's data alone.
"""

import argparse
import random
import socket
import subprocess
import tempfile
import time

import orjson
import redis
from rq import Queue

from ingest_load import bulk_bodies
from microdash_core import queues
from microdash_core.batches import Batch
from microdash_core.samples import SampleValidator
from microdash_core.settings import Settings

BATCH = 5_000
AGENT_SERIES = [("system.cpu.utilization", {"host": "web-01", "cpu": f"cpu{n}"}) for n in range(8)] + [
    ("system.memory.usage", {"host": "web-01", "state": state}) for state in ("used", "free", "cached", "buffered")] + [
    (f"system.disk.{what}", {"host": "web-01", "device": device, "direction": direction})
    for what in ("io", "operations") for device in ("sda", "sdb") for direction in ("read", "write")] + [
    (f"system.network.{what}", {"host": "web-01", "interface": interface, "direction": direction})
    for what in ("io", "packets", "errors") for interface in ("eth0", "lo") for direction in ("receive", "transmit")] + [
    ("system.load1", {"host": "web-01"}), ("system.load5", {"host": "web-01"}), ("system.load15", {"host": "web-01"}),
    ("system.uptime_seconds", {"host": "web-01"})]


def agent_bodies(total: int, base_ts: int) -> list[bytes]:
    rng = random.Random(7)
    counters = [0.0] * len(AGENT_SERIES)
    items = []
    for cycle in range(total // len(AGENT_SERIES) + 1):
        for index, (metric, labels) in enumerate(AGENT_SERIES):
            counters[index] += rng.randrange(0, 100_000)
            value = counters[index] if "io" in metric or "packets" in metric else round(rng.uniform(0, 100), 2)
            items.append({"metric": metric, "labels": labels, "ts": base_ts + cycle * 10_000 + index, "value": value})
    items = items[:total]
    return [orjson.dumps(items[start:start + BATCH]) for start in range(0, total, BATCH)]


def batches_of(bodies: list[bytes], settings: Settings) -> list[Batch]:
    """Each batch received 1 s after its last sample."""
    validator = SampleValidator(settings)
    batches = []
    for number, body in enumerate(bodies):
        now_ms = max(item["ts"] for item in orjson.loads(body)) + 1000
        samples, errors = validator.validate_many(validator.accept_json(body) or orjson.loads(body), now_ms=now_ms)
        assert not errors, errors[:3]
        batches.append(Batch(1, f"{number:032x}", now_ms, samples))
    return batches


def json_payload(batch: Batch) -> bytes:
    return orjson.dumps([batch.tenant_id, batch.batch_id, batch.received_ms,
                         [(metric, dict(labels), ts, value) for metric, labels, ts, value in batch.samples]])


FORMATS = {  # name: (payload, RQ job class)
    "JSON, zlib job (before 2026-12-06)": (json_payload, None),
    "MessagePack rows (2026-12-06)": (Batch.encode_rows, queues.UncompressedJob),
    "MessagePack columns (now)": (Batch.encode, queues.UncompressedJob),
}


def measure(connection: redis.Redis, batches: list[Batch], payload, job_class) -> tuple[float, float]:
    """(Redis bytes per waiting sample, job data bytes per sample)."""
    connection.flushall()
    before = connection.info("memory")["used_memory"]
    queue = Queue("ingest", connection=connection, job_class=job_class) if job_class else Queue("ingest", connection=connection)
    data = 0
    for batch in batches:
        queue.enqueue(queues.INGEST_JOB, payload(batch), job_id=batch.batch_id, result_ttl=0)
        connection.zadd("pending", {batch.batch_id: batch.received_ms})
        data += connection.memory_usage(f"rq:job:{batch.batch_id}", samples=0)
    samples = sum(len(batch.samples) for batch in batches)
    return (connection.info("memory")["used_memory"] - before) / samples, data / samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()
    settings, now_ms = Settings(), int(time.time() * 1000)
    loads = {"bulk benchmark": [body for body, _ in bulk_bodies(args.samples, BATCH, base_ts=now_ms - 300_000)],
             "agent-like": agent_bodies(args.samples, now_ms)}
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                                   "--dir", directory], stdout=subprocess.DEVNULL)
        try:
            connection = redis.Redis(port=port)
            while True:
                try:
                    connection.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            print("| bytes per waiting sample: Redis used_memory / MEMORY USAGE of the job | "
                  + " | ".join(loads) + " |")
            print("|---|" + "---|" * len(loads))
            prepared = {name: batches_of(bodies, settings) for name, bodies in loads.items()}
            for name, (payload, job_class) in FORMATS.items():
                figures = [measure(connection, batches, payload, job_class) for batches in prepared.values()]
                print(f"| {name} | " + " | ".join(f"{used:.1f} / {job:.1f}" for used, job in figures) + " |")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
