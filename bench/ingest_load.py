"""Throughput scenarios: bulk ingest until durable, and one-sample-per-request ingest."""

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import orjson
import redis

from report import percentile

SERIES = 10_000
MAX_ATTEMPTS = 5
RETRY_PAUSE_S = 0.2
POLL_FAST_S = 0.02
POLL_COUNT_S = 0.25
TELEMETRY_KEY = "microdash:telemetry:counters"


def json_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@dataclass
class PostOutcome:
    """What a set of POSTs achieved, timed on the benchmark's perf_counter clock."""

    accepted_requests: int = 0
    accepted_samples: int = 0
    failed_requests: int = 0
    last_accept: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    durations_ms: list[float] = field(default_factory=list)

    def record(self, status: int, samples: int, started: float) -> None:
        now = time.perf_counter()
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 202:
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


def single_bodies(total: int, clients: int, *, base_ts: int) -> list[bytes]:
    """One sample per body; client c owns series {client: c}, each at a distinct ts."""
    return [orjson.dumps({"metric": "bench.single", "labels": {"client": f"c{n % clients}"},
                          "ts": base_ts + n // clients, "value": float(n)}) for n in range(total)]


# ---- posting ------------------------------------------------------------------------------------

async def post_with_retry(client: httpx.AsyncClient, path: str, body: bytes, headers: dict) -> tuple[int, float]:
    """POST, retrying 429/503 and transport errors a bounded number of times. Returns (status, start)."""
    status = 0
    for attempt in range(MAX_ATTEMPTS):
        started = time.perf_counter()
        try:
            response = await client.post(path, content=body, headers=headers)
            status = response.status_code
        except httpx.TransportError:
            status = 0
        if status not in (0, 429, 503):
            return status, started
        await asyncio.sleep(RETRY_PAUSE_S * (attempt + 1))
    return status, started


async def post_all(base_url: str, token: str, path: str, bodies: list[tuple[bytes, int]],
                   concurrency: int) -> PostOutcome:
    outcome = PostOutcome()
    headers = json_headers(token)
    pending = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        for body, samples in pending:  # the shared iterator hands each body to exactly one loop
            status, started = await post_with_retry(client, path, body, headers)
            outcome.record(status, samples, started)
            if status != 202:
                outcome.failed_requests += 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
    return outcome


# ---- durability ---------------------------------------------------------------------------------

def stored_counter(redis_client: redis.Redis) -> int:
    return int(redis_client.hget(TELEMETRY_KEY, "samples_stored") or 0)


def count_rows(connection, tenant_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM samples WHERE tenant_id = %s", (tenant_id,))
        return int(cursor.fetchone()[0])


def wait_durable(stack, tenant_id: int, expected: int, *, baseline: int, timeout_s: float) -> tuple[float | None, int]:
    """Time (perf_counter) at which `expected` rows of the tenant were in MariaDB, and the final count.

    The workers' Redis counter of stored samples is polled every 20 ms as a cheap signal; the
    row count in MariaDB is what decides (polled every 250 ms if the signal was early).
    """
    deadline = time.monotonic() + timeout_s
    redis_client = stack.connect_redis()
    connection = stack.connect_db()
    try:
        signalled = None
        while signalled is None and time.monotonic() < deadline:
            if stored_counter(redis_client) - baseline >= expected:
                signalled = time.perf_counter()
            else:
                time.sleep(POLL_FAST_S)
        count = count_rows(connection, tenant_id)
        if count >= expected and signalled is not None:
            return signalled, count
        while time.monotonic() < deadline:
            time.sleep(POLL_COUNT_S)
            count = count_rows(connection, tenant_id)
            if count >= expected:
                return time.perf_counter(), count
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

def run_bulk(stack, tenant, *, samples: int, batch_size: int, clients: int) -> dict:
    base_ts = int(time.time() * 1000) - 300_000
    bodies = bulk_bodies(samples, batch_size, base_ts=base_ts)
    baseline = stored_baseline(stack)
    started = time.perf_counter()
    outcome = asyncio.run(post_all(stack.base_url, tenant.token, "/api/v1/metrics/bulk", bodies, clients))
    durable_at, count = wait_durable(stack, tenant.id, outcome.accepted_samples, baseline=baseline,
                                     timeout_s=max(60.0, samples / 5_000))
    accept_s = outcome.last_accept - started if outcome.accepted_requests else None
    durable_s = durable_at - started if durable_at is not None else None
    return {
        "bulk_ingest_samples_per_s": round(count / durable_s) if durable_s else None,
        "bulk_accept_samples_per_s": round(outcome.accepted_samples / accept_s) if accept_s else None,
        "bulk_detail": {
            "samples_sent": samples, "samples_accepted": outcome.accepted_samples, "rows_in_mariadb": count,
            "batch_size": batch_size, "clients": clients, "series": min(SERIES, samples),
            "accept_seconds": _r(accept_s), "durable_seconds": _r(durable_s),
            "request_ms_p50": _r(percentile(outcome.durations_ms, 0.5)),
            "request_ms_p99": _r(percentile(outcome.durations_ms, 0.99)),
            "statuses": outcome.statuses,
        },
    }


def run_single(stack, tenant, *, requests: int, clients: int) -> dict:
    base_ts = int(time.time() * 1000) - 300_000
    bodies = [(body, 1) for body in single_bodies(requests, clients, base_ts=base_ts)]
    baseline = stored_baseline(stack)
    started = time.perf_counter()
    outcome = asyncio.run(post_all(stack.base_url, tenant.token, "/api/v1/metrics", bodies, clients))
    durable_at, count = wait_durable(stack, tenant.id, outcome.accepted_samples, baseline=baseline,
                                     timeout_s=max(60.0, requests / 100))
    accept_s = outcome.last_accept - started if outcome.accepted_requests else None
    durable_s = durable_at - started if durable_at is not None else None
    return {
        "single_ingest_requests_per_s": round(outcome.accepted_requests / accept_s) if accept_s else None,
        "single_ingest_durable_requests_per_s": round(count / durable_s) if durable_s else None,
        "single_detail": {
            "requests_sent": requests, "requests_accepted": outcome.accepted_requests, "rows_in_mariadb": count,
            "clients": clients, "accept_seconds": _r(accept_s), "durable_seconds": _r(durable_s),
            "request_ms_p50": _r(percentile(outcome.durations_ms, 0.5)),
            "request_ms_p99": _r(percentile(outcome.durations_ms, 0.99)),
            "statuses": outcome.statuses,
        },
    }


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
