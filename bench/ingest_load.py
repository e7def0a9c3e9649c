"""Throughput scenarios: bulk ingest until durable, and one-sample-per-request ingest."""

import asyncio
import time
from dataclasses import dataclass, field

import cramjam
import orjson
import redis

from microdash_api.protocols.remote_write_messages import Label, Sample, TimeSeries, WriteRequest
from microdash_core.store import reads
from rawhttp import JSON_CONTENT, ProtocolError, RawHttpConnection
from report import percentile

SERIES = 10_000
MAX_ATTEMPTS = 5
RETRY_PAUSE_S = 0.2
POLL_FAST_S = 0.02
# A COUNT(*) of the load's rows costs MariaDB ~0.13 s of CPU at 1,000,000 (bench/mariadb_insert.py):
# counted every 0.5 s it took a tenth to a third of MariaDB's CPU during the load, more the
# busier the machine, and slowed what it measured. The workers' counter says when to count.
POLL_COUNT_S = 5.0
TELEMETRY_KEY = "microdash:telemetry:counters"
LINE_PROTOCOL_CONTENT = "Content-Type: text/plain; charset=utf-8\r\n"
REMOTE_WRITE_CONTENT = ("Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n"
                        "X-Prometheus-Remote-Write-Version: 0.1.0\r\n")


def json_headers(token: str) -> dict[str, str]:
    """Request headers for httpx ingest calls (the latency scenarios)."""
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@dataclass
class PostOutcome:
    """What a set of POSTs achieved, timed on the benchmark's perf_counter clock."""

    accepted_requests: int = 0
    accepted_samples: int = 0
    failed_requests: int = 0
    skipped_requests: int = 0
    last_accept: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    durations_ms: list[float] = field(default_factory=list)

    def record(self, status: int, samples: int, started: float) -> None:
        now = time.perf_counter()
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if 200 <= status < 300:  # 202 for JSON, 204 for remote-write and line protocol
            self.accepted_requests += 1
            self.accepted_samples += samples
            self.last_accept = max(self.last_accept, now)
            self.durations_ms.append((now - started) * 1000)


# ---- payloads -----------------------------------------------------------------------------------

def bulk_bodies(total: int, batch_size: int, *, base_ts: int) -> list[tuple[bytes, int]]:
    """(JSON body, sample count) batches; sample k is series k % SERIES at ts base_ts + k // SERIES."""
    labels = [{"host": f"h{i % 100}", "core": f"c{i // 100 % 100}"} for i in range(SERIES)]
    bodies = []
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        batch = [{"metric": "bench.load", "labels": labels[k % SERIES], "ts": base_ts + k // SERIES,
                  "value": (k % 1000) * 0.25} for k in range(start, stop)]
        bodies.append((orjson.dumps(batch), stop - start))
    return bodies


def remote_write_bodies(total: int, batch_size: int, *, base_ts: int) -> list[tuple[bytes, int]]:
    """The bulk load as Prometheus would send it: the same samples and series (metric bench_load, as
    a Prometheus name), each batch a snappy-compressed WriteRequest of one sample per series."""
    labels = [[Label(name="__name__", value="bench_load"), Label(name="core", value=f"c{i // 100 % 100}"),
               Label(name="host", value=f"h{i % 100}")] for i in range(SERIES)]
    bodies = []
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        request = WriteRequest(timeseries=[
            TimeSeries(labels=labels[k % SERIES], samples=[Sample(timestamp=base_ts + k // SERIES,
                                                                  value=(k % 1000) * 0.25)])
            for k in range(start, stop)])
        bodies.append((bytes(cramjam.snappy.compress_raw(request.SerializeToString())), stop - start))
    return bodies


def line_protocol_bodies(total: int, batch_size: int, *, base_ts: int) -> list[tuple[bytes, int]]:
    """The bulk load as line protocol (precision=ms), one field per line: the same 10,000 series
    (bench_lp.load{host, core}), timestamps and values as bulk_bodies."""
    tags = [f"bench_lp,core=c{i // 100 % 100},host=h{i % 100}" for i in range(SERIES)]
    bodies = []
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        lines = [f"{tags[k % SERIES]} load={(k % 1000) * 0.25!r} {base_ts + k // SERIES}" for k in range(start, stop)]
        bodies.append(("\n".join(lines).encode(), stop - start))
    return bodies


def single_bodies(total: int, clients: int, *, base_ts: int) -> list[bytes]:
    """One sample per body; client c owns series {client: c}, each at a distinct ts."""
    return [orjson.dumps({"metric": "bench.single", "labels": {"client": f"c{n % clients}"},
                          "ts": base_ts + n // clients, "value": float(n)}) for n in range(total)]


# ---- posting ------------------------------------------------------------------------------------

async def post_with_retry(connection: RawHttpConnection, path: str, body: bytes) -> tuple[int, float]:
    """POST, retrying 429/503 and connection errors a bounded number of times. Returns (status, start)."""
    status = 0
    for attempt in range(MAX_ATTEMPTS):
        started = time.perf_counter()
        try:
            status = await connection.post(path, body)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ProtocolError):
            status = 0
        if status not in (0, 429, 503):
            return status, started
        await asyncio.sleep(RETRY_PAUSE_S * (attempt + 1))
    return status, started


async def post_all(port: int, token: str, path: str, bodies: list[tuple[bytes, int]],
                   concurrency: int, *, deadline_s: float, content_headers: str = JSON_CONTENT) -> PostOutcome:
    """POST every body over `concurrency` connections; bodies not started before the deadline are skipped."""
    outcome = PostOutcome()
    deadline = time.monotonic() + deadline_s
    pending = iter(bodies)

    async def client_loop() -> None:
        connection = RawHttpConnection("127.0.0.1", port, token=token, content_headers=content_headers)
        try:
            for body, samples in pending:  # the shared iterator hands each body to exactly one loop
                if time.monotonic() > deadline:
                    outcome.skipped_requests += 1
                    continue
                status, started = await post_with_retry(connection, path, body)
                outcome.record(status, samples, started)
                if not 200 <= status < 300:
                    outcome.failed_requests += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return outcome


# ---- durability ---------------------------------------------------------------------------------

def stored_counter(redis_client: redis.Redis) -> int:
    return int(redis_client.hget(TELEMETRY_KEY, "samples_stored") or 0)


def count_rows(connection, tenant_id: int) -> int:
    """The tenant's stored samples, head and sealed chunks (the workers' sealing job may run)."""
    sql, params = reads.count_statement(tenant_id=tenant_id, series_ids=None, span=reads.Span(0, 2**62))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def wait_durable(stack, tenant_id: int, expected: int, *, baseline: int, timeout_s: float) -> tuple[float | None, int]:
    """Time (perf_counter) at which `expected` rows of the tenant were in MariaDB, and the last count.

    The workers' Redis counter of stored samples is polled every 20 ms as a cheap signal; the
    row count in MariaDB decides, checked when the signal fires and at least every 5 s.
    """
    deadline = time.monotonic() + timeout_s
    redis_client, connection = stack.connect_redis(), stack.connect_db()
    try:
        count, next_count_at = 0, 0.0
        while time.monotonic() < deadline:
            signalled = stored_counter(redis_client) - baseline >= expected
            if signalled or time.monotonic() >= next_count_at:
                seen_at = time.perf_counter()
                count = count_rows(connection, tenant_id)
                if count >= expected:
                    return seen_at, count
                next_count_at = time.monotonic() + POLL_COUNT_S
            time.sleep(POLL_FAST_S)
        return None, count
    finally:
        connection.close()
        redis_client.close()


def stored_baseline(stack) -> int:
    client = stack.connect_redis()
    try:
        return stored_counter(client)
    finally:
        client.close()


# ---- scenarios ----------------------------------------------------------------------------------

@dataclass
class Throughput:
    outcome: PostOutcome
    rows: int
    accept_s: float | None
    durable_s: float | None

    def rate(self, amount: int, seconds: float | None) -> int | None:
        return round(amount / seconds) if seconds and amount else None

    def detail(self) -> dict:
        return {
            "rows_in_mariadb": self.rows, "accept_seconds": _r(self.accept_s), "durable_seconds": _r(self.durable_s),
            "request_ms_p50": _r(percentile(self.outcome.durations_ms, 0.5)),
            "request_ms_p99": _r(percentile(self.outcome.durations_ms, 0.99)),
            "statuses": self.outcome.statuses, "skipped_after_deadline": self.outcome.skipped_requests,
        }


def measure_throughput(stack, tenant, path: str, bodies: list[tuple[bytes, int]], clients: int, *,
                       post_deadline_s: float, durable_timeout_s: float,
                       content_headers: str = JSON_CONTENT) -> Throughput:
    """POST the bodies, then wait until every accepted sample is a row in MariaDB; all timed from the start."""
    baseline = stored_baseline(stack)
    started = time.perf_counter()
    outcome = asyncio.run(post_all(stack.api_port, tenant.token, path, bodies, clients, deadline_s=post_deadline_s,
                                   content_headers=content_headers))
    durable_at, rows = wait_durable(stack, tenant.id, outcome.accepted_samples, baseline=baseline,
                                    timeout_s=durable_timeout_s)
    return Throughput(outcome, rows, outcome.last_accept - started if outcome.accepted_requests else None,
                      durable_at - started if durable_at is not None else None)


def run_bulk(stack, tenant, *, samples: int, batch_size: int, clients: int, name: str = "bulk") -> dict:
    """`name` prefixes the figures: "bulk" for an unlimited tenant, "bulk_limited" for one with a series limit."""
    bodies = bulk_bodies(samples, batch_size, base_ts=int(time.time() * 1000) - 300_000)
    result = measure_throughput(stack, tenant, "/api/v1/metrics/bulk", bodies, clients,
                                post_deadline_s=max(120.0, samples / 2_000), durable_timeout_s=max(60.0, samples / 5_000))
    return {
        f"{name}_ingest_samples_per_s": result.rate(result.rows, result.durable_s),
        f"{name}_accept_samples_per_s": result.rate(result.outcome.accepted_samples, result.accept_s),
        f"{name}_detail": {"samples_sent": samples, "samples_accepted": result.outcome.accepted_samples,
                        "batch_size": batch_size, "clients": clients, "series": min(SERIES, samples),
                        **result.detail()},
    }


def run_remote_write(stack, tenant, *, samples: int, batch_size: int, clients: int) -> dict:
    """The bulk load through Prometheus remote-write (POST /api/v1/write), to compare with JSON bulk."""
    bodies = remote_write_bodies(samples, batch_size, base_ts=int(time.time() * 1000) - 300_000)
    result = measure_throughput(stack, tenant, "/api/v1/write", bodies, clients, content_headers=REMOTE_WRITE_CONTENT,
                                post_deadline_s=max(120.0, samples / 2_000), durable_timeout_s=max(60.0, samples / 5_000))
    return {
        "remote_write_ingest_samples_per_s": result.rate(result.rows, result.durable_s),
        "remote_write_accept_samples_per_s": result.rate(result.outcome.accepted_samples, result.accept_s),
        "remote_write_detail": {"samples_sent": samples, "samples_accepted": result.outcome.accepted_samples,
                                "batch_size": batch_size, "clients": clients, "series": min(SERIES, samples),
                                "body_bytes_total": sum(len(body) for body, _ in bodies), **result.detail()},
    }


def run_line_protocol(stack, tenant, *, samples: int, batch_size: int, clients: int) -> dict:
    """The bulk load sent as Influx line protocol to /api/v2/write."""
    bodies = line_protocol_bodies(samples, batch_size, base_ts=int(time.time() * 1000) - 300_000)
    result = measure_throughput(stack, tenant, "/api/v2/write?precision=ms", bodies, clients,
                                content_headers=LINE_PROTOCOL_CONTENT,
                                post_deadline_s=max(120.0, samples / 2_000), durable_timeout_s=max(60.0, samples / 5_000))
    return {
        "line_protocol_ingest_samples_per_s": result.rate(result.rows, result.durable_s),
        "line_protocol_accept_samples_per_s": result.rate(result.outcome.accepted_samples, result.accept_s),
        "line_protocol_detail": {"samples_sent": samples, "samples_accepted": result.outcome.accepted_samples,
                                 "batch_size": batch_size, "clients": clients, "series": min(SERIES, samples),
                                 **result.detail()},
    }


def run_single(stack, tenant, *, requests: int, clients: int) -> dict:
    bodies = [(body, 1) for body in single_bodies(requests, clients, base_ts=int(time.time() * 1000) - 300_000)]
    commands_before = redis_commands(stack)
    result = measure_throughput(stack, tenant, "/api/v1/metrics", bodies, clients,
                                post_deadline_s=max(120.0, requests / 20), durable_timeout_s=max(60.0, requests / 100))
    commands = {name: calls - commands_before.get(name, 0) for name, calls in redis_commands(stack).items()}
    accepted = result.outcome.accepted_requests
    return {
        "single_ingest_requests_per_s": result.rate(accepted, result.accept_s),
        "single_ingest_durable_requests_per_s": result.rate(result.rows, result.durable_s),
        "single_detail": {"requests_sent": requests, "requests_accepted": accepted,
                          "clients": clients, **result.detail(),
                          # every client's: the api's, the workers' (RQ) and the bench's own polling
                          "redis_commands_per_request": _r(sum(commands.values()) / accepted) if accepted else None,
                          "redis_commands": {name: calls for name, calls in sorted(commands.items()) if calls}},
    }


def redis_commands(stack) -> dict[str, int]:
    """Calls per Redis command so far (INFO commandstats), for Redis' work per request."""
    client = stack.connect_redis()
    try:
        return {name.removeprefix("cmdstat_"): int(stats["calls"]) for name, stats in client.info("commandstats").items()}
    finally:
        client.close()


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
