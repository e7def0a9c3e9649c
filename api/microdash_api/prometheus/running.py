"""Runs one PromQL query for one tenant with its budgets, and turns every way it can fail into
the Prometheus error it is: the engine's kinds, a timeout, an unavailable database.

The evaluation runs on a thread of its own (with its own event loop), so a query's seconds of
numpy work do not stall the server's loop, which keeps serving ingest, SSE and other queries;
the engine's selects are handed back to the server's loop, where the database pool lives. The
thread stops at the engine's own deadline (the same timeout), and the default executor's few
threads bound how many queries evaluate at once."""

import asyncio
import time


from microdash_core.promql import PromQLError, QueryLimits, instant_query, range_query
from microdash_core.settings import Settings

from ..sql import OUTAGE_ERRORS
from ..state import AppState
from .envelope import PrometheusApiError
from .read_plan import RetentionDays
from .source import MariaDBSeriesSource, QueryBudget


def now_ms() -> int:
    return int(time.time() * 1000)


def _limits(settings: Settings, timeout_seconds: float) -> QueryLimits:
    return QueryLimits(max_series=settings.promql_max_series, max_points=settings.promql_max_points,
                       timeout_seconds=timeout_seconds)


def _source(state: AppState, tenant_id: int, timeout_seconds: float) -> MariaDBSeriesSource:
    settings = state.settings
    return MariaDBSeriesSource(
        state.db, tenant_id=tenant_id,
        budget=QueryBudget(max_series=settings.promql_max_series, max_samples=settings.promql_max_samples,
                           timeout_seconds=timeout_seconds),
        retention=RetentionDays(raw=settings.retention_raw_days, one_minute=settings.retention_1m_days),
        lookback_ms=settings.promql_lookback_delta_seconds * 1000)


class _OnServerLoop:
    """The source as seen from the query's thread: each select runs on the server's loop."""

    def __init__(self, source: MariaDBSeriesSource, loop: asyncio.AbstractEventLoop):
        self._source = source
        self._loop = loop

    async def select(self, *args):
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._source.select(*args), self._loop))


async def run_instant(state: AppState, tenant_id: int, text: str, *, time_ms: int, timeout_seconds: float):
    source = _OnServerLoop(_source(state, tenant_id, timeout_seconds), asyncio.get_running_loop())
    limits = _limits(state.settings, timeout_seconds)
    lookback_ms = state.settings.promql_lookback_delta_seconds * 1000
    return await _guarded(lambda: instant_query(text, source=source, time_ms=time_ms, limits=limits,
                                                lookback_ms=lookback_ms), timeout_seconds)


async def run_range(state: AppState, tenant_id: int, text: str, *, start_ms: int, end_ms: int, step_ms: int,
                    timeout_seconds: float):
    source = _OnServerLoop(_source(state, tenant_id, timeout_seconds), asyncio.get_running_loop())
    limits = _limits(state.settings, timeout_seconds)
    lookback_ms = state.settings.promql_lookback_delta_seconds * 1000
    return await _guarded(lambda: range_query(text, source=source, start_ms=start_ms, end_ms=end_ms,
                                              step_ms=step_ms, limits=limits, lookback_ms=lookback_ms),
                          timeout_seconds)


async def _guarded(query, timeout_seconds: float):
    try:
        return await asyncio.wait_for(asyncio.to_thread(lambda: asyncio.run(query())), timeout_seconds)
    except PromQLError as exc:
        raise PrometheusApiError(exc.kind, str(exc)) from None
    except TimeoutError:
        raise PrometheusApiError("timeout", f"the query ran longer than {timeout_seconds:g} s"
                                            " (MICRODASH_PROMQL_TIMEOUT_SECONDS)") from None
    except OUTAGE_ERRORS:
        raise PrometheusApiError("unavailable", "the database is unavailable, retry later") from None
