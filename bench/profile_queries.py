"""Where a 24 h native query's time goes: `python bench/profile_queries.py [--probes N] [--keep-profiles DIR]`.

The rollup scenario's day (1,000,000 samples, 100 series, rolled up) on a bench stack, then each of
its /api/v1/query cases (1 series at 1m, 100 series at 5m, 1 series raw in the head and sealed):
- over HTTP to the stack's api process, as the bench times it (wall ms, p50);
- in this process through the ASGI app (no HTTP server, no client): wall and CPU ms per query,
  and a cProfile of the CPU (time.process_time) sorted by own time;
- each SQL statement the query runs, alone on a PyMySQL connection (wall ms, p50): MariaDB's share.
Comparable between branches on a shared machine mostly by the CPU figures.
"""

import argparse
import asyncio
import cProfile
import io
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx

from microdash_api.app import create_app
from microdash_core.store import compaction, reads, sealing

import rollup_query
from stack import BenchStack

DAY_MS = 86_400_000


def _cases(day: dict) -> dict[str, dict]:
    return {"1m_1_series": {**day, "match": "series=s0", "step": 60_000, "resolution": "1m"},
            "5m_100_series": {**day, "step": 300_000, "resolution": "5m"},
            "raw_1_series": {**day, "match": "series=s0", "step": 10_000, "resolution": "raw"}}


def _http_p50(stack, token: str, params: dict, probes: int) -> float:
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        latencies = []
        for _ in range(probes):
            started = time.perf_counter()
            client.get("/api/v1/query", params=params).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(latencies), 2)


async def _in_process(stack, token: str, params: dict, probes: int, profile_to: Path | None) -> dict:
    app = create_app(stack.settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            for _ in range(5):
                (await client.get("/api/v1/query", params=params)).raise_for_status()
            walls, cpus = [], []
            for _ in range(probes):
                wall, cpu = time.perf_counter(), time.process_time()
                (await client.get("/api/v1/query", params=params)).raise_for_status()
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(probes):
                (await client.get("/api/v1/query", params=params)).raise_for_status()
            profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    if profile_to is not None:
        stats.dump_stats(str(profile_to))
    return {"wall_p50": round(statistics.median(walls), 2), "cpu_p50": round(statistics.median(cpus), 2),
            "profile": out.getvalue()}


def _sql_p50(connection, sql: str, params: list, probes: int) -> float:
    times = []
    with connection.cursor() as cursor:
        for _ in range(probes):
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def _statements(tenant_id: int, series_ids: list[int], params: dict) -> dict[str, tuple[str, list]]:
    """The statements the query runs on main (the series lookup is timed with the whole query)."""
    start, end = params["start"], params["end"]
    if params["resolution"] == "raw":
        span = reads.Span.half_open(start, end)
        selection = {"tenant_id": tenant_id, "series_ids": series_ids, "span": span}
        return {"count": reads.count_statement(**selection),
                "read_texts": reads.statements(**selection, shape="texts"),
                "read_series_texts": reads.statements(**selection, shape="series_texts"),
                "read_rows": reads.statements(**selection, shape="rows")}
    table = rollup_query_table(params["resolution"])
    where = (f"tenant_id = %s AND series_id IN ({','.join(['%s'] * len(series_ids))})"
             " AND bucket_ts >= %s AND bucket_ts < %s")
    args = [tenant_id, *series_ids, start, end]
    return {"rows_as_texts": (f"SET STATEMENT group_concat_max_len=16777216 FOR SELECT series_id, COUNT(*),"
                              f" GROUP_CONCAT(bucket_ts), GROUP_CONCAT(value_sum), GROUP_CONCAT(sample_count)"
                              f" FROM {table} WHERE {where} GROUP BY series_id", args),
            "plain_rows": (f"SELECT series_id, bucket_ts, value_sum, sample_count FROM {table} WHERE {where}", args)}


def rollup_query_table(resolution: str) -> str:
    return {"1m": "samples_1m", "5m": "samples_5m"}[resolution]


def _series_ids(connection, tenant_id: int, match: str | None) -> list[int]:
    with connection.cursor() as cursor:
        if match is None:
            cursor.execute("SELECT id FROM series WHERE tenant_id = %s ORDER BY id", (tenant_id,))
        else:
            name, _, value = match.partition("=")
            cursor.execute("SELECT id FROM series WHERE tenant_id = %s AND JSON_VALUE(labels, %s) = %s",
                           (tenant_id, f'$."{name}"', value))
        return [row[0] for row in cursor.fetchall()]


def _measure(stack, tenant, name: str, params: dict, probes: int, profile_dir: Path | None) -> None:
    http = _http_p50(stack, tenant.token, params, probes)
    local = asyncio.run(_in_process(stack, tenant.token, params, probes,
                                    profile_dir / f"{name}.pstats" if profile_dir else None))
    with closing(stack.connect_db()) as connection:
        ids = _series_ids(connection, tenant.id, params.get("match"))
        sql = {label: _sql_p50(connection, statement, args, probes)
               for label, (statement, args) in _statements(tenant.id, ids, params).items()}
    print(f"== {name}: http p50 {http} ms; in process wall p50 {local['wall_p50']} ms, cpu p50 {local['cpu_p50']} ms;"
          f" SQL alone p50 {sql}", flush=True)
    print(local["profile"], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--keep-profiles", type=Path, default=None, metavar="DIR")
    parser.add_argument("--only-sealed-raw", action="store_true",
                        help="profile only the raw 1-series query after the day is sealed")
    args = parser.parse_args()
    if args.keep_profiles:
        args.keep_profiles.mkdir(parents=True, exist_ok=True)
    stack = BenchStack(Path(tempfile.mkdtemp(prefix="microdash-profile-queries-")), 1)
    stack.start()
    try:
        tenant = stack.create_tenant("profile-queries")
        end_ms = (int(time.time() * 1000) // 300_000) * 300_000 - 300_000
        rollup_query.fill_day(stack, tenant, 1_000_000, end_ms, rollup_query._rollup_samples)
        rollup_query._time_rollups(stack, now_ms=end_ms + 120_000)
        cases = _cases({"metric": "bench.rollup", "start": end_ms - DAY_MS, "end": end_ms})
        for name, params in ({} if args.only_sealed_raw else cases).items():
            _measure(stack, tenant, name + ("_head" if name.startswith("raw") else ""), params, args.probes,
                     args.keep_profiles)
        with closing(stack.connect_db()) as connection:
            # with the head log, sealing alone leaves the day in the log: compacted out of it first
            compaction.compact_due(connection, tenant_ids=[tenant.id])
            sealing.seal_due(connection, cutoff_ms=end_ms, tenant_ids=[tenant.id])
        _measure(stack, tenant, "raw_1_series_sealed", cases["raw_1_series"], args.probes, args.keep_profiles)
    finally:
        stack.stop()
        shutil.rmtree(stack.root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
