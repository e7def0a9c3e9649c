"""The query body's points writer: the placed rows against the plain split-and-join, CPU µs a call.

    python bench/points_body.py [--rounds 9] [--cold]

One series per case, the plain writer (`points_text._joined`, the body's writer before the
placed rows) and `points_text.points_json` alternated in this process, `time.thread_time` over a
batch of calls, median (min) of the rounds. --cold reads 8 MB between calls (the api's caches are
rarely warm for a query's arrays). Cases: a day of raw points (8,640) with the bench's integral
values, full-precision floats and one-decimal values; a day at 1m (1,440 averages); one 5m series
(288 points: under points_text.SMALL, so both are the join). Both outputs are compared first.
Nothing is asserted; figures are printed.
"""

import argparse
import statistics
import time

import numpy as np

from microdash_api import points_text

DAY_MS = 86_400_000
DAY_START = 1_764_000_000_000


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(13)

    def series(count: int, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return DAY_START + np.arange(count, dtype=np.int64) * (DAY_MS // count), values

    return {"raw 8,640, integral (the bench's)": series(8640, (np.arange(8640) % 97).astype(np.float64)),
            "raw 8,640, full-precision floats": series(8640, rng.standard_normal(8640)),
            "raw 8,640, one decimal": series(8640, np.round(rng.standard_normal(8640) * 100, 1)),
            "1m 1,440 averages": series(1440, (np.arange(1440) % 97) + rng.integers(0, 6, 1440) / 6),
            "5m 288 floats": series(288, rng.standard_normal(288))}


def cpu_us(write, points: tuple[np.ndarray, np.ndarray], calls: int, flush: np.ndarray | None) -> float:
    spent = 0.0
    for _ in range(calls):
        if flush is not None:
            flush.sum()
        started = time.thread_time()
        write(*points)
        spent += time.thread_time() - started
    return spent / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    flush = np.ones(8_000_000, np.uint8) if args.cold else None
    print(f"{'case':36s} {'join µs':>16s} {'placed µs':>16s}")
    for name, points in cases().items():
        assert bytes(points_text.points_json(*points)) == points_text._joined(*points), name
        calls = max(20, 200_000 // len(points[0]))
        joined, placed = [], []
        for _ in range(args.rounds):
            joined.append(cpu_us(points_text._joined, points, calls, flush))
            placed.append(cpu_us(points_text.points_json, points, calls, flush))
        print(f"{name:36s} {statistics.median(joined):8.1f} ({min(joined):5.1f}) "
              f"{statistics.median(placed):8.1f} ({min(placed):5.1f})")


if __name__ == "__main__":
    main()
