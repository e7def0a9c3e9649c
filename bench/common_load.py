"""Scenarios `common` and `common_seal`: the platform's common load, many series with one sample
each per scrape, next to `bulk` (whose batches hold 5,000 series too, but 100 rounds of them
arrive within seconds, so every series has many samples by the time the log is compacted).

`common`: COMMON_SERIES series (100,000; 20,000 with --quick), one sample each per round at 10 s
steps, ROUNDS rounds, POSTed to /api/v1/metrics/bulk in batches of 5,000 (one sample of 5,000
series each). Round 0 creates the series and is not counted. The other rounds are posted
AGE_ROUNDS at a time; after each group the store is brought to where it is in steady state
once that group has aged: on a store with the head log (sample_log), the compaction the worker's
job would run once the rows are compact_max_age_seconds old (60 s = 6 rounds at 10 s): every
series' waiting samples into one level-0 part (store.compaction with the settings' policy and age
0, in this process); on a store of one row per sample, nothing (its rows wait for the seal).
Figures: samples per second durable (posting, workers storing, and the compactions), the CPU
seconds of each process for the counted rounds (cpu_seconds.common covers round 0 too), and of
the compactions (this process and MariaDB).

`common_seal`: the tenant's window sealed into canonical chunks (what is left in the log
compacted first), CPU seconds of this process, samples sealed per second.

The module runs against either store: it is copied as is next to main's bench to compare.
"""

import asyncio
import time
from contextlib import closing

import orjson

from microdash_core import chunks, db
from microdash_core.store import sealing
from microdash_core.tenants import directory
from ingest_load import post_all, wait_durable, stored_baseline

try:
    from microdash_core.store import compaction
except ImportError:  # a store of one row per sample: nothing to compact
    compaction = None

TENANT = "bench-common"
BATCH = 5_000
ROUNDS = 13
AGE_ROUNDS = 6
STEP_MS = 10_000


def _bodies(series: int, round_: int, base_ts: int) -> list[tuple[bytes, int]]:
    ts = base_ts + round_ * STEP_MS
    bodies = []
    for start in range(0, series, BATCH):
        batch = [{"metric": "bench.common", "labels": {"host": f"h{i // 100}", "dev": f"d{i % 100}"}, "ts": ts,
                  "value": float((i * 7 + round_) % 1000)} for i in range(start, min(series, start + BATCH))]
        bodies.append((orjson.dumps(batch), len(batch)))
    return bodies


def _post_rounds(stack, tenant, series: int, rounds: range, base_ts: int, expected: int) -> tuple[int, float]:
    """Post the rounds and wait until the tenant holds `expected` samples; (accepted, seconds)."""
    bodies = [body for round_ in rounds for body in _bodies(series, round_, base_ts)]
    already = expected - sum(samples for _body, samples in bodies)
    baseline = stored_baseline(stack) - already  # the workers' counter signals the new samples
    started = time.perf_counter()
    outcome = asyncio.run(post_all(stack.api_port, tenant.token, "/api/v1/metrics/bulk", bodies, 4,
                                   deadline_s=600.0))
    durable_at, rows = wait_durable(stack, tenant.id, expected, baseline=baseline, timeout_s=600.0)
    if durable_at is None:
        raise RuntimeError(f"only {rows} of {expected} samples became durable")
    return outcome.accepted_samples, durable_at - started


def _compact_aged(stack, tenant_id: int) -> dict:
    """What the compaction job does once the group's rows are older than its max age."""
    if compaction is None:
        return {"log_rows": 0, "parts": 0, "samples": 0, "cpu_s": 0.0}
    policy = compaction.policy_of(stack.settings)
    aged = compaction.Policy(min_samples=policy.min_samples, max_age_seconds=0.0,
                             max_log_samples=policy.max_log_samples)
    cpu = time.process_time()
    with closing(db.connect(stack.settings)) as connection:
        done = compaction.compact_due(connection, tenant_ids=[tenant_id], policy=aged)
    return {"log_rows": done.log_rows, "parts": done.parts, "samples": done.samples,
            "cpu_s": time.process_time() - cpu}


def run_common(stack, series: int) -> dict:
    tenant = stack.create_tenant(TENANT)
    base_ts = int(time.time() * 1000) - ROUNDS * STEP_MS - 60_000
    stored, _ = _post_rounds(stack, tenant, series, range(1), base_ts, series)  # creates the series
    cpu_before = stack.cpu_seconds()
    seconds, compacted = 0.0, {"log_rows": 0, "parts": 0, "samples": 0, "cpu_s": 0.0}
    for first in range(1, ROUNDS, AGE_ROUNDS):
        group = range(first, min(ROUNDS, first + AGE_ROUNDS))
        accepted, posted_s = _post_rounds(stack, tenant, series, group, base_ts, stored + series * len(group))
        stored += accepted
        started = time.perf_counter()
        done = _compact_aged(stack, tenant.id)
        seconds += posted_s + time.perf_counter() - started
        compacted = {name: compacted[name] + done[name] for name in compacted}
    counted = series * (ROUNDS - 1)
    cpu_after = stack.cpu_seconds()
    return {
        "common_ingest_samples_per_s": round(counted / seconds) if seconds else None,
        "common_detail": {
            "series": series, "rounds_counted": ROUNDS - 1, "samples_counted": counted, "batch": BATCH,
            "seconds": round(seconds, 2), "compaction_runs": -(-(ROUNDS - 1) // AGE_ROUNDS),
            "compacted_log_rows": compacted["log_rows"], "level0_parts": compacted["parts"],
            "compacted_samples": compacted["samples"], "compactor_cpu_s": round(compacted["cpu_s"], 2),
            "cpu_s_counted_rounds": {name: round(cpu_after.get(name, 0.0) - seconds_, 2)
                                     for name, seconds_ in cpu_before.items()},
        },
    }


def run_common_seal(stack) -> dict:
    with closing(db.connect(stack.settings)) as connection:
        with connection.cursor() as cursor:
            tenant_id = directory.tenant_id_of(cursor, name=TENANT)
            if tenant_id is None:
                raise RuntimeError("scenario common_seal seals the load of scenario common: run it first")
        connection.commit()
        cpu = time.process_time()
        started = time.perf_counter()
        if compaction is not None:
            compaction.compact_due(connection, tenant_ids=[tenant_id])
        sealed = sealing.seal_due(connection, cutoff_ms=int(time.time() * 1000) + 2 * chunks.WINDOW_MS,
                                  tenant_ids=[tenant_id])
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return {"common_seal_samples_per_s": round(sealed.samples / seconds) if seconds else None,
            "common_seal_detail": {"samples_sealed": sealed.samples, "chunk_rows": sealed.chunks,
                                   "seconds": round(seconds, 2), "sealer_cpu_s": round(cpu, 2)}}
