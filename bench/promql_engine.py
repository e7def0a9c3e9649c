"""The PromQL engine alone, on series held in memory (no database): what evaluation costs.

    python bench/promql_engine.py [RUNS]

Loads 100 series x 24 h at a 15 s interval (576,000 samples) into an in-memory source and times
range queries over the 24 h at a 60 s step (1,441 steps), RUNS times each (default 20). Prints
p50/p99 wall-clock milliseconds and the p50 of the process's CPU time (steadier when other jobs
share the machine; the load average is printed too). The end-to-end figure through MariaDB and the HTTP API is prom-api's
part of `make bench`; this one shows how much of it is evaluation."""

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from promql_support import InMemorySource, Series  # noqa: E402

from microdash_core.promql import QueryLimits, range_query  # noqa: E402

DAY_MS = 86_400_000
QUERIES = (
    "sum by (host) (rate(x[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(x[5m])))",
    "avg_over_time(x[1h])",
    "topk(5, x)",
    "x / on(host) group_left sum by (host) (x)",
)


def fleet(series: int = 100, interval_ms: int = 15_000) -> InMemorySource:
    stamps = np.arange(0, DAY_MS + 1, interval_ms, dtype=np.int64)
    rng = np.random.default_rng(1)
    out = []
    for i in range(series):
        labels = {"__name__": "x", "host": f"h{i % 10}", "le": str([0.1, 0.5, 1, 5, "+Inf"][i % 5]), "i": str(i)}
        out.append(Series(labels, stamps, np.cumsum(rng.integers(0, 20, len(stamps))).astype(np.float64)))
    return InMemorySource(out)


async def main(runs: int) -> None:
    source = fleet()
    limits = QueryLimits(max_series=10_000, max_points=100_000_000, timeout_seconds=60)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'query (24 h x 100 series, 60 s step)':58} {'p50 ms':>8} {'p99 ms':>8} {'cpu p50':>8}")
    for query in QUERIES:
        timings, cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            await range_query(query, source=source, start_ms=0, end_ms=DAY_MS, step_ms=60_000, limits=limits)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        timings.sort()
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        print(f"{query:58} {statistics.median(timings):8.1f} {p99:8.1f} {statistics.median(cpu):8.1f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
