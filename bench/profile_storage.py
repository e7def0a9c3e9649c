"""Profile the worker's storage path alone: decoding a queued batch and SampleStore.store() on
synthetic batches, no HTTP, no RQ.

    python bench/profile_storage.py [--batches 100] [--batch-size 5000] [--profile] [--top 25]

Starts a throwaway MariaDB + Redis (Redis unused), migrates, creates a tenant, then stores
`--batches` batches shaped like the bulk benchmark's (10,000 series, distinct timestamps).
Prints samples/s; with --profile, the store loop runs under cProfile and the top functions are
printed (time in `recv_into` is time spent waiting for MariaDB).
"""

import argparse
import cProfile
import pstats
import sys
import time

from throwaway import throwaway_services
from microdash_core import db, migrate
from microdash_core.batches import Batch
from microdash_core.settings import Settings
from microdash_core.tenants import directory
from microdash_workers.storage import SampleStore

SERIES = 10_000


def synthetic_batches(count: int, size: int, *, base_ts: int) -> list[bytes]:
    """Batches as the edges queue them (Batch.encode of validated samples)."""
    labels = [{"host": f"h{i % 100}", "core": f"c{i // 100 % 100}"} for i in range(SERIES)]
    batches = []
    for index in range(count):
        start = index * size
        samples = [("bench.load", labels[k % SERIES], base_ts + k // SERIES, (k % 1000) * 0.25)
                   for k in range(start, start + size)]
        batches.append(Batch(0, f"bench-{index}", base_ts, samples).encode())
    return batches


def store_all(store: SampleStore, tenant_id: int, batches: list[bytes]) -> list[float]:
    durations = []
    for payload in batches:
        started = time.perf_counter()
        store.store(tenant_id=tenant_id, samples=Batch.decode(payload).samples)
        durations.append(time.perf_counter() - started)
    return durations


def report(label: str, durations: list[float], size: int) -> None:
    total = sum(durations)
    print(f"{label}: {len(durations)} batches of {size} in {total:.2f} s -> {len(durations) * size / total:,.0f} samples/s"
          f" (first batch {durations[0] * 1000:.0f} ms, median {sorted(durations)[len(durations) // 2] * 1000:.1f} ms)")


def run(args: argparse.Namespace, settings: Settings) -> None:
    migrate.migrate(settings)
    with db.transaction(settings) as cursor:
        tenant = directory.create_tenant(cursor, name="bench-storage")
    batches = synthetic_batches(args.batches, args.batch_size, base_ts=int(time.time() * 1000) - 300_000)
    store = SampleStore(settings)
    try:
        if not args.profile:
            report("SampleStore.store", store_all(store, tenant.id, batches), args.batch_size)
            return
        profile = cProfile.Profile()
        profile.enable()
        durations = store_all(store, tenant.id, batches)
        profile.disable()
        report("SampleStore.store under cProfile", durations, args.batch_size)
        stats = pstats.Stats(profile).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--profile", action="store_true", help="run the store loop under cProfile")
    parser.add_argument("--top", type=int, default=25, help="functions to list per ordering")
    args = parser.parse_args()
    with throwaway_services("microdash-storage-") as (_services, settings, _root):
        run(args, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
