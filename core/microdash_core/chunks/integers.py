"""Signed 64-bit integer arrays as few bytes: zigzag (small magnitudes of either sign become small
unsigned numbers), then the narrowest of 1, 2, 4 or 8 bytes that holds them all.

Arithmetic wraps modulo 2^64 on both sides, so any int64 sequence round-trips, even deltas that
overflow (a jump from the smallest to the largest timestamp)."""

import numpy as np

from microdash_core.chunks.errors import ChunkError

WIDTHS = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")}


def zigzag(signed: np.ndarray) -> np.ndarray:
    return ((signed << 1) ^ (signed >> 63)).view(np.uint64)


def unzigzag(unsigned: np.ndarray) -> np.ndarray:
    return ((unsigned >> np.uint64(1)) ^ (np.uint64(0) - (unsigned & np.uint64(1)))).view(np.int64)


SIGNED = {dtype: np.dtype(dtype.str.replace("u", "i")) for dtype in WIDTHS.values()}


def unzigzag_narrow(narrow: np.ndarray) -> np.ndarray:
    """unzigzag in the narrow width itself (signed, same width): zigzag maps the signed numbers of
    a width one to one onto the unsigned ones of that width, so nothing needs widening first."""
    # Python ints stay in the array's width (NEP 50); an unsigned negation wraps.
    return ((narrow >> 1) ^ -(narrow & 1)).view(SIGNED[narrow.dtype])


def unzigzag_int(unsigned: int) -> int:
    return (unsigned >> 1) ^ -(unsigned & 1)


def narrowest(unsigned: np.ndarray) -> tuple[int, np.ndarray]:
    """(width in bytes, the array in that width, little-endian)."""
    top = int(unsigned.max()) if unsigned.size else 0
    for width, dtype in WIDTHS.items():
        if top < 1 << (8 * width):
            return width, unsigned.astype(dtype)
    raise AssertionError("a uint64 always fits 8 bytes")


def dtype_of_width(width: int) -> np.dtype:
    if width not in WIDTHS:
        raise ChunkError(f"integer width {width} is not one of 1, 2, 4, 8")
    return WIDTHS[width]


def to_planes(narrow: np.ndarray) -> np.ndarray:
    """Byte i of every item together, for i = 0..width-1: the compressor sees runs of high zeros."""
    return np.ascontiguousarray(narrow.view(np.uint8).reshape(-1, narrow.itemsize).T)


def from_planes(planes: np.ndarray, dtype: np.dtype) -> np.ndarray:
    width = np.dtype(dtype).itemsize
    if width == 1:
        return planes.view(dtype)
    return np.ascontiguousarray(planes.reshape(width, -1).T).view(dtype).reshape(-1)


def delta(signed: np.ndarray) -> np.ndarray:
    """First item as is, then the differences (wrapping)."""
    return np.diff(signed, prepend=np.int64(0))


def undelta(deltas: np.ndarray) -> np.ndarray:
    """Running sums in int64 (wrapping); narrower signed deltas are widened on the way."""
    return deltas.cumsum(dtype=np.int64)
