"""Where the rollup job's time goes: a day of raw samples (as the `rollup` scenario stores it), then
the job, with the wall and MariaDB CPU seconds of each kind of statement, and optionally cProfile.

Starts a throwaway MariaDB + Redis, migrates, creates a tenant, fills the day straight through the
worker's store, with --sealed seals it into chunks (microdash_core.store.sealing, as the sealing
job would once the windows are over), then runs the rollup job until nothing is left. Statement
kinds: the raw reads (chunks plus head), the 1m INSERTs, the 5m INSERT ... SELECT, the rest (the
series list, retention lookups). "python" is the job's time outside MariaDB statements. The job
reads one step ahead on a second connection, so statements overlap and their figures add up to
more than the whole; --sequential runs the same rounds without the read-ahead (use it with
--profile: cProfile sees only the main thread).

    python bench/profile_rollups.py [--samples 1000000] [--sealed] [--sequential] [--profile] [--top 25]
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from contextlib import closing

import pymysql
import redis

import rollup_query
from throwaway import throwaway_services
from microdash_core import chunks, db, migrate
from microdash_core.settings import Settings
from microdash_core.store import sealing
from microdash_core.tenants import directory
from microdash_workers import rollups
from stack import cpu_seconds


class _Filler:
    """What rollup_query.fill_day needs of a bench stack."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def connect_redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url)


class StatementClock:
    """Wall and MariaDB CPU seconds per kind of statement, by wrapping PyMySQL's Cursor.execute."""

    def __init__(self, mariadb_pid: int):
        self.mariadb_pid = mariadb_pid
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self._original = pymysql.cursors.Cursor.execute

    @staticmethod
    def kind(sql: str) -> str:
        if "FROM sample_chunks" in sql:
            return "raw reads"
        if sql.startswith("INSERT INTO samples_1m"):
            return "1m inserts"
        if "INSERT INTO samples_5m" in sql:  # from the 1m rows in memory, or INSERT ... SELECT
            return "5m inserts"
        return "other"

    def __enter__(self):
        clock, original = self, self._original

        def timed_execute(cursor, query, args=None):
            kind = clock.kind(query.lstrip())
            started, cpu_before = time.perf_counter(), cpu_seconds(clock.mariadb_pid)
            try:
                return original(cursor, query, args)
            finally:
                clock.wall[kind] += time.perf_counter() - started
                clock.cpu[kind] += cpu_seconds(clock.mariadb_pid) - cpu_before
                clock.count[kind] += 1

        pymysql.cursors.Cursor.execute = timed_execute
        return self

    def __exit__(self, *exc):
        pymysql.cursors.Cursor.execute = self._original


def roll_everything(settings: Settings, now_ms: int, *, sequential: bool) -> None:
    settings = settings.model_copy(update={"rollup_time_budget_seconds": 600.0, "rollup_grace_seconds": 0})
    if not sequential:
        while rollups.roll_up(settings, now_ms=now_ms):
            pass
        return
    # the job's rounds without its read-ahead: every statement waits for the one before
    with closing(rollups._connect(settings)) as database, closing(redis.Redis.from_url(settings.redis_url)) as red:
        while rollups._roll_rounds(settings, red, database, now_ms):
            pass


def run(args: argparse.Namespace, settings: Settings, mariadb_pid: int) -> None:
    migrate.migrate(settings)
    with db.transaction(settings) as cursor:
        tenant = directory.create_tenant(cursor, name="bench-rollup-profile")
    end_ms = (int(time.time() * 1000) // 300_000) * 300_000 - 300_000
    stored = rollup_query.fill_day(_Filler(settings), tenant, args.samples, end_ms, rollup_query._rollup_samples)
    if args.sealed:
        with closing(db.connect(settings)) as connection:
            sealed = sealing.seal_due(connection, cutoff_ms=end_ms + chunks.WINDOW_MS, tenant_ids=[tenant.id])
        print(f"sealed {sealed.samples:,} of {stored:,} samples in {sealed.seconds:.1f} s")
    # CPU time, not wall time: on a shared machine wall time charges functions for waiting for a CPU
    profile = cProfile.Profile(time.process_time) if args.profile else None
    cpu_before, started, own_before = cpu_seconds(mariadb_pid), time.perf_counter(), os.times()
    with StatementClock(mariadb_pid) as clock:
        if profile:
            profile.enable()
        roll_everything(settings, end_ms + 120_000, sequential=args.sequential)
        if profile:
            profile.disable()
    wall = time.perf_counter() - started
    own = os.times()
    job_cpu = own.user + own.system - own_before.user - own_before.system
    print(f"rolled {stored:,} samples in {wall:.2f} s wall -> {stored / wall:,.0f} samples/s; CPU seconds: this"
          f" process {job_cpu:.2f}, MariaDB {cpu_seconds(mariadb_pid) - cpu_before:.2f};"
          f" load average {os.getloadavg()[0]:.2f}")
    for kind in sorted(clock.wall, key=clock.wall.get, reverse=True):
        print(f"  {kind:18} {clock.count[kind]:5} statements  {clock.wall[kind]:6.2f} s wall"
              f"  {clock.cpu[kind]:6.2f} s MariaDB CPU")
    print(f"  {'python':18} {'':5}             {wall - sum(clock.wall.values()):6.2f} s wall")
    if profile:
        stats = pstats.Stats(profile).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--sealed", action="store_true", help="seal the day into chunks before rolling it up")
    parser.add_argument("--profile", action="store_true", help="run the rollup job under cProfile")
    parser.add_argument("--sequential", action="store_true",
                        help="without the job's read-ahead thread (per-statement figures do not overlap then)")
    parser.add_argument("--top", type=int, default=25, help="functions to list per ordering")
    args = parser.parse_args()
    with throwaway_services("microdash-rollups-") as (services, settings, _root):
        run(args, settings, services.processes["mariadb"].pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
