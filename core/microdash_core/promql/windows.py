"""Cutting a SampleSet into one window per series and step, all series and steps at once.

Every sample gets the sort key series * SHIFT + (timestamp - base), which ascends over the flat
arrays, so one searchsorted finds every window's bounds. A window holds the samples with
end - range <= t <= end: Prometheus 2.x includes the left boundary (3.x does not)."""

from collections.abc import Callable

import numpy as np

from .errors import UNSUPPORTED, PromQLError
from .values import SampleSet

SHIFT = 1 << 40  # about 35 years of milliseconds
CHUNK_CELLS = 1 << 20


def window_bounds(samples: SampleSet, ends: np.ndarray, range_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """lo, hi of shape (series, steps): the window of series i at step j is [lo, hi)."""
    if samples.size == 0 or len(samples.timestamps) == 0:
        empty = np.zeros((samples.size, len(ends)), dtype=np.int64)
        base_rows = samples.starts[:-1, None] + empty
        return base_rows, base_rows
    base = int(samples.timestamps.min()) - 1
    if int(samples.timestamps.max()) - base >= SHIFT:
        raise PromQLError(UNSUPPORTED, "the samples of one query span more than 34 years")
    keys = samples.series_ids() * SHIFT + (samples.timestamps - base)
    row_offsets = np.arange(samples.size, dtype=np.int64)[:, None] * SHIFT
    lo_keys = row_offsets + np.clip(ends - range_ms - base, 0, SHIFT - 1)[None, :]
    hi_keys = row_offsets + np.clip(ends - base, 0, SHIFT - 1)[None, :]
    return np.searchsorted(keys, lo_keys, side="left"), np.searchsorted(keys, hi_keys, side="right")


def reduce_windows(samples: SampleSet, lo: np.ndarray, hi: np.ndarray, fill: float,
                   reducer: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
                   tick: Callable[[], None]) -> np.ndarray:
    """reducer(values, times, mask) of shape (windows, longest window), padded with fill where
    mask is False, returns one float per window. Windows are taken in chunks to bound memory."""
    shape = lo.shape
    lo, hi = lo.ravel(), hi.ravel()
    out = np.full(lo.shape, np.nan)
    longest = int((hi - lo).max()) if lo.size else 0
    if longest == 0:
        return out.reshape(shape)
    offsets = np.arange(longest, dtype=np.int64)
    chunk = max(1, CHUNK_CELLS // longest)
    last = len(samples.values) - 1
    for begin in range(0, lo.size, chunk):
        tick()
        part_lo, part_hi = lo[begin:begin + chunk], hi[begin:begin + chunk]
        index = part_lo[:, None] + offsets
        mask = index < part_hi[:, None]
        np.minimum(index, last, out=index)
        values = np.where(mask, samples.values[index], fill)
        out[begin:begin + chunk] = reducer(values, samples.timestamps[index], mask)
    return out.reshape(shape)
