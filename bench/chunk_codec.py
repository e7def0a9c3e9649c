"""Compare chunk encodings on node_exporter-like series: bytes/sample, encode and decode µs/sample.

    python bench/chunk_codec.py [--series 200] [--samples 720] [--repeat 3]

Each series is one 2 h window (720 samples at 10 s) of one of these shapes, each at a regular
10 s interval and at 10 s with ±0–250 ms of jitter (a scrape's real timing):
  counter   : a monotonically increasing integer count (bytes, packets)
  cpu_secs  : a counter of seconds with 2 decimals (node_cpu_seconds_total)
  gauge_few : a gauge with a handful of distinct values (up, filesystem readonly, procs)
  gauge_mem : a large integer gauge that drifts (memory bytes)
  noise     : a float with full-precision noise (load average ratios, temperatures)

Encodings compared (all exact to the bit; the codec's choice is `codec`):
  raw+zstd       : the 16 bytes of each sample as they are, zstd level 3 (the baseline)
  xor+zstd{1,3,9}: delta-of-delta timestamps; values XOR previous, byte planes, zstd
  xor+lz4        : the same with lz4 blocks instead of zstd
  codec          : microdash_core.chunks (DECIMAL where exact, else XOR; zstd 3)
Nothing is asserted; figures are printed.
"""

import argparse
import statistics
import sys
import time

import cramjam
import numpy as np

from microdash_core import chunks
from microdash_core.chunks import integers, values

BASE_TS = 1_764_000_000_000
INTERVAL_MS = 10_000


def timestamps(count: int, jitter: bool, rng: np.random.Generator) -> np.ndarray:
    ts = BASE_TS + np.arange(count, dtype=np.int64) * INTERVAL_MS
    return ts + rng.integers(0, 250, count) if jitter else ts


def shape_values(shape: str, count: int, rng: np.random.Generator) -> np.ndarray:
    if shape == "counter":
        return np.cumsum(rng.integers(0, 5_000_000, count)).astype(np.float64) + 1e9
    if shape == "cpu_secs":
        return np.round(123_456.78 + np.cumsum(rng.uniform(0, 10, count)), 2)
    if shape == "gauge_few":
        return rng.choice(np.array([0.0, 1.0, 2.0, 4.0]), count, p=[0.7, 0.2, 0.07, 0.03])
    if shape == "gauge_mem":
        return (8e9 + np.cumsum(rng.integers(-4096, 4096, count)) * 4096).astype(np.float64)
    return 0.5 + rng.normal(0, 0.1, count)


SHAPES = ("counter", "cpu_secs", "gauge_few", "gauge_mem", "noise")


def _ts_dod(ts: np.ndarray) -> np.ndarray:
    return integers.narrowest(integers.zigzag(integers.delta(np.diff(ts))))[1]


def raw_zstd(ts, vs):
    return bytes(cramjam.zstd.compress(ts.tobytes() + vs.tobytes(), level=3))


def raw_zstd_decode(blob, count):
    raw = np.frombuffer(bytes(cramjam.zstd.decompress(blob)), np.uint8)
    return raw[:8 * count].view(np.int64), raw[8 * count:].view(np.float64)


def xor_with(compress, decompress):
    def encode(ts, vs):
        return ts[:1].tobytes(), compress(_ts_dod(ts).tobytes()), compress(values.xor_shuffle(vs).tobytes())

    def decode(blob, count):
        first, ts_part, value_part = blob
        narrow = np.frombuffer(bytes(decompress(ts_part)), np.uint8)
        width = narrow.size // (count - 1)
        dod = integers.unzigzag(narrow.view(integers.dtype_of_width(width)).astype(np.uint64))
        ts = integers.undelta(np.concatenate((np.frombuffer(first, np.int64), integers.undelta(dod))))
        planes = np.frombuffer(bytes(decompress(value_part)), np.uint8)
        return ts, values.xor_unshuffle(planes, count)
    return encode, decode


def zstd_level(level):
    return lambda raw: bytes(cramjam.zstd.compress(raw, level=level))


def lz4_compress(raw):
    return bytes(cramjam.lz4.compress_block(raw))


def lz4_decompress(block):
    return cramjam.lz4.decompress_block(block)


ENCODINGS = {
    "raw+zstd": (raw_zstd, raw_zstd_decode),
    "xor+zstd1": xor_with(zstd_level(1), cramjam.zstd.decompress),
    "xor+zstd3": xor_with(zstd_level(3), cramjam.zstd.decompress),
    "xor+zstd9": xor_with(zstd_level(9), cramjam.zstd.decompress),
    "xor+lz4": xor_with(lz4_compress, lz4_decompress),
    "codec": (chunks.encode, lambda blob, count: chunks.decode(blob)),
}


def size_of(blob) -> int:
    return sum(len(part) for part in blob) if isinstance(blob, tuple) else len(blob)


def measure(encode, decode, dataset, repeat: int) -> tuple[float, float, float]:
    """(bytes/sample, encode µs/sample, decode µs/sample), best of `repeat` for the times."""
    samples = sum(ts.size for ts, _ in dataset)
    blobs = [encode(ts, vs) for ts, vs in dataset]
    for (ts, vs), blob in zip(dataset, blobs):
        got_ts, got_vs = decode(blob, ts.size)
        assert np.array_equal(got_ts, ts) and np.array_equal(got_vs.view(np.uint64), vs.view(np.uint64))
    encode_s, decode_s = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        for ts, vs in dataset:
            encode(ts, vs)
        encode_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        for (ts, _), blob in zip(dataset, blobs):
            decode(blob, ts.size)
        decode_s.append(time.perf_counter() - started)
    return (sum(size_of(blob) for blob in blobs) / samples,
            min(encode_s) / samples * 1e6, min(decode_s) / samples * 1e6)


def datasets(series: int, samples: int) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(13)
    out = {}
    for jitter in (False, True):
        for shape in SHAPES:
            out[f"{shape}/{'jitter' if jitter else 'regular'}"] = [
                (timestamps(samples, jitter, rng), shape_values(shape, samples, rng)) for _ in range(series // len(SHAPES))]
    out["mix/jitter"] = [pair for name, pairs in out.items() if name.endswith("/jitter") for pair in pairs]
    out["mix/regular"] = [pair for name, pairs in out.items() if name.endswith("/regular") for pair in pairs]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=200, help="series per interval kind, split over the shapes")
    parser.add_argument("--samples", type=int, default=720, help="samples per chunk (720 = 2 h at 10 s)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.series} series x {args.samples} samples per data set; bytes/sample | encode µs/sample | decode µs/sample")
    print(f"{'data set':<20}" + "".join(f"{name:>24}" for name in ENCODINGS))
    for name, dataset in datasets(args.series, args.samples).items():
        cells = []
        for encode, decode in ENCODINGS.values():
            size, enc, dec = measure(encode, decode, dataset, args.repeat)
            cells.append(f"{size:6.2f} | {enc:5.2f} | {dec:5.2f}")
        print(f"{name:<20}" + "".join(f"{cell:>24}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
