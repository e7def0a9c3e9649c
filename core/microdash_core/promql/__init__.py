"""PromQL evaluation over any SeriesSource: a pure library, with no I/O but the source's.

Public surface (the Prometheus HTTP API in microdash_api calls only these):

    parse(text) -> Expr                      # raises PromQLError("bad_data", ...)
    await instant_query(text, *, source, time_ms, limits, lookback_ms=300_000) -> QueryResult
    await range_query(text, *, source, start_ms, end_ms, step_ms, limits, lookback_ms=300_000)
    QueryResult.result_type                  # "matrix" | "vector" | "scalar" | "string"
    QueryResult.to_prometheus()              # the "data" object of Prometheus's envelope
    QueryResult.series                       # [ResultSeries(labels, timestamps ms, values)]
    PromQLError.kind                         # see below
    QueryLimits, LabelMatcher, SelectHints, RawSeries, SeriesSource (a Protocol)

PromQLError.kind and the status the edge answers:
    "bad_data"    400  parse and type errors, bad arguments (Prometheus errorType "bad_data")
    "execution"   422  well-formed query whose data makes it fail, e.g. many-to-many matching or
                       duplicate label sets after a function (Prometheus errorType "execution")
    "unsupported" 422  a function or feature the engine lacks; the message names it
    "limit"       422  QueryLimits.max_series or max_points exceeded
    "timeout"     503  QueryLimits.timeout_seconds exceeded

Semantics are Prometheus 2.4x's (the version Debian ships and the oracle tests run): range
selectors and the lookback window include their left boundary. docs/promql.md lists the subset.
"""

from .engine import instant_query, range_query
from .errors import PromQLError
from .model import LabelMatcher, QueryLimits, RawSeries, SelectHints, SeriesSource
from .parsing import Expr, parse, value_type
from .result import QueryResult, ResultSeries

__all__ = ["Expr", "LabelMatcher", "PromQLError", "QueryLimits", "QueryResult", "RawSeries",
           "ResultSeries", "SelectHints", "SeriesSource", "instant_query", "parse", "range_query",
           "value_type"]
