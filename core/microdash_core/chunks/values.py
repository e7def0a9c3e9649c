"""Two value transforms, picked per chunk; both are exact to the bit (NaN payloads, -0.0, ±Inf).

- DECIMAL: every value is an integer scaled by 10^-d for some d ≤ MAX_DECIMALS (counters,
  gauges, readings parsed from text with a few decimals), checked by decoding it back bit for bit.
  The integers are delta-coded and narrowed, like timestamps.
- XOR: anything else. Each value's bits XOR the previous value's (Gorilla's idea: equal or close
  values leave mostly zero bytes), then the 8 byte planes are stored one after the other so that
  the compressor sees long runs of the same sign/exponent bytes.
"""

import numpy as np

from microdash_core.chunks import integers
from microdash_core.chunks.errors import ChunkError

XOR = 0
DECIMAL = 1
MAX_DECIMALS = 6
# Integers up to 2^53 convert to float64 exactly; above it the decimal check would still be exact
# but the deltas stop being small, so XOR is as good.
_EXACT_INTEGER = float(2**53)
_PROBE = 16


def xor_shuffle(values: np.ndarray) -> np.ndarray:
    bits = values.view(np.uint64)
    xored = bits ^ np.concatenate((np.zeros(1, np.uint64), bits[:-1]))
    return np.ascontiguousarray(xored.view(np.uint8).reshape(-1, 8).T)


def xor_unshuffle(planes: np.ndarray, count: int) -> np.ndarray:
    xored = np.ascontiguousarray(planes.reshape(8, count).T).view("<u8").reshape(count)
    return np.bitwise_xor.accumulate(xored).view("<f8")


def scaled_integers(values: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(decimals, integers) such that integers / 10**decimals gives back values bit for bit."""
    if not np.isfinite(values).all():
        return None
    for decimals in range(MAX_DECIMALS + 1):
        # The first few values rule most scales out before the whole array is scaled.
        if _exact_at(values[:_PROBE], decimals) is None:
            continue
        integers_ = _exact_at(values, decimals)
        if integers_ is not None:
            return decimals, integers_
    return None


def _exact_at(values: np.ndarray, decimals: int) -> np.ndarray | None:
    with np.errstate(over="ignore"):  # an overflow gives inf, refused by the range check below
        scaled = np.rint(values * 10.0 ** decimals)
    if np.abs(scaled).max() >= _EXACT_INTEGER:
        return None
    integers_ = scaled.astype(np.int64)
    return integers_ if np.array_equal(unscale(integers_, decimals).view(np.uint64), values.view(np.uint64)) else None


def check_decimals(decimals: int) -> None:
    if decimals > MAX_DECIMALS:
        raise ChunkError(f"{decimals} decimals is more than {MAX_DECIMALS}")


def unscale(integers_: np.ndarray, decimals: int) -> np.ndarray:
    check_decimals(decimals)
    scaled = integers_.astype(np.float64)
    return scaled / 10.0 ** decimals if decimals else scaled


def decimal_deltas(integers_: np.ndarray) -> tuple[int, np.ndarray]:
    return integers.narrowest(integers.zigzag(integers.delta(integers_)))


def decimal_values(narrow: np.ndarray, decimals: int) -> np.ndarray:
    return unscale(integers.undelta(integers.unzigzag_narrow(narrow)), decimals)
