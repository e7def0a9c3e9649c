"""encode / decode / merge: one series' samples in a window as one versioned blob.

Timestamps: the first in the header, then the delta-of-delta of the rest (zero for a regular
interval), zigzagged, narrowed and zstd-compressed. Values: DECIMAL or XOR (values.py), then zstd.
"""

import numpy as np

from microdash_core.chunks import compression, decoding, header, integers, values
from microdash_core.chunks.errors import ChunkError
from microdash_core.chunks.windows import MAX_CHUNK_SAMPLES

Samples = tuple[np.ndarray, np.ndarray]
def encode(timestamps: np.ndarray, values_: np.ndarray) -> bytes:
    """A chunk of the samples, sorted by time; of equal timestamps the last in input order wins."""
    ts, vs = normalize(timestamps, values_)
    ts_width, ts_section = _encode_timestamps(ts)
    value_encoding, value_width, decimals, value_section = _encode_values(vs)
    fields = header.Header(ts_width, value_encoding, value_width, decimals, int(ts.size), int(ts[0]), int(ts[-1]),
                           len(ts_section), len(value_section))
    return header.pack(fields, ts_section, value_section)


def decode(blob: bytes) -> Samples:
    """(timestamps int64, values float64) of a chunk; ChunkError for anything not a valid chunk."""
    joined = decoding.decode_joined((blob,))
    return joined.timestamps, joined.values


def merge(blob: bytes, new_timestamps: np.ndarray, new_values: np.ndarray) -> bytes:
    """The chunk with the new samples added; a new sample replaces a stored one at the same time."""
    old_ts, old_vs = decode(blob)
    new_ts, new_vs = _as_arrays(new_timestamps, new_values)
    return encode(np.concatenate((old_ts, new_ts)), np.concatenate((old_vs, new_vs)))


def normalize(timestamps: np.ndarray, values_: np.ndarray) -> Samples:
    """Sorted by time, one sample per timestamp (the last given), as int64 and float64 arrays."""
    ts, vs = _as_arrays(timestamps, values_)
    if ts.size == 0:
        raise ChunkError("a chunk holds at least one sample")
    # Stable sort on the reversed input puts the last-written sample of each timestamp first.
    order = np.argsort(ts[::-1], kind="stable")
    ts, vs = ts[::-1][order], vs[::-1][order]
    keep = np.concatenate(([True], ts[1:] != ts[:-1]))
    ts, vs = ts[keep], vs[keep]
    if ts.size > MAX_CHUNK_SAMPLES:
        raise ChunkError(f"{ts.size} samples is more than a chunk's {MAX_CHUNK_SAMPLES}")
    return ts, vs


def _as_arrays(timestamps: np.ndarray, values_: np.ndarray) -> Samples:
    ts = np.asarray(timestamps)
    vs = np.asarray(values_)
    if ts.ndim != 1 or vs.ndim != 1 or ts.shape != vs.shape:
        raise ChunkError(f"timestamps {ts.shape} and values {vs.shape} must be 1-D and of one length")
    if ts.size and ts.dtype.kind not in "iu":
        raise ChunkError(f"timestamps must be integers, not {ts.dtype}")
    if vs.size and vs.dtype != np.float64:
        raise ChunkError(f"values must be float64, not {vs.dtype}")
    if ts.dtype == np.uint64 and ts.size and ts.max() > np.iinfo(np.int64).max:
        raise ChunkError("timestamps must fit int64")
    return ts.astype(np.int64, copy=False), vs.astype(np.float64, copy=False)


def _encode_timestamps(ts: np.ndarray) -> tuple[int, bytes]:
    if ts.size == 1:
        return 1, b""
    delta_of_delta = integers.delta(np.diff(ts))
    width, narrow = integers.narrowest(integers.zigzag(delta_of_delta))
    return width, compression.compress(integers.to_planes(narrow))


def _encode_values(vs: np.ndarray) -> tuple[int, int, int, bytes]:
    """XOR, or DECIMAL where it is exact and smaller (large round gauges such as memory bytes
    XOR better; counters and few-decimal readings delta better)."""
    xor_section = compression.compress(values.xor_shuffle(vs))
    scaled = values.scaled_integers(vs)
    if scaled is None:
        return values.XOR, 8, 0, xor_section
    decimals, integers_ = scaled
    width, narrow = values.decimal_deltas(integers_)
    decimal_section = compression.compress(integers.to_planes(narrow))
    if len(decimal_section) < len(xor_section):
        return values.DECIMAL, width, decimals, decimal_section
    return values.XOR, 8, 0, xor_section
