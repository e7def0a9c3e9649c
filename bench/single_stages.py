"""Debug only (branch h-single): where a single-sample POST's wall time goes before its 202.

    PATH=$PWD/.venv/bin:$PATH python bench/single_stages.py [--requests 5000] [--clients 8]

Starts the bench stack with the api under this file as its launcher (`--serve api`), which wraps the
ingest path's stages with timestamps (perf_counter, in the api process; nothing in product code),
drives the bench's single scenario (ingest_load.run_single), then asks the api for its records
(SIGUSR2) and prints the median and p90 of each stage, split by whether a batch was on its way to
Redis when the request reached the batcher. Redis' fdatasync calls are timed with `perf trace`
on the Redis process during the load (when perf is there).
"""

import contextvars
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

RECORD = contextvars.ContextVar("single_stage_record", default=None)
RECORDS: list[dict] = []
THREAD = threading.local()


def now() -> float:
    return time.perf_counter() * 1000


def mark(name: str, record: dict | None = None) -> None:
    record = record if record is not None else RECORD.get()
    if record is not None and name not in record:
        record[name] = now()


# ---- the api side (`--serve api`) ---------------------------------------------------------------

def install() -> None:
    import redis.asyncio.client as async_client
    import redis.client as sync_client

    from microdash_api import app as app_module
    from microdash_api import backpressure, batcher, ingest_pipeline, tenant_limits
    from microdash_api.routes import ingest

    def wrap_async(owner, name, before=None, after=None):
        original = getattr(owner, name)

        async def wrapped(*args, **kwargs):
            if before:
                mark(before)
            result = await original(*args, **kwargs)
            if after:
                mark(after)
            return result
        setattr(owner, name, wrapped)

    original_create = app_module.create_app

    def create_app(*args, **kwargs):
        inner = original_create(*args, **kwargs)

        async def timed(scope, receive, send):
            if scope["type"] != "http" or scope["path"] != "/api/v1/metrics" or scope["method"] != "POST":
                return await inner(scope, receive, send)
            record = {"asgi_in": now()}
            RECORD.set(record)

            async def timed_send(message):
                if message["type"] == "http.response.start":
                    record["response_start"] = now()
                    record["status"] = message["status"]
                await send(message)
            await inner(scope, receive, timed_send)
            RECORDS.append(record)
        return timed
    app_module.create_app = create_app

    wrap_async(ingest, "ingest_caller", after="auth_done")
    wrap_async(ingest, "read_json_bytes", after="body_read")
    wrap_async(ingest_pipeline, "admit", before="admit_in")
    wrap_async(backpressure.Backpressure, "behind", after="backlog_done")
    wrap_async(tenant_limits.TenantLimitsCache, "get", after="limits_done")

    original_submit = batcher.IngestBatcher.submit

    async def submit(self, *args, **kwargs):
        record = RECORD.get()
        if record is not None:
            record["submit_in"] = now()
            record["flush_in_flight"] = getattr(self, "_in_flight", 0)
            record["workers_behind"] = self.workers_behind()
        result = await original_submit(self, *args, **kwargs)
        mark("submit_done")
        return result
    batcher.IngestBatcher.submit = submit

    waiting = batcher.Waiting

    class Waiting(waiting):  # the request's record rides with its place in the batch
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.record = RECORD.get()
    batcher.Waiting = Waiting

    if hasattr(batcher.IngestBatcher, "_enqueue"):
        original_enqueue = batcher.IngestBatcher._enqueue

        async def enqueue(self, tenant_id, requests):
            flush = {"flush_start": now(), "batch_requests": len(requests)}
            token = RECORD.set(flush)
            try:
                await original_enqueue(self, tenant_id, requests)
            finally:
                RECORD.reset(token)
                flush["flush_done"] = now()
                for request in requests:
                    if getattr(request, "record", None) is not None:
                        request.record.update({f"f_{k}": v for k, v in flush.items()})
        batcher.IngestBatcher._enqueue = enqueue
        if hasattr(batcher.IngestBatcher, "_rate_admitted"):
            wrap_async(batcher.IngestBatcher, "_rate_admitted", after="rate_done")

    if hasattr(batcher, "enqueue_batch"):
        original_enqueue_batch = batcher.enqueue_batch
        loop_record = RECORD

        def enqueue_batch(*args, **kwargs):  # in the thread pool: the context is copied in
            mark("thread_in", loop_record.get())
            result = original_enqueue_batch(*args, **kwargs)
            mark("thread_out", loop_record.get())
            return result
        batcher.enqueue_batch = enqueue_batch

    for pipeline_class in (sync_client.Pipeline,):
        original_execute = pipeline_class.execute

        def execute(self, *args, _original=original_execute, **kwargs):
            mark("redis_send")
            result = _original(self, *args, **kwargs)
            mark("redis_reply")
            return result
        pipeline_class.execute = execute

    original_async_execute = async_client.Pipeline.execute

    async def async_execute(self, *args, **kwargs):
        mark("redis_send")
        result = await original_async_execute(self, *args, **kwargs)
        mark("redis_reply")
        return result
    async_client.Pipeline.execute = async_execute

    original_script_call = async_client.Redis.evalsha

    async def evalsha(self, *args, **kwargs):
        mark("evalsha_send")
        result = await original_script_call(self, *args, **kwargs)
        mark("evalsha_reply")
        return result
    async_client.Redis.evalsha = evalsha


def serve(argv: list[str]) -> None:
    output = os.environ["MICRODASH_BENCH_STAGES"]

    def dump(signum, frame):
        with open(output + ".tmp", "w") as file:
            json.dump(RECORDS, file)
        os.replace(output + ".tmp", output)
    signal.signal(signal.SIGUSR2, dump)
    install()
    from microdash_cli.main import app
    sys.argv = ["microdash", *argv]
    app()


# ---- the driver ---------------------------------------------------------------------------------

STAGES = [  # (label, from, to): each request's time between two marks
    ("route: auth (token, tenant)", "asgi_in", "auth_done"),
    ("route: body read", "auth_done", "body_read"),
    ("route: parse + validate to admit", "body_read", "admit_in"),
    ("backlog check", "admit_in", "backlog_done"),
    ("limits + to submit", "backlog_done", "submit_in"),
    ("batcher: wait for its flush to start", "submit_in", "f_flush_start"),
    ("flush: rate check round trip", "f_flush_start", "f_rate_done"),
    ("flush: to the thread pool", "f_rate_done", "f_thread_in"),
    ("flush: RQ job built (thread)", "f_thread_in", "f_redis_send"),
    ("flush: enqueue round trip incl. fsync", "f_redis_send", "f_redis_reply"),
    ("flush: batch + RQ commands built (loop)", "f_flush_start", "f_evalsha_send"),
    ("flush: script round trip incl. fsync", "f_evalsha_send", "f_evalsha_reply"),
    ("flush: back from the thread", "f_thread_out", "f_flush_done"),
    ("flush: whole", "f_flush_start", "f_flush_done"),
    ("wake the request", "f_flush_done", "submit_done"),
    ("202 written", "submit_done", "response_start"),
    ("server total (ASGI in -> 202)", "asgi_in", "response_start"),
]


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return f"{pick(0.5):7.3f} {pick(0.9):7.3f}  n={len(values)}"


def report(records: list[dict]) -> None:
    records = [r for r in records if r.get("status") == 202]
    groups = {"all": records,
              "a flush was in flight": [r for r in records if r.get("flush_in_flight")],
              "none in flight": [r for r in records if not r.get("flush_in_flight")],
              "workers behind (a batch waits for company)": [r for r in records if r.get("workers_behind")],
              "workers not behind": [r for r in records if not r.get("workers_behind")]}
    for name, group in groups.items():
        print(f"\n{name}: {len(group)} requests; ms p50 p90")
        for label, start, stop in STAGES:
            values = [r[stop] - r[start] for r in group if start in r and stop in r]
            if values:
                print(f"  {label:42s} {quantiles(values)}")
    flushes: dict[float, list[float]] = {}
    for r in records:
        if "f_flush_start" in r:
            flushes.setdefault(r["f_flush_start"], []).append(r["submit_in"])
    largest_gaps = [max(b - a for a, b in zip(arrivals, arrivals[1:]))
                    for arrivals in map(sorted, flushes.values()) if len(arrivals) > 1]
    print(f"\nlargest gap between two arrivals at the batcher within one flush: ms p50 p90 {quantiles(largest_gaps)}")
    sizes = [r["f_batch_requests"] for r in records if "f_batch_requests" in r]
    if sizes:
        print(f"\nrequests per flush (as seen by its requests): mean {sum(sizes) / len(sizes):.2f}")


def trace_fsyncs(pid: int, output: Path) -> subprocess.Popen | None:
    if shutil.which("perf") is None:
        return None
    return subprocess.Popen(["perf", "trace", "-p", str(pid), "-e", "fdatasync,fsync", "-o", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fsync_summary(path: Path, seconds: float) -> None:
    import re
    if not path.exists():
        return
    durations = sorted(float(m.group(1)) for m in re.finditer(r"\(\s*([\d.]+) ms\)", path.read_text()))
    if durations:
        n = len(durations)
        print(f"\nRedis fdatasync: {n} calls ({n / seconds:.0f}/s), ms p50 {durations[n // 2]:.3f} "
              f"p90 {durations[n * 9 // 10]:.3f} p99 {durations[n * 99 // 100]:.3f}; "
              f"Redis blocked in fsync {sum(durations) / 1000 / seconds:.0%} of the load's wall time")


def drive(requests: int, clients: int) -> None:
    import ingest_load
    from stack import BenchStack

    root = Path(tempfile.mkdtemp(prefix="microdash-stages-"))
    stages_path = root / "stages.json"

    class StagedStack(BenchStack):
        def _start_component(self, args, name, extra_env=None):
            if name != "api":
                return super()._start_component(args, name, extra_env)
            env = {**os.environ, **self.env, **(extra_env or {}), "MICRODASH_BENCH_STAGES": str(stages_path)}
            log = open(root / "api.log", "ab")
            return subprocess.Popen([sys.executable, __file__, "--serve", *args], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)

    stack = StagedStack(root, 2)
    try:
        stack.start()
        tenant = stack.create_tenant("bench-single")
        ingest_load.run_single(stack, tenant, requests=200, clients=clients)  # warm up
        stack.api.send_signal(signal.SIGUSR2)
        time.sleep(0.5)
        redis_pid = stack.services.processes["redis"].pid
        tracer = trace_fsyncs(redis_pid, root / "fsyncs.txt")
        time.sleep(1.0)
        cpu_before = stack.cpu_seconds()
        started = time.perf_counter()
        result = ingest_load.run_single(stack, tenant, requests=requests, clients=clients)
        wall = time.perf_counter() - started
        cpu = {name: round(seconds - cpu_before.get(name, 0), 2) for name, seconds in stack.cpu_seconds().items()}
        if tracer is not None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(10)
        warm = json.loads(stages_path.read_text())
        stack.api.send_signal(signal.SIGUSR2)
        time.sleep(1.0)
        records = json.loads(stages_path.read_text())[len(warm):]
        detail = result["single_detail"]
        print(f"client p50 / p99 {detail['request_ms_p50']} / {detail['request_ms_p99']} ms, "
              f"{result['single_ingest_requests_per_s']:.0f} req/s, accept {detail['accept_seconds']} s;"
              f" Redis commands a request {detail['redis_commands_per_request']}")
        print(f"CPU s over the run ({wall:.2f} s wall incl. the durable wait): {cpu}")
        report(records)
        fsync_summary(root / "fsyncs.txt", detail["accept_seconds"] or wall)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
        return
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    drive(args.requests, args.clients)


if __name__ == "__main__":
    main()
