"""One series' points as JSON, [[start, value], ...], byte for byte what orjson writes for the
Python pairs, written from the two arrays without a Python object per point.

orjson writes each array (OPT_SERIALIZE_NUMPY: the digits it writes for Python ints and floats,
NaN and ±Inf as null) and numpy places both texts into one buffer in a few whole-array passes, one
item copied per row and array, instead of splitting the texts at their commas and joining ~35,000
small bytes objects. A day's 8,640 raw points: 0.93 -> 0.34 ms with integral values, 1.08 -> 0.56
ms with full-precision floats (orjson's float formatting is 0.2 of that; bench/points_body.py).
Row i is `],[` start `,` value (`.0`), the first row's `],[` being the answer's `[[`.

- Every start has as many characters (ms since 2001 until 2286 have 13), so the starts' text is
  fixed-width rows "start," each copied to its row as one item. Starts of mixed widths or signs,
  and series under SMALL points, take the plain split-and-join writer (`_joined`).
- Values vary in width: each is copied as a window of the widest value's width, and what a window
  carries past its value lands where its row's ".0" and the next row's `],[` start `,` are written
  afterwards. Values differing in width by more than that room go in groups of similar widths, so
  no window reaches into another value, whatever order numpy copies them in.
- Integral values under 1e16 (counts, bytes, whole-unit gauges: the common case) are written by
  orjson's integer path, ~9x cheaper than its float path, plus ".0": orjson writes such a float as
  its integer and ".0" (not -0.0: "-0.0"; from 1e16 on with an exponent, "1e+16").
"""

import functools

import numpy as np
import orjson

NUMPY = orjson.OPT_SERIALIZE_NUMPY
SMALL = 512  # below this many points the plain writer costs less than the ~30 numpy calls
_BYTE = np.uint8
_COMMA, _OPEN, _CLOSE, _POINT, _ZERO = b",[].0"
_INTEGRAL_BELOW = 1e16  # from here on orjson writes floats with an exponent ("1e+16")
_PROBE = 16  # values looked at before all of them are
_NEGATIVE_ZERO_BITS = np.iinfo(np.int64).min  # -0.0 seen as int64: no other float has these bits


def points_json(starts: np.ndarray, values: np.ndarray) -> bytes | memoryview:
    """[[start, value], ...] for int64 starts (ms) and float64 values of the same length."""
    count = len(starts)
    if not count:
        return b"[]"
    starts = np.ascontiguousarray(starts, dtype=np.int64)  # orjson writes only contiguous arrays
    values = np.ascontiguousarray(values, dtype=np.float64)
    width = _common_width(starts) if count >= SMALL else None
    if width is None:
        return _joined(starts, values)
    stamps = orjson.dumps(starts, option=NUMPY)
    integers = _as_integers(values)
    if integers is not None:
        return _placed(width, stamps, orjson.dumps(integers, option=NUMPY), suffix=True)
    return _placed(width, stamps, orjson.dumps(values, option=NUMPY), suffix=False)


def _common_width(starts: np.ndarray) -> int | None:
    """Characters of every start when they all have as many, else None."""
    low, high = int(starts.min()), int(starts.max())
    width = len(str(low))
    return width if len(str(high)) == width and (low < 0) == (high < 0) else None


def _as_integers(values: np.ndarray) -> np.ndarray | None:
    """The values as int64 when orjson's text for each is the integer's and ".0", else None."""
    probe = values[:_PROBE]
    if not (np.trunc(probe) == probe).all():  # a series of fractions shows it at once
        return None
    if not np.abs(values).max() < _INTEGRAL_BELOW:  # NaN compares False
        return None
    integers = values.astype(np.int64)
    if not (integers == values).all() or values.view(np.int64).min() == _NEGATIVE_ZERO_BITS:
        return None
    return integers


def _joined(starts: np.ndarray, values: np.ndarray) -> bytes:
    """The plain writer: both texts split at their commas and interleaved by one join."""
    count = len(starts)
    texts = [b"],["] * (4 * count)
    texts[0::4] = _items(starts)
    texts[1::4] = [b","] * count
    texts[2::4] = _items(values)
    texts[-1] = b"]]"
    return b"[[" + b"".join(texts)


def _items(array: np.ndarray) -> list[bytes]:
    return orjson.dumps(array, option=NUMPY)[1:-1].split(b",")  # a JSON number holds no comma


def _placed(width: int, stamps: bytes, numbers: bytes, *, suffix: bool) -> memoryview:
    """The rows from the starts' text (each start `width` characters) and the values' text (".0"
    after each value when `suffix`). Row i is `],[` start `,` value (`.0`), built one byte early:
    row 0's `],[` starts at -1 of the answer, its `,[` becoming the answer's `[[`."""
    count = (len(stamps) - 1) // (width + 1)
    tail = 2 if suffix else 0
    separators = np.frombuffer(numbers, _BYTE) == _COMMA
    separators[0] = separators[-1] = True  # the "[" before the first value, the "]" after the last
    edges = np.flatnonzero(separators)  # edges[i] = the lengths of the values before value i, + 1 each
    lengths = edges[1:] - edges[:-1]
    lengths -= 1
    rows = np.arange(0, count * (width + 3 + tail), width + 3 + tail)
    rows += edges[:-1]  # where each row starts
    last_row = int(rows[-1])
    total = last_row + width + 4 + int(lengths[-1]) + tail + 2
    widest = int(lengths.max())
    out = np.empty(total + widest, _BYTE)  # the last value's window may reach past the end
    edges += 1  # edges[:-1]: where each value starts in `numbers`
    _copy_values(out, numbers + bytes(widest), edges[:-1], rows + (width + 4), lengths, room=width + 4 + tail)
    rows += 3
    _windows(out, width + 1)[rows] = _windows(stamps, width + 1, count=count, offset=1, stride=width + 1)
    out[last_row + 3 + width] = _COMMA  # the last start's text ends in "]"
    _punctuate(out, rows, tail)
    out[total - 2 - tail:total] = np.frombuffer(b".0]]"[2 - tail:], _BYTE)
    return memoryview(out)[1:total]


def _punctuate(out: np.ndarray, starts_at: np.ndarray, tail: int) -> None:
    """The `],[` before each start (`,[` before the first) and the ".0" closing each value before
    the next row (`tail` 2). Moves `starts_at` (spares an array of indices per byte written)."""
    starts_at -= 1
    out[starts_at] = _OPEN
    out[1] = _OPEN  # row 0's "," where the answer opens: "[["
    following = starts_at[1:]
    for byte in (_COMMA, _CLOSE, _ZERO, _POINT)[:2 + tail]:
        following -= 1
        out[following] = byte


def _copy_values(out: np.ndarray, numbers: bytes, sources: np.ndarray, targets: np.ndarray,
                 lengths: np.ndarray, *, room: int) -> None:
    """Each value's bytes to its target, as windows at most `room` wider than the value (what
    follows a value in its row is written after this, over the window's excess)."""
    narrowest, widest = int(lengths.min()), int(lengths.max())
    if widest - narrowest <= room:
        _windows(out, widest)[targets] = _windows(numbers, widest)[sources]
        return
    for low in range(narrowest, widest + 1, room + 1):
        group = np.flatnonzero((lengths >= low) & (lengths <= low + room))
        span = min(low + room, widest)
        _windows(out, span)[targets[group]] = _windows(numbers, span)[sources[group]]


def _windows(buffer, width: int, *, count: int | None = None, offset: int = 0, stride: int = 1) -> np.ndarray:
    """`buffer` seen as items of `width` bytes starting every `stride` bytes (overlapping when
    stride < width): fancy indexing copies one item per index."""
    if count is None:
        count = (len(buffer) - offset - width) // stride + 1
    return np.ndarray((count,), dtype=_void(width), buffer=buffer, offset=offset, strides=(stride,))


@functools.cache
def _void(width: int) -> np.dtype:
    return np.dtype((np.void, width))
