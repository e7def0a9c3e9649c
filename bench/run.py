"""microdash benchmarks (`make bench`): start a private stack, load it, print and save the figures.

    python bench/run.py [--workers N] [--bridges N] [--samples N] [--quick] [--output PATH]
                        [--scenarios bulk,remote_write,line_protocol,single,sse,query] [--profile DIR] [--keep]
                        [--redis-appendfsync always|everysec]

Scenarios, in order, each with its own tenant: bulk ingest until durable in MariaDB (then `seal`
force-seals that load into chunks: bytes on disk per sample and sealing throughput; `common` and
`common_seal` the same for many series with one sample each per scrape; JSON, then
the same load through Prometheus remote-write and as Influx line protocol), one sample per request, ingest -> SSE latency under a steady 2,000 samples/s, ingest -> queryable latency,
MQTT ingest from 1,000 simulated devices × 300 one-sample QoS 1 messages until durable, and the node
rollup throughput and 24 h query latency at 1m/5m, the rollup throughput of a day sealed into chunks, one alert evaluation cycle of 10,000 rules
over 100 tenants, and the node
agent's footprint next to Prometheus node_exporter's (when installed: make bench installs it), and
the dashboard in Debian's Chromium (first chart over 24 h x 20 series, frames while 20 series update
10 times a second, gzipped bundle size; see bench/dashboard.py), and the operator against a real
kube-apiserver (Tenant -> working token, 200 Tenants at once; see bench/operator_load.py), and
the chart on a real single-node cluster (scenario `cluster`, after the stack has stopped: a cold
image build, the node's start from cache, `helm install --wait`, a Tenant's first sample, each pod's
memory at rest; needs root; see bench/cluster.py).
Figures go to stdout as a table and to bench/results/latest.json, with the CPU each process used
per scenario and how busy the machine was (other jobs on it make the figures noisy). Nothing is
asserted: targets are printed next to the figures with PASS/MISS. All traffic stays on 127.0.0.1.

--profile DIR runs the api and the workers under cProfile (bench/profiled.py) and writes one
pstats file and a text summary per process; profiling slows them down, so compare shares of
time, not the figures. bench/profile_storage.py profiles the worker's storage path alone.
"""

import argparse
import datetime as dt
import os
import pstats
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

import alert_eval_load
import cluster
import common_load
import dashboard
import ingest_load
import latency
import mqtt_load
import operator_load
import promql_query
import rollup_query
import seal_disk
from agent_footprint import measure_agent_footprint
import report
from stack import BenchStack

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCENARIOS = ("bulk", "seal", "common", "common_seal", "bulk_limited", "remote_write", "line_protocol", "single", "sse",
             "query", "mqtt", "rollup", "rollup_sealed", "promql", "alerts", "alerts_promql", "agent", "dashboard", "operator", "cluster")
# Scenarios that need no BenchStack: they run after it has stopped.
STACKLESS_SCENARIOS = ("cluster",)
SETTLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Sizes:
    bulk_samples: int
    common_series: int = 100_000
    bulk_batch: int = 5_000
    bulk_clients: int = 4
    single_requests: int = 5_000
    single_clients: int = 8
    sse_seconds: float = 15.0
    query_probes: int = 200
    mqtt_devices: int = 1_000
    # 300, not 60: the fleet's connect (~0.2 s) and the last flush's tail were an eighth of a 60-message
    # run; the headline still includes them, mqtt_detail has the figure after the connect too.
    mqtt_messages_per_device: int = 300
    agent_seconds: float = 30.0
    rollup_samples: int = 1_000_000
    alert_tenants: int = 100
    alert_rules_per_tenant: int = 100
    dashboard_loads: int = 5
    dashboard_live_seconds: float = 10.0
    operator_tenants_one_by_one: int = 20
    operator_tenants_at_once: int = 200


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="`microdash worker` processes (default 2)")
    parser.add_argument("--bridges", type=int, default=1,
                        help="`microdash bridge` processes (default 1; more share one subscription)")
    parser.add_argument("--samples", type=int, default=None, help="bulk ingest samples (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json", help="results JSON path")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default all)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run api and workers under cProfile; pstats files and a summary go to DIR")
    parser.add_argument("--redis-appendfsync", choices=("always", "everysec"), default="always",
                        help="Redis AOF fsync: always (an ack means on disk, the default) or everysec")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stack directory (logs, data)")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.workers < 1 or args.bridges < 1:
        parser.error("--workers and --bridges must be at least 1")
    return args


def sizes_for(args: argparse.Namespace) -> Sizes:
    if args.quick:
        return Sizes(bulk_samples=args.samples or 50_000, single_requests=300, sse_seconds=4.0, query_probes=30,
                     mqtt_devices=100, mqtt_messages_per_device=20, agent_seconds=8.0,
                     rollup_samples=50_000, alert_tenants=10, common_series=20_000,
                     dashboard_loads=2, dashboard_live_seconds=4.0,
                     operator_tenants_one_by_one=5, operator_tenants_at_once=20)
    return Sizes(bulk_samples=args.samples or 1_000_000)


_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def wait_settled(stack: BenchStack, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Between scenarios: wait (bounded) until the ingest queue is empty and no job is running."""
    client = stack.connect_redis()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if client.llen("rq:queue:ingest") == 0 and client.zcard("rq:wip:ingest") == 0:
                break
            time.sleep(0.1)
    finally:
        client.close()
    time.sleep(1.0)


def redis_state(stack: BenchStack) -> dict:
    """Failed ingest jobs and Redis memory (the live streams keep whole batches, see MAXLEN)."""
    client = stack.connect_redis()
    try:
        memory = client.info("memory")
        return {"rq_failed_jobs": int(client.zcard("rq:failed:ingest")),
                "redis_peak_memory_mb": round(memory["used_memory_peak"] / 2**20, 1),
                "redis_memory_mb_at_end": round(memory["used_memory"] / 2**20, 1)}
    finally:
        client.close()


def run_scenario(stack: BenchStack, name: str, results: dict, action) -> None:
    """Run one scenario; record its figures, or its error, and the CPU each process spent on it."""
    say(f"{name} ...")
    started, cpu_before, machine_before = time.monotonic(), stack.cpu_seconds(), report.machine_cpu_ticks()
    try:
        results.update(action())
    except Exception as exc:  # noqa: BLE001 - one failed scenario must not hide the others' figures
        traceback.print_exc()
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
    wall = time.monotonic() - started
    spent = {proc: round(seconds - cpu_before.get(proc, 0.0), 2) for proc, seconds in stack.cpu_seconds().items()}
    results.setdefault("cpu_seconds", {})[name] = {"wall": round(wall, 2), **spent}
    results.setdefault("machine_cpu_pct", {})[name] = report.machine_cpu_share(
        machine_before, report.machine_cpu_ticks(), sum(spent.values()))
    say(f"{name} done in {wall:.1f} s ({results['machine_cpu_pct'][name]})")


def run_all(stack: BenchStack, sizes: Sizes, chosen: list[str], results: dict) -> None:
    actions = {
        "bulk": lambda: ingest_load.run_bulk(stack, stack.create_tenant("bench-bulk"), samples=sizes.bulk_samples,
                                             batch_size=sizes.bulk_batch, clients=sizes.bulk_clients),
        # The bulk load sealed into chunks: bytes on disk per sample and sealing throughput.
        "seal": lambda: seal_disk.run_seal(stack),
        # The common load: many series, one sample each per scrape (bench/common_load.py).
        "common": lambda: common_load.run_common(stack, sizes.common_series),
        "common_seal": lambda: common_load.run_common_seal(stack),
        # The same load for a tenant with a series limit: what enforcing it costs.
        "bulk_limited": lambda: ingest_load.run_bulk(
            stack, stack.create_tenant("bench-bulk-limited", max_series=10 * ingest_load.SERIES),
            samples=sizes.bulk_samples, batch_size=sizes.bulk_batch, clients=sizes.bulk_clients, name="bulk_limited"),
        # The same load again through Prometheus remote-write (protobuf + snappy).
        "remote_write": lambda: ingest_load.run_remote_write(
            stack, stack.create_tenant("bench-remote-write"), samples=sizes.bulk_samples,
            batch_size=sizes.bulk_batch, clients=sizes.bulk_clients),
        # The same load again as Influx line protocol (one field per line, so one sample per line).
        "line_protocol": lambda: ingest_load.run_line_protocol(
            stack, stack.create_tenant("bench-line-protocol"), samples=sizes.bulk_samples,
            batch_size=sizes.bulk_batch, clients=sizes.bulk_clients),
        "single": lambda: ingest_load.run_single(stack, stack.create_tenant("bench-single"),
                                                 requests=sizes.single_requests, clients=sizes.single_clients),
        "sse": lambda: latency.run_sse_latency(stack, stack.create_tenant("bench-sse"), duration_s=sizes.sse_seconds),
        "query": lambda: latency.run_query_latency(stack, stack.create_tenant("bench-query"),
                                                   probes=sizes.query_probes),
        "mqtt": lambda: mqtt_load.run_mqtt(stack, devices=sizes.mqtt_devices,
                                           messages_per_device=sizes.mqtt_messages_per_device),
        "rollup": lambda: rollup_query.run_rollup_and_queries(stack, stack.create_tenant("bench-rollup"),
                                                              samples=sizes.rollup_samples, probes=sizes.query_probes // 4,
                                                              percentile=report.percentile),
        "rollup_sealed": lambda: rollup_query.run_rollup_sealed(stack, stack.create_tenant("bench-rollup-sealed"),
                                                                samples=sizes.rollup_samples),
        "promql": lambda: promql_query.run_promql(stack, stack.create_tenant("bench-promql"),
                                                  stack.create_tenant("bench-promql-catalog"),
                                                  samples=sizes.rollup_samples, probes=sizes.query_probes // 4,
                                                  percentile=report.percentile),
        "alerts": lambda: alert_eval_load.run_alert_eval(stack, tenants=sizes.alert_tenants,
                                                         rules_per_tenant=sizes.alert_rules_per_tenant),
        # The same rules written in PromQL: one instant query per rule instead of one SQL per kind.
        "alerts_promql": lambda: alert_eval_load.run_alert_eval(stack, tenants=sizes.alert_tenants,
                                                                rules_per_tenant=sizes.alert_rules_per_tenant,
                                                                promql=True),
        "agent": lambda: {"agent_footprint": measure_agent_footprint(duration_s=sizes.agent_seconds)},
        "dashboard": lambda: dashboard.run_dashboard(stack, stack.create_tenant("bench-dashboard"),
                                                     loads=sizes.dashboard_loads,
                                                     live_seconds=sizes.dashboard_live_seconds,
                                                     percentile=report.percentile),
        "operator": lambda: operator_load.run_operator_load(stack, tenants_one_by_one=sizes.operator_tenants_one_by_one,
                                                            tenants_at_once=sizes.operator_tenants_at_once,
                                                            percentile=report.percentile),
    }
    for name in SCENARIOS:
        if name in chosen and name in actions:
            run_scenario(stack, name, results, actions[name])
            wait_settled(stack)
    results.update(redis_state(stack))
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    rss = stack.peak_rss_mb()
    results["api_peak_rss_mb"] = rss["api"]
    workers = [value for value in rss["workers"] if value is not None]
    results["worker_peak_rss_mb"] = max(workers) if workers else None
    results["worker_peak_rss_mb_each"] = rss["workers"]
    results["bridge_peak_rss_mb"] = rss["bridge"]


def run_stackless(chosen: list[str], quick: bool, results: dict) -> None:
    """The scenarios with a world of their own (a Kubernetes node); --quick skips the cold image build."""
    if "cluster" not in chosen:
        return
    say("cluster ...")
    started, machine_before = time.monotonic(), report.machine_cpu_ticks()
    try:
        results.update(cluster.run_cluster(cold_build=not quick, say=say))
    except Exception as exc:  # noqa: BLE001 - the other scenarios' figures are still written
        traceback.print_exc()
        results.setdefault("errors", {})["cluster"] = f"{type(exc).__name__}: {exc}"
    wall = time.monotonic() - started
    results.setdefault("cpu_seconds", {})["cluster"] = {"wall": round(wall, 2)}
    results.setdefault("machine_cpu_pct", {})["cluster"] = report.machine_cpu_share(
        machine_before, report.machine_cpu_ticks(), 0.0)
    say(f"cluster done in {wall:.1f} s")


def summarise_profiles(directory: Path, top: int = 30) -> None:
    for path in sorted(directory.glob("*.pstats")):
        summary = directory / (path.stem + ".txt")
        with open(summary, "w") as out:
            stats = pstats.Stats(str(path), stream=out).strip_dirs()
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)
        say(f"profile of {path.stem}: {summary}")


def cleanup(root: Path, *, keep: bool, failed: bool) -> None:
    """Remove the stack directory; after a failure keep its logs (not the data) for a post-mortem."""
    if keep:
        say(f"stack directory kept: {root}")
    elif failed:
        for data_dir in ("mariadb", "redis"):
            shutil.rmtree(root / data_dir, ignore_errors=True)
        say(f"logs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


def results_header(args: argparse.Namespace, sizes: Sizes, chosen: list[str]) -> dict:
    return {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {"workers": args.workers, "bridges": args.bridges, "quick": args.quick, "scenarios": chosen,
                   "profiled": bool(args.profile), "redis_appendfsync": args.redis_appendfsync, **asdict(sizes)},
        "machine": report.machine_info(),
    }


def run_with_stack(stack: BenchStack, args: argparse.Namespace, sizes: Sizes, chosen: list[str],
                   results: dict) -> None:
    """Start the stack, run the scenarios, and always tear everything down."""
    failed = True
    try:
        say(f"starting the stack in {stack.root}")
        stack.start()
        say("stack ready")
        results["machine"]["versions"] = stack.server_versions()
        run_all(stack, sizes, chosen, results)
        failed = False
    except BaseException:
        print(stack.log_tails(), file=sys.stderr)
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the teardown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if args.profile:
            say("collecting profiles")
            stack.dump_profiles()
        say("stopping the stack (this takes a few seconds)")
        results["teardown_notes"] = stack.stop()
        for note in results["teardown_notes"]:
            say(note)
        say("stack stopped")
        cleanup(stack.root, keep=args.keep, failed=failed)


def print_results(results: dict, output: Path) -> None:
    print(report.format_table(results))
    print(report.format_context(results))
    if results.get("errors"):
        print(f"errors: {results['errors']}")
    print(f"results written to {output}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_for(args)
    chosen = args.scenarios.split(",")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)  # even when started with SIGINT ignored (e.g. `cmd &`)
    if args.profile:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    stack = BenchStack(Path(tempfile.mkdtemp(prefix="microdash-bench-")), args.workers, profile_dir=args.profile,
                       bridge_count=args.bridges, redis_appendfsync=args.redis_appendfsync)
    results = results_header(args, sizes, chosen)
    if set(chosen) - set(STACKLESS_SCENARIOS):
        run_with_stack(stack, args, sizes, chosen, results)
    else:
        shutil.rmtree(stack.root, ignore_errors=True)
    run_stackless(chosen, args.quick, results)
    results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report.write_json(results, args.output)
    print_results(results, args.output)
    if args.profile:
        summarise_profiles(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
