"""Decoding canonical chunks (codec.py's format), one or several at once.

A read of a day of one series decodes 13 chunks of ~830 samples; per-call overhead, not the data,
was most of it (a header, two zstd frames and a dozen small numpy calls per chunk). So several
chunks are decoded together: each is checked as alone (header, frames, timestamps), and the numpy
work (the one-interval timestamps, un-delta, unscale) runs once over all of them.
"""

import functools
import itertools
from typing import NamedTuple, Sequence

import numpy as np

from microdash_core.chunks import compression, header, integers, values
from microdash_core.chunks.errors import ChunkError

# Far from the int64 edges (every real timestamp is), numpy's arange computes its length and end exactly.
_SMALL = 2**62
# One-interval timestamp sections are a few dozen bytes whatever the sample count: those are remembered.
_SMALL_SECTION = 64
_NOT_INCREASING = "chunk timestamps are not strictly increasing up to the declared last: corrupt"
_EMPTY = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))


class Joined(NamedTuple):
    """Several chunks' samples one after the other, in the order given. ascending: each chunk
    starts after the one before it ends, so the whole is strictly increasing."""
    timestamps: np.ndarray
    values: np.ndarray
    ascending: bool


def decode_joined(blobs: Sequence[bytes]) -> Joined:
    """The samples of the chunks (a read's chunks of a series, in order) one after the other, each
    checked as codec.decode checks it; ChunkError if any is not a valid chunk."""
    if not blobs:
        return Joined(*_EMPTY, True)
    read = [_read(bytes(blob)) for blob in blobs]
    counts = [fixed.count for fixed, _timing, _raw in read]
    ascending = all(after[0].first_ts > before[0].last_ts for before, after in zip(read, read[1:]))
    return Joined(_joined_timestamps(read, counts), _joined_values(read, counts), ascending)


def _read(blob: bytes) -> tuple:
    """(header fields, timing, the value section decompressed), every check of the chunk made."""
    fixed = header.fixed(blob)
    ts_end = header.HEADER_SIZE + fixed.ts_length
    timing = _timing(fixed, blob[header.HEADER_SIZE:ts_end])
    return fixed, timing, _value_bytes(fixed, blob[ts_end:])


def _timing(fixed, section: bytes) -> int | np.ndarray:
    """The interval of a chunk whose timestamps are first + i × interval up to the declared last
    (checked: the common case, built later for all chunks at once), or the timestamps of any other
    chunk, decoded and checked."""
    count = fixed.count
    if count == 1:
        if section:
            raise ChunkError("a one-sample chunk has no timestamp section")
        if fixed.first_ts != fixed.last_ts:
            raise ChunkError(_NOT_INCREASING)
        return 0
    items, planes = count - 1, None
    if len(section) <= _SMALL_SECTION:
        interval = _interval_of(section, fixed.ts_width, items)
    else:
        planes = _timestamp_planes(section, fixed.ts_width, items)
        interval = _one_interval(planes, fixed.ts_width, items)
    if interval is not None and interval > 0 and fixed.first_ts + interval * items == fixed.last_ts:
        # Increasing up to the declared last in exact integers: already checked. Anything else
        # (wrapping differences included) goes the general way.
        return interval
    if planes is None:
        planes = _timestamp_planes(section, fixed.ts_width, items)
    return _irregular_timestamps(fixed, np.frombuffer(planes, dtype=np.uint8))


@functools.lru_cache(maxsize=1024)
def _interval_of(section: bytes, width: int, items: int) -> int | None:
    """_one_interval of a small section, remembered: a one-interval section holds the interval and
    the sample count only (not the first timestamp), so a day's chunks of a series, and the series
    scraped alike, share a few, each decompressed once, not once a chunk (an exception is not remembered)."""
    return _one_interval(_timestamp_planes(section, width, items), width, items)


def _timestamp_planes(section: bytes, width: int, items: int) -> bytes:
    integers.dtype_of_width(width)  # refuses a width the format does not have before anything is read
    return compression.decompressed(section, width * items)


def _one_interval(raw: bytes, width: int, items: int) -> int | None:
    """The interval when every delta-of-delta but the first is zero, read off the byte planes
    before they are put together (a regular series' whole timestamp section); else None."""
    zeros = bytes(items - 1)
    for plane in range(width):  # plane i: byte i of every item; a slice compares as one memcmp
        if raw[plane * items + 1:(plane + 1) * items] != zeros:
            return None
    return integers.unzigzag_int(int.from_bytes(raw[::items], "little"))  # byte i of the first item opens plane i


def _irregular_timestamps(fixed, planes: np.ndarray) -> np.ndarray:
    delta_of_delta = integers.unzigzag_narrow(integers.from_planes(planes, integers.dtype_of_width(fixed.ts_width)))
    timestamps = np.empty(fixed.count, dtype=np.int64)
    timestamps[0] = fixed.first_ts
    np.cumsum(integers.undelta(delta_of_delta), out=timestamps[1:])
    timestamps[1:] += np.int64(fixed.first_ts)  # wraps as the encoder's differences did
    if timestamps[-1] != fixed.last_ts or not (timestamps[1:] > timestamps[:-1]).all():
        raise ChunkError(_NOT_INCREASING)
    return timestamps


def _joined_timestamps(read: list[tuple], counts: list[int]) -> np.ndarray:
    """The chunks' timestamps one after the other: with every chunk on one interval, item j of
    the whole (item j - start of its chunk) is first + (j - start) × interval = j × interval + base,
    a few numpy calls for all of them."""
    timings = [timing for _fixed, timing, _raw in read]
    if any(isinstance(timing, np.ndarray) for timing in timings):
        return np.concatenate([timing if isinstance(timing, np.ndarray)
                               else np.arange(fixed.count, dtype=np.int64) * np.int64(timing) + np.int64(fixed.first_ts)
                               for fixed, timing, _raw in read])
    # A one-sample chunk has no interval: its only item is its first whatever the interval.
    intervals = {timing for fixed, timing, _raw in read if fixed.count > 1} or {1}
    shared = len(intervals) == 1
    interval_of = [next(iter(intervals)) if shared else timing or 1 for timing in timings]
    bases = [_int64(fixed.first_ts - start * interval)
             for (fixed, _timing, _raw), start, interval in zip(read, _starts(counts), interval_of)]
    steps = np.int64(interval_of[0]) if shared else np.repeat(np.array(interval_of, dtype=np.int64), counts)
    offsets = np.int64(bases[0]) if len(set(bases)) == 1 else np.repeat(np.array(bases, dtype=np.int64), counts)
    total = sum(counts)
    if shared and len(set(bases)) == 1 and -_SMALL < bases[0] and bases[0] + total * interval_of[0] < _SMALL:
        # One arange (a third of the time of the general one) where numpy's length computation and
        # its end are exact: far from the int64 edges, as every real timestamp is.
        return np.arange(bases[0], bases[0] + total * interval_of[0], interval_of[0], dtype=np.int64)
    return np.arange(total, dtype=np.int64) * steps + offsets


def _joined_values(read: list[tuple], counts: list[int]) -> np.ndarray:
    encodings = {fixed.value_encoding for fixed, _timing, _raw in read}
    if len(encodings) > 1:  # XOR and DECIMAL chunks in one read: rare, one by one
        return np.concatenate([_joined_values([chunk], [chunk[0].count]) for chunk in read])
    raws = [raw for _fixed, _timing, raw in read]
    if encodings.pop() == values.XOR:
        xored = _items(raws, 8, counts)
        _restart_each_chunk(xored, counts, np.bitwise_xor)
        return np.bitwise_xor.accumulate(xored, out=xored).view("<f8")
    widths = {fixed.value_width for fixed, _timing, _raw in read}
    if len(widths) == 1:
        narrow = _items(raws, widths.pop(), counts)
    else:
        narrow = np.concatenate([_items([raw], fixed.value_width, [fixed.count]) for fixed, _timing, raw in read])
    deltas = integers.unzigzag_narrow(narrow).astype(np.int64)  # a zero-extended zigzag unzigzags alike
    _restart_each_chunk(deltas, counts, np.add)
    scaled = np.cumsum(deltas, out=deltas)
    decimals = {fixed.decimals for fixed, _timing, _raw in read}
    if len(decimals) == 1:
        return values.unscale(scaled, decimals.pop())
    divisors = np.array([10.0 ** fixed.decimals for fixed, _timing, _raw in read])  # 10^0 = 1 divides exactly
    return scaled.astype(np.float64) / np.repeat(divisors, counts)


def _items(raws: list[bytes], width: int, counts: list[int]) -> np.ndarray:
    """The items of `width` bytes of the chunks' byte planes (plane i: byte i of every item), one
    array for all chunks."""
    dtype = integers.dtype_of_width(width)
    if width == 1:
        return np.frombuffer(b"".join(raws), dtype=dtype)
    items = np.empty((sum(counts), width), dtype=np.uint8)  # C order: each item's bytes together
    np.concatenate([np.frombuffer(raw, dtype=np.uint8).reshape(width, count).T for raw, count in zip(raws, counts)],
                   out=items)
    return items.view(dtype).reshape(-1)


def _restart_each_chunk(items: np.ndarray, counts: list[int], ufunc: np.ufunc) -> None:
    """Makes one running `ufunc` (sum, XOR) over all the chunks' items give each chunk's own, which
    starts from zero: the first item of each chunk is undone (subtracted, XORed) by the chunk
    before's total, that chunk's running figure at its end (sums wrap as the encoder's did)."""
    if len(counts) < 2:
        return
    starts = np.array(_starts(counts), dtype=np.intp)
    totals = ufunc.reduceat(items, starts)
    if ufunc is np.add:
        items[starts[1:]] -= totals[:-1]
    else:
        items[starts[1:]] ^= totals[:-1]


def _starts(counts: list[int]) -> list[int]:
    return list(itertools.accumulate(counts[:-1], initial=0))


def _int64(number: int) -> int:
    """number modulo 2^64 as a signed 64-bit integer: numpy's int64 arithmetic wraps alike."""
    return (number + 2**63) % 2**64 - 2**63


def _value_bytes(fixed, section: bytes) -> bytes:
    """The value section decompressed, once the header's value fields are checked."""
    if fixed.value_encoding == values.XOR:
        if fixed.value_width != 8 or fixed.decimals:
            raise ChunkError("an XOR chunk has 8-byte values and no decimals")
    elif fixed.value_encoding == values.DECIMAL:
        integers.dtype_of_width(fixed.value_width)
        values.check_decimals(fixed.decimals)
    else:
        raise ChunkError(f"unknown value encoding {fixed.value_encoding}")
    return compression.decompressed(section, fixed.value_width * fixed.count)
