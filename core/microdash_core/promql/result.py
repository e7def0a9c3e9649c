"""A query's answer and its rendering as the "data" object of Prometheus's HTTP API."""

import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np


@dataclass
class ResultSeries:
    labels: dict[str, str]
    timestamps: np.ndarray  # int64 ms; one element in a vector result
    values: np.ndarray  # float64

    def __repr__(self) -> str:  # arrays of thousands of points make a useless, slow repr
        return f"ResultSeries({self.labels!r}, {len(self.values)} points)"


@dataclass
class QueryResult:
    """result_type "matrix" or "vector": series; "scalar": scalar at time_ms; "string": string."""

    result_type: str
    series: list[ResultSeries] = field(default_factory=list)
    time_ms: int = 0
    scalar: float | None = None
    string: str | None = None

    def __repr__(self) -> str:
        if self.result_type in ("matrix", "vector"):
            return f"QueryResult({self.result_type}, {len(self.series)} series)"
        return f"QueryResult({self.result_type}, {self.scalar if self.string is None else self.string!r})"

    def to_prometheus(self) -> dict:
        if self.result_type == "scalar":
            return {"resultType": "scalar", "result": [format_time(self.time_ms), format_value(self.scalar)]}
        if self.result_type == "string":
            return {"resultType": "string", "result": [format_time(self.time_ms), self.string]}
        if self.result_type == "vector":
            return {"resultType": "vector", "result": [
                {"metric": s.labels, "value": [format_time(int(s.timestamps[0])), format_value(float(s.values[0]))]}
                for s in self.series]}
        times: dict[int, int | float] = {}  # a range query's series share one grid of steps
        return {"resultType": "matrix", "result": [
            {"metric": s.labels, "values": _points(s.timestamps, s.values, times)} for s in self.series]}


def _points(timestamps: np.ndarray, values: np.ndarray, times: dict) -> list[list]:
    out = []
    for t, v in zip(timestamps.tolist(), values.tolist()):
        stamp = times.get(t)
        if stamp is None:
            stamp = times[t] = format_time(t)
        text = repr(v)
        if text[-2:] == ".0":
            text = text[:-2]
        elif "e" in text or "n" in text:  # an exponent, nan or inf
            text = format_value(v)
        out.append([stamp, text])
    return out


def format_time(ms: int) -> int | float:
    """Seconds as Prometheus writes them: an integer when whole, else up to millisecond digits."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def format_value(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that round-trip, never an
    exponent; NaN, +Inf and -Inf spelled as Prometheus spells them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text:
        return format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text
