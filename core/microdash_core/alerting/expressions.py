"""Alert rules written in PromQL: which expressions a rule may hold, and how its instant result
becomes the per-series values the state machine compares with the threshold.

As in Prometheus, an alert instance is a result series' labels without __name__; two series
that only differ in __name__ would be one instance, so that result is refused.
"""

from ..promql import PromQLError, QueryLimits, QueryResult, SeriesSource, instant_query, parse, value_type
from .fingerprints import fingerprint

Values = dict[bytes, tuple[dict[str, str], float | None]]
ALERTABLE_TYPES = ("vector", "scalar")
NAME = "__name__"


def check_alert_expression(text: str) -> None:
    """Raise PromQLError (bad_data) unless the text parses to an instant vector or a scalar."""
    kind = value_type(parse(text))
    if kind not in ALERTABLE_TYPES:
        raise PromQLError("bad_data", f"an alert expression must give an instant vector or a scalar, not a {kind}"
                                      " (a range selector needs a function such as rate() or avg_over_time())")


async def evaluate_expression(text: str, *, source: SeriesSource, now_ms: int, limits: QueryLimits,
                              lookback_ms: int = 300_000) -> Values:
    """The expression's value per alert instance at now_ms. Raises PromQLError."""
    result = await instant_query(text, source=source, time_ms=now_ms, limits=limits, lookback_ms=lookback_ms)
    return alert_values(result)


def alert_values(result: QueryResult) -> Values:
    if result.result_type == "scalar":
        return {fingerprint({}): ({}, result.scalar)}
    if result.result_type != "vector":
        raise PromQLError("bad_data", f"an alert expression must give an instant vector or a scalar,"
                                      f" not a {result.result_type}")
    values: Values = {}
    for series in result.series:
        labels = {name: value for name, value in series.labels.items() if name != NAME}
        key = fingerprint(labels)
        if key in values:
            raise PromQLError("execution", f"two result series have the labels {labels} once __name__ is dropped;"
                                           " aggregate them or tell them apart with a label")
        # NaN stays a value: it compares false with any threshold, as in Prometheus, so its
        # series is OK rather than without data.
        values[key] = (labels, float(series.values[0]))
    return values
