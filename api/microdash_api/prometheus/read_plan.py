"""Which resolution serves a selector's samples: raw, or the 1m/5m rollups where the query's
step (and the function reading the samples) make the answer the same as on raw data, within the
rollup semantics of docs/promql.md.

A rollup bucket gives its last sample at its own timestamp, so reading a rollup is reading the
raw series thinned to one sample per bucket. That changes nothing a lookback or a rate over the
window needs from the series' ends, and the functions below only use those; `*_over_time`
aggregates, `changes`, `resets` and the like see every sample, so they always read raw.
The newest RAW_TAIL_MS always come from raw samples: the rollup job has not closed them yet.
"""

from dataclasses import dataclass

from ..sample_reads import BUCKET_MS, Resolution, TimeRange

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
RAW_TAIL_MS = 15 * MINUTE_MS
# Below these spans raw reads are cheap enough; the coarsest width that fits is taken first.
MIN_SPAN_MS = {"5m": 3 * DAY_MS, "1m": 6 * HOUR_MS}
THINNING_SAFE_FUNCTIONS = frozenset({
    None, "rate", "increase", "irate", "delta", "idelta", "last_over_time", "present_over_time",
    "absent_over_time", "timestamp",
})


@dataclass(frozen=True)
class ReadRequest:
    start_ms: int
    end_ms: int
    step_ms: int | None
    range_ms: int | None
    func: str | None
    lookback_ms: int


@dataclass(frozen=True)
class RetentionDays:
    raw: int
    one_minute: int


def plan_reads(request: ReadRequest, *, now_ms: int,
               retention: RetentionDays) -> list[tuple[Resolution, TimeRange]]:
    """One or two reads that together cover (start, end]: a rollup for the older part where it
    is allowed, raw samples for the rest."""
    whole = TimeRange(request.start_ms, request.end_ms)
    for resolution in ("5m", "1m"):
        if _rollup_allowed(request, resolution, now_ms=now_ms, retention=retention):
            return _split(whole, resolution, now_ms)
    return [("raw", whole)]


def _rollup_allowed(request: ReadRequest, resolution: Resolution, *, now_ms: int, retention: RetentionDays) -> bool:
    width = BUCKET_MS[resolution]
    # An instant query has no step: a range selector's window stands for it (rate(x[30d]) then
    # reads about 60 points per window from the rollups).
    granularity = request.step_ms if request.step_ms is not None else (request.range_ms or 0) // 60
    window = request.range_ms if request.range_ms is not None else request.lookback_ms
    finer_retention_days = retention.raw if resolution == "1m" else retention.one_minute
    needed = (request.end_ms - request.start_ms >= MIN_SPAN_MS[resolution]
              or request.start_ms < now_ms - finer_retention_days * DAY_MS)
    # Any window of 2 widths holds a whole bucket, so a series sampled at least once a bucket
    # still has a sample in every window.
    return request.func in THINNING_SAFE_FUNCTIONS and granularity >= width and window >= 2 * width and needed


def _split(whole: TimeRange, resolution: Resolution, now_ms: int) -> list[tuple[Resolution, TimeRange]]:
    width = BUCKET_MS[resolution]
    cut = (now_ms - RAW_TAIL_MS) // width * width
    if cut <= whole.start_ms:
        return [("raw", whole)]
    if cut >= whole.end_ms:
        return [(resolution, whole)]
    return [(resolution, TimeRange(whole.start_ms, cut)), ("raw", TimeRange(cut, whole.end_ms))]
