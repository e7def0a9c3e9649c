"""Raw reads from the head against the same reads from sealed chunks (issue 13), end to end.

`python bench/raw_reads.py` starts its own stack, stores a day of 100 counters (1,000,000 samples,
untimed, as bench/promql_query.py does), and times a raw PromQL range query over all of it
(`sum by (host) (rate(bench_requests_total[5m]))`, 24 h at a 30 s step: every raw sample is read)
with everything in the head, then again once everything is sealed into chunks. Besides the wall
time it gives the CPU seconds the api and MariaDB spent per query, since the machine is shared and
wall times alone are noisy. Sealing uses the tests' sealer (tests/store_support.py) until the
real one lands; its time is not a figure of the real sealer.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

from promql_query import BASE, HOSTS, QUERY, _counter_samples
from rollup_query import DAY_MS, fill_day
from stack import BenchStack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from store_support import seal_head  # noqa: E402

PROCESSES = ("api", "mariadb")


def _probe(stack: BenchStack, token: str, params: dict, probes: int) -> dict:
    walls, cpu = [], {name: 0.0 for name in PROCESSES}
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
        for _ in range(probes):
            before = stack.cpu_seconds()
            started = time.perf_counter()
            response = client.post(BASE + "/query_range", data=params)
            walls.append(time.perf_counter() - started)
            after = stack.cpu_seconds()
            response.raise_for_status()
            assert len(response.json()["data"]["result"]) == HOSTS
            for name in PROCESSES:
                cpu[name] += after.get(name, 0.0) - before.get(name, 0.0)
    walls.sort()
    return {"wall_ms_median": round(walls[len(walls) // 2] * 1000, 1), "wall_ms_min": round(walls[0] * 1000, 1),
            **{f"{name}_cpu_s_per_query": round(cpu[name] / probes, 3) for name in PROCESSES}, "probes": probes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="microdash-bench-raw-") as root:
        stack = BenchStack(Path(root), worker_count=1)
        try:
            stack.start()
            tenant = stack.create_tenant("bench-raw-reads")
            end_ms = (int(time.time() * 1000) // 300_000) * 300_000 - 300_000
            stored = fill_day(stack, tenant, args.samples, end_ms, _counter_samples)
            params = {"query": QUERY, "start": str((end_ms - DAY_MS) / 1000), "end": str(end_ms / 1000), "step": "30"}
            results = {"samples": stored, "query": QUERY, "step_s": 30,
                       "head": _probe(stack, tenant.token, params, args.probes)}
            started = time.perf_counter()
            seal_head(stack.settings, tenant.id, before_ms=end_ms + 1)
            results["test_sealer_seconds"] = round(time.perf_counter() - started, 1)
            results["sealed_samples"] = chunk_samples_of(stack, tenant.id)
            results["chunks"] = _probe(stack, tenant.token, params, args.probes)
        finally:
            stack.stop()
    print(json.dumps(results, indent=2))


def chunk_samples_of(stack: BenchStack, tenant_id: int) -> int:
    connection = stack.connect_db()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s", (tenant_id,))
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


if __name__ == "__main__":
    main()
