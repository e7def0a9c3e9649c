"""microdash benchmarks (`make bench`): start a private stack, load it, print and save the figures.

    python bench/run.py [--workers N] [--samples N] [--quick] [--output PATH] [--profile DIR]

Figures go to stdout as a table and to bench/results/latest.json. Nothing is asserted: targets
are printed next to the figures with PASS/MISS. All traffic stays on 127.0.0.1.
"""

import argparse
import datetime as dt
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

import ingest_load
import latency
import report
from stack import BenchStack

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCENARIOS = ("bulk", "single", "sse", "query")
SETTLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Sizes:
    bulk_samples: int
    bulk_batch: int = 5_000
    bulk_clients: int = 4
    single_requests: int = 5_000
    single_clients: int = 8
    sse_seconds: float = 15.0
    query_probes: int = 200


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="`microdash worker` processes (default 2)")
    parser.add_argument("--samples", type=int, default=None, help="bulk ingest samples (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json", help="results JSON path")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default all)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run api and workers under cProfile; pstats files and a summary go to DIR")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stack directory (logs, data)")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def sizes_for(args: argparse.Namespace) -> Sizes:
    if args.quick:
        return Sizes(bulk_samples=args.samples or 50_000, single_requests=300, sse_seconds=4.0, query_probes=30)
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


def failed_jobs(stack: BenchStack) -> int:
    client = stack.connect_redis()
    try:
        return int(client.zcard("rq:failed:ingest"))
    finally:
        client.close()


def run_scenario(name: str, results: dict, action) -> None:
    say(f"{name} ...")
    started = time.monotonic()
    try:
        results.update(action())
    except Exception as exc:  # noqa: BLE001 - one failed scenario must not hide the others' figures
        traceback.print_exc()
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
    say(f"{name} done in {time.monotonic() - started:.1f} s")


def run_all(stack: BenchStack, sizes: Sizes, chosen: list[str], results: dict) -> None:
    actions = {
        "bulk": lambda: ingest_load.run_bulk(stack, stack.create_tenant("bench-bulk"), samples=sizes.bulk_samples,
                                             batch_size=sizes.bulk_batch, clients=sizes.bulk_clients),
        "single": lambda: ingest_load.run_single(stack, stack.create_tenant("bench-single"),
                                                 requests=sizes.single_requests, clients=sizes.single_clients),
        "sse": lambda: latency.run_sse_latency(stack, stack.create_tenant("bench-sse"), duration_s=sizes.sse_seconds),
        "query": lambda: latency.run_query_latency(stack, stack.create_tenant("bench-query"),
                                                   probes=sizes.query_probes),
    }
    for name in SCENARIOS:
        if name in chosen:
            run_scenario(name, results, actions[name])
            wait_settled(stack)
    results["rq_failed_jobs"] = failed_jobs(stack)
    rss = stack.peak_rss_mb()
    results["api_peak_rss_mb"] = rss["api"]
    workers = [value for value in rss["workers"] if value is not None]
    results["worker_peak_rss_mb"] = max(workers) if workers else None
    results["worker_peak_rss_mb_each"] = rss["workers"]


def summarise_profiles(directory: Path, top: int = 30) -> None:
    for path in sorted(directory.glob("*.pstats")):
        summary = directory / (path.stem + ".txt")
        with open(summary, "w") as out:
            stats = pstats.Stats(str(path), stream=out).strip_dirs()
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)
        say(f"profile of {path.stem}: {summary}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_for(args)
    chosen = args.scenarios.split(",")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    root = Path(tempfile.mkdtemp(prefix="microdash-bench-"))
    if args.profile:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    stack = BenchStack(root, args.workers, profile_dir=args.profile)
    results: dict = {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {"workers": args.workers, "quick": args.quick, "scenarios": chosen,
                   "profiled": bool(args.profile), "bulk_samples": sizes.bulk_samples, **asdict(sizes)},
        "machine": report.machine_info(),
    }
    failed = True
    try:
        say(f"starting the stack in {root}")
        stack.start()
        say("stack ready")
        results["machine"]["versions"] = stack.server_versions()
        run_all(stack, sizes, chosen, results)
        failed = False
    except BaseException:
        print(stack.log_tails(), file=sys.stderr)
        raise
    finally:
        if args.profile:
            say("collecting profiles")
            stack.dump_profiles()
        say("stopping the stack")
        notes = stack.stop()
        for note in notes:
            say(note)
        results["teardown_notes"] = notes
        say("stack stopped")
        if args.keep or failed:
            say(f"stack directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report.write_json(results, args.output)
    print(report.format_table(results))
    print(report.format_context(results))
    if results.get("errors"):
        print(f"errors: {results['errors']}")
    print(f"results written to {args.output}")
    if args.profile:
        summarise_profiles(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
