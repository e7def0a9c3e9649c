"""Values of a tenant's PromQL alert rules: each expression evaluated at `now` by the PromQL
engine, reading the tenant's series through the evaluator's own cursor (inside its transaction).

A rule whose expression fails (a limit, the timeout, a result that cannot be alerted on) is left
out of this evaluation: its states stay as they were, and the reason is logged and kept on the rule
(alert_rules.eval_error) until it evaluates again. Data that merely vanished is not an error; the
no-data policy handles it.
"""

import asyncio
import logging

from pymysql.cursors import Cursor

from microdash_core.alerting.expressions import Values, evaluate_expression
from microdash_core.alerting.rules import Rule
from microdash_core.cursor_series_source import CursorSeriesSource
from microdash_core.promql import PromQLError, QueryLimits
from microdash_core.settings import Settings

log = logging.getLogger(__name__)


MAX_ERROR_LENGTH = 1000  # alert_rules.eval_error


def expression_values(cursor: Cursor, settings: Settings, rules: list[Rule],
                      now_ms: int) -> tuple[dict[int, Values], dict[int, str | None]]:
    """Per rule that evaluated: its value per alert instance (rules that failed are absent); and
    per rule: why it failed, or None."""
    if not rules:
        return {}, {}
    return asyncio.run(_evaluate_all(cursor, settings, rules, now_ms))


async def _evaluate_all(cursor: Cursor, settings: Settings, rules: list[Rule],
                        now_ms: int) -> tuple[dict[int, Values], dict[int, str | None]]:
    limits = QueryLimits(max_series=settings.alert_expr_max_series, max_points=settings.alert_expr_max_samples,
                         timeout_seconds=settings.alert_expr_timeout_seconds)
    values, errors = {}, {}
    for rule in rules:
        source = CursorSeriesSource(cursor, tenant_id=rule.tenant_id, max_series=settings.alert_expr_max_series,
                                    max_samples=settings.alert_expr_max_samples)
        try:
            values[rule.id] = await evaluate_expression(rule.expr, source=source, now_ms=now_ms, limits=limits)
            errors[rule.id] = None
        except PromQLError as exc:
            errors[rule.id] = f"{exc.kind}: {exc.message}"[:MAX_ERROR_LENGTH]
            log.warning("alert rule expression not evaluated", extra={
                "tenant_id": rule.tenant_id, "rule_id": rule.id, "rule": rule.name, "kind": exc.kind,
                "reason": exc.message})
    return values, errors
