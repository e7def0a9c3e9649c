"""Latency scenarios: ingest -> SSE event, and ingest -> visible through /api/v1/query."""

import asyncio
import time

import httpx
import orjson
from httpx_sse import aconnect_sse

from ingest_load import json_headers
from report import latency_summary

PROBE_METRIC = "bench.latency"
QUERY_METRIC = "bench.query"
MAX_IN_FLIGHT = 100
DRAIN_S = 5.0
READY_TIMEOUT_S = 10.0
QUERY_POLL_S = 0.002
QUERY_PROBE_TIMEOUT_S = 5.0
QUERY_TOTAL_TIMEOUT_S = 180.0


# ---- ingest -> SSE --------------------------------------------------------------------------------

def sse_batch(seq: int, base_ts: int, batch_samples: int) -> bytes:
    """batch_samples - 1 load samples plus one probe whose value is its sequence number."""
    ts = base_ts + seq
    load = [{"metric": "bench.sse_load", "labels": {"slot": f"s{slot}"}, "ts": ts, "value": float(slot)}
            for slot in range(batch_samples - 1)]
    return orjson.dumps(load + [{"metric": PROBE_METRIC, "ts": ts, "value": float(seq)}])


class SseProbe:
    """Sends probe-carrying batches at a steady rate and records when each probe comes back."""

    def __init__(self, base_url: str, token: str, *, batches_per_s: int, batch_samples: int,
                 duration_s: float, warmup_s: float):
        self.base_url, self.token = base_url, token
        self.batches_per_s, self.batch_samples = batches_per_s, batch_samples
        self.total_batches = int(duration_s * batches_per_s)
        self.warmup_batches = int(warmup_s * batches_per_s)
        self.sent_at: dict[int, float] = {}
        self.arrived_at: dict[int, float] = {}
        self.rejected = 0
        self.skipped = 0
        self.ready = asyncio.Event()

    async def run(self) -> dict:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(10.0, read=None)) as sse_client:
            receiver = asyncio.create_task(self._receive(sse_client))
            try:
                await asyncio.wait_for(self.ready.wait(), READY_TIMEOUT_S)
                await self._send_all()
                await self._drain()
            finally:
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
        return self._summary()

    async def _receive(self, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aconnect_sse(client, "GET", "/api/v1/stream", params={"metric": PROBE_METRIC},
                                headers=headers) as source:
            async for event in source.aiter_sse():
                now = time.perf_counter()
                if event.event == "ready":
                    self.ready.set()
                elif event.event == "points":
                    for point in orjson.loads(event.data):
                        if point["metric"] == PROBE_METRIC:
                            self.arrived_at.setdefault(int(point["value"]), now)

    async def _send_all(self) -> None:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=10.0) as client:
            tasks: set[asyncio.Task] = set()
            base_ts = int(time.time() * 1000) - 60_000
            start = time.perf_counter()
            for seq in range(self.total_batches):
                await asyncio.sleep(max(0.0, start + seq / self.batches_per_s - time.perf_counter()))
                if len(tasks) >= MAX_IN_FLIGHT:
                    self.skipped += 1
                    continue
                task = asyncio.create_task(self._post(client, seq, sse_batch(seq, base_ts, self.batch_samples)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _post(self, client: httpx.AsyncClient, seq: int, body: bytes) -> None:
        self.sent_at[seq] = time.perf_counter()
        try:
            response = await client.post("/api/v1/metrics/bulk", content=body, headers=json_headers(self.token))
            accepted = response.status_code == 202
        except httpx.TransportError:
            accepted = False
        if not accepted:
            self.rejected += 1
            self.sent_at.pop(seq, None)

    async def _drain(self) -> None:
        deadline = time.perf_counter() + DRAIN_S
        while time.perf_counter() < deadline and not set(self.sent_at) <= set(self.arrived_at):
            await asyncio.sleep(0.05)

    def _summary(self) -> dict:
        measured = [seq for seq in self.sent_at if seq >= self.warmup_batches]
        latencies = [(self.arrived_at[seq] - self.sent_at[seq]) * 1000 for seq in measured if seq in self.arrived_at]
        summary = latency_summary(latencies, sent=len(measured))
        summary.update(rate_samples_per_s=self.batches_per_s * self.batch_samples, batches_per_s=self.batches_per_s,
                       warmup_batches=self.warmup_batches, rejected=self.rejected, skipped=self.skipped)
        return summary


def run_sse_latency(stack, tenant, *, duration_s: float, batches_per_s: int = 20, batch_samples: int = 100,
                    warmup_s: float = 1.0) -> dict:
    probe = SseProbe(stack.base_url, tenant.token, batches_per_s=batches_per_s, batch_samples=batch_samples,
                     duration_s=duration_s + warmup_s, warmup_s=warmup_s)
    return {"ingest_to_sse_ms": asyncio.run(probe.run())}


# ---- ingest -> query ------------------------------------------------------------------------------

async def _probe_query(client: httpx.AsyncClient, token: str, probe: int) -> float | None:
    try:
        return await _probe_query_once(client, token, probe)
    except httpx.TransportError:
        return None


async def _probe_query_once(client: httpx.AsyncClient, token: str, probe: int) -> float | None:
    """POST one sample with a unique label, poll /api/v1/query until it is there; ms or None."""
    ts = int(time.time() * 1000)
    label = f"q{probe}"
    body = orjson.dumps({"metric": QUERY_METRIC, "labels": {"probe": label}, "ts": ts, "value": float(probe)})
    params = {"metric": QUERY_METRIC, "match": f"probe={label}", "start": ts, "end": ts + 1}
    read_headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    response = await client.post("/api/v1/metrics", content=body, headers=json_headers(token))
    if response.status_code != 202:
        return None
    while time.perf_counter() - started < QUERY_PROBE_TIMEOUT_S:
        result = await client.get("/api/v1/query", params=params, headers=read_headers)
        if result.status_code == 200 and any(series["points"] for series in result.json()["series"]):
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(QUERY_POLL_S)
    return None


async def _query_probes(base_url: str, token: str, probes: int, pause_s: float) -> dict:
    latencies: list[float] = []
    attempted = 0
    deadline = time.monotonic() + QUERY_TOTAL_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        while attempted < probes and time.monotonic() < deadline:
            latency = await _probe_query(client, token, attempted)
            attempted += 1
            if latency is not None:
                latencies.append(latency)
            await asyncio.sleep(pause_s)
    return latency_summary(latencies, sent=attempted)


def run_query_latency(stack, tenant, *, probes: int, pause_s: float = 0.01) -> dict:
    return {"ingest_to_query_ms": asyncio.run(_query_probes(stack.base_url, tenant.token, probes, pause_s))}
