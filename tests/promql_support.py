"""An in-memory SeriesSource for the PromQL engine (its own interface, not a stand-in for a
service), and the synthetic series the engine and promtool both evaluate."""

from dataclasses import dataclass, field

import numpy as np

from microdash_core.matchers import compile_regex
from microdash_core.promql import LabelMatcher, QueryLimits, RawSeries, SelectHints

LIMITS = QueryLimits(max_series=10_000, max_points=50_000_000, timeout_seconds=30)
INTERVAL_MS = 15_000
SAMPLES = 161  # 0s .. 40m at 15s


def _matches(matcher: LabelMatcher, labels: dict[str, str]) -> bool:
    value = labels.get(matcher.name, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = compile_regex(matcher.value).fullmatch(value) is not None
    return found if matcher.op == "=~" else not found


@dataclass
class Series:
    labels: dict[str, str]
    timestamps: np.ndarray
    values: np.ndarray


@dataclass
class InMemorySource:
    series: list[Series]
    calls: list[tuple[list[LabelMatcher], int, int, SelectHints]] = field(default_factory=list)

    async def select(self, matchers, start_ms, end_ms, hints):
        self.calls.append((matchers, start_ms, end_ms, hints))
        out = []
        for s in self.series:
            if all(_matches(m, s.labels) for m in matchers):
                keep = (s.timestamps > start_ms) & (s.timestamps <= end_ms)
                if keep.any():
                    out.append(RawSeries(dict(s.labels), s.timestamps[keep], s.values[keep]))
        return out


def series(labels: dict[str, str], values, start_ms: int = 0, interval_ms: int = INTERVAL_MS) -> Series:
    """values may hold None for a missing sample (promtool's "_")."""
    stamps = start_ms + interval_ms * np.arange(len(values), dtype=np.int64)
    present = np.array([v is not None for v in values], dtype=bool)
    return Series(labels, stamps[present], np.array([v for v in values if v is not None], dtype=np.float64))


def _ramp(start: float, step: float, count: int = SAMPLES) -> list[float]:
    return [start + step * i for i in range(count)]


def oracle_series() -> list[Series]:
    """Counters (one reset, one gap longer than the lookback), gauges, classic histogram buckets."""
    rng = np.random.default_rng(12)
    temps = np.round(rng.normal(20, 4, SAMPLES), 2).tolist()
    bucket_steps = {"0.1": 2, "0.5": 5, "1": 7, "+Inf": 8}
    out = [
        series({"__name__": "http_requests_total", "job": "api", "instance": "a", "code": "200"}, _ramp(0, 10)),
        series({"__name__": "http_requests_total", "job": "api", "instance": "b", "code": "200"},
               _ramp(0, 5, 81) + _ramp(3, 7, 80)),
        series({"__name__": "http_requests_total", "job": "api", "instance": "a", "code": "500"}, _ramp(1, 1)),
        series({"__name__": "http_requests_total", "job": "web", "instance": "c", "code": "200"},
               _ramp(0, 3, 41) + [None] * 40 + _ramp(500, 3, 80)),
        series({"__name__": "node_memory_MemAvailable_bytes", "instance": "a"}, _ramp(1500, -3)),
        series({"__name__": "node_memory_MemAvailable_bytes", "instance": "b"}, _ramp(800, 2)),
        series({"__name__": "node_memory_MemTotal_bytes", "instance": "a"}, [2000.0] * SAMPLES),
        series({"__name__": "node_memory_MemTotal_bytes", "instance": "b"}, [4096.0] * SAMPLES),
        series({"__name__": "temp", "room": "kitchen"}, temps),
        series({"__name__": "temp", "room": "hall"}, np.round(rng.normal(15, 2, SAMPLES), 2).tolist()),
    ]
    for job, scale in (("api", 1), ("web", 3)):
        for le, step in bucket_steps.items():
            out.append(series({"__name__": "req_duration_seconds_bucket", "job": job, "le": le},
                              _ramp(0, step * scale)))
    for cpu in ("0", "1"):
        for mode, step in (("idle", 12.5), ("user", 2.25), ("system", 0.25)):
            out.append(series({"__name__": "node_cpu_seconds_total", "cpu": cpu, "mode": mode},
                              _ramp(100, step + int(cpu))))
    return out
