"""How a rule is stored: the column list and the row <-> Rule conversion, shared by the API, the
evaluator and (later) the operator."""

import orjson

from .rules import Rule

RULE_COLUMNS = ("id, tenant_id, name, metric, matchers, aggregation, window_seconds, comparison, threshold,"
                " recovery_threshold, for_seconds, keep_firing_for_seconds, nodata_policy, nodata_after, severity,"
                " labels, annotations, channels, expr")
WRITABLE_COLUMNS = ("name", "metric", "expr", "matchers", "aggregation", "window_seconds", "comparison", "threshold",
                    "recovery_threshold", "for_seconds", "keep_firing_for_seconds", "nodata_policy", "nodata_after",
                    "severity", "labels", "annotations", "channels")
_JSON_COLUMNS = {"matchers", "labels", "annotations", "channels"}


def rule_from_row(row) -> Rule:
    (rule_id, tenant_id, name, metric, matchers, aggregation, window_seconds, comparison, threshold, recovery,
     for_seconds, keep_firing_for, nodata_policy, nodata_after, severity, labels, annotations, channels, expr) = row
    return Rule(id=rule_id, tenant_id=tenant_id, name=name, metric=metric, matchers=tuple(orjson.loads(matchers)),
                aggregation=aggregation, window_seconds=window_seconds, comparison=comparison,
                threshold=float(threshold), recovery_threshold=None if recovery is None else float(recovery),
                for_seconds=for_seconds, keep_firing_for_seconds=keep_firing_for, nodata_policy=nodata_policy,
                nodata_after=nodata_after, severity=severity, labels=orjson.loads(labels),
                annotations=orjson.loads(annotations), channels=tuple(orjson.loads(channels)), expr=expr)


def row_values(rule: Rule) -> list:
    """The WRITABLE_COLUMNS of a rule, in order, JSON columns encoded."""
    values = []
    for column in WRITABLE_COLUMNS:
        value = getattr(rule, column)
        if column in _JSON_COLUMNS:
            value = orjson.dumps(list(value) if isinstance(value, tuple) else value).decode()
        values.append(value)
    return values
