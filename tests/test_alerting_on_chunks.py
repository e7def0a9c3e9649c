"""Alert rules over the chunked store: a metric rule's aggregates are the same, to the bit, as the
SQL aggregates over the legacy head were, whether the window is in the log (with the same samples
also in the legacy head), partly sealed or all sealed;
a window spanning a chunk and the head fires on both; a sample re-written after its window was
sealed wins; a PromQL rule reads chunks too, and a chunk that cannot be decoded is the rule's
error, not a crash of the tenant's evaluation."""

import numpy as np

from alerting_support import create_rule, store_samples
from microdash_core import db
from microdash_workers import alert_store
from microdash_workers.alert_eval import evaluate_tenant
from store_support import chunk_samples, seal_head
from support import recent_ms

S = 1000
AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last")
SQL_AGGREGATES = {"avg": "AVG(value)", "min": "MIN(value)", "max": "MAX(value)", "sum": "SUM(value)",
                  "count": "COUNT(*)"}


def _values(stack, tenant_id: int, rules, now: int) -> dict:
    with db.transaction(stack.settings) as cursor:
        found = alert_store.read_values(cursor, tenant_id, rules, now)
    return {rule.id: {labels["host"]: value for labels, value in found[rule.id].values()} for rule in rules}


def _legacy_copy(stack, tenant_id: int, samples: list[tuple[str, dict, int, float]]) -> None:
    """The same samples as legacy head rows (one row per sample), where SQL can aggregate them."""
    ids = {host: series_id for series_id, host in
           stack.sql("SELECT id, JSON_VALUE(labels, '$.host') FROM series WHERE tenant_id = %s", (tenant_id,))}
    with db.transaction(stack.settings) as cursor:
        cursor.executemany("INSERT INTO samples VALUES (%s, %s, %s, %s)",
                           [(tenant_id, ids[labels["host"]], ts, value) for _metric, labels, ts, value in samples])


def _sql_aggregates(stack, tenant_id: int, aggregation: str, window_seconds: int, now: int) -> dict[str, float]:
    """What the evaluator computed before the chunked store: SQL over the head."""
    where = "s.tenant_id = %s AND s.ts > %s AND s.ts <= %s"
    params = (tenant_id, now - window_seconds * 1000, now)
    if aggregation == "last":
        rows = stack.sql("SELECT JSON_VALUE(r.labels, '$.host'), s.value FROM samples s"
                         f" JOIN series r ON r.id = s.series_id WHERE {where} AND s.ts = (SELECT MAX(ts)"
                         " FROM samples t WHERE t.tenant_id = s.tenant_id AND t.series_id = s.series_id"
                         " AND t.ts > %s AND t.ts <= %s)", (*params, *params[1:]))
    else:
        rows = stack.sql(f"SELECT JSON_VALUE(r.labels, '$.host'), {SQL_AGGREGATES[aggregation]} FROM samples s"
                         f" JOIN series r ON r.id = s.series_id WHERE {where} GROUP BY s.series_id", params)
    return {host: float(value) for host, value in rows}


def test_metric_rule_values_are_the_sql_aggregates_to_the_bit_wherever_the_samples_are(stack):
    tenant, _ = stack.new_tenant("alertchunks")
    now = recent_ms(-120 * S)
    rng = np.random.default_rng(5)
    samples = [("cpu", {"host": host}, now - offset * S, float(value))
               for host in ("a", "b") for offset, value in zip(range(0, 90), rng.normal(50, 30, 90))]
    store_samples(stack, tenant.id, samples)
    _legacy_copy(stack, tenant.id, samples)
    rules = [create_rule(stack, tenant.id, name=f"{aggregation}-{window}", aggregation=aggregation,
                         window_seconds=window) for aggregation in AGGREGATIONS for window in (30, 60)]
    from_head = _values(stack, tenant.id, rules, now)
    for rule in rules:
        assert from_head[rule.id] == _sql_aggregates(stack, tenant.id, rule.aggregation, rule.window_seconds, now)
        assert from_head[rule.id].keys() == {"a", "b"}

    seal_head(stack.settings, tenant.id, before_ms=now - 45 * S)  # the 60 s windows span chunk and head
    assert chunk_samples(stack, tenant.id) == 2 * 44
    assert _values(stack, tenant.id, rules, now) == from_head
    seal_head(stack.settings, tenant.id, before_ms=now + 1)
    assert _values(stack, tenant.id, rules, now) == from_head


def test_a_window_over_a_chunk_and_the_head_fires_and_a_rewritten_sample_wins(stack):
    tenant, _ = stack.new_tenant("alertspan")
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [("cpu", {"host": "a"}, now - 40 * S, 99.0),
                                     ("cpu", {"host": "a"}, now - 30 * S, 99.0)])
    seal_head(stack.settings, tenant.id, before_ms=now - 20 * S)
    store_samples(stack, tenant.id, [("cpu", {"host": "a"}, now - 10 * S, 90.0)])
    rule = create_rule(stack, tenant.id)  # avg over 60 s > 90: only with the sealed samples
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    assert stack.sql("SELECT state, last_value FROM alert_states WHERE rule_id = %s", (rule.id,)) == [("FIRING", 96.0)]

    store_samples(stack, tenant.id, [("cpu", {"host": "a"}, now - 40 * S, 0.0)])  # into the head; its window sealed
    assert _values(stack, tenant.id, [rule], now) == {rule.id: {"a": (0.0 + 99.0 + 90.0) / 3}}
    last = create_rule(stack, tenant.id, name="last", aggregation="last", window_seconds=35)
    store_samples(stack, tenant.id, [("cpu", {"host": "a"}, now - 10 * S, 12.5)])
    seal_head(stack.settings, tenant.id, before_ms=now + 1)  # now merged: the newer value kept
    store_samples(stack, tenant.id, [("cpu", {"host": "a"}, now - 10 * S, 7.0)])
    assert _values(stack, tenant.id, [last], now) == {last.id: {"a": 7.0}}


def test_a_promql_rule_reads_chunks_and_a_corrupt_chunk_is_its_error(stack):
    tenant, _ = stack.new_tenant("exprchunks")
    other, _ = stack.new_tenant("exprother")
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [("node_load1", {"host": "a"}, now - offset * S, 1.0 + offset / 10)
                                     for offset in range(0, 60, 5)])
    seal_head(stack.settings, tenant.id, before_ms=now - 20 * S)
    rule = create_rule(stack, tenant.id, name="by-expr", metric="", expr="max_over_time(node_load1[1m])", threshold=2.0)
    theirs = create_rule(stack, other.id, name="by-expr", metric="", expr="max_over_time(node_load1[1m])",
                         threshold=2.0)
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    evaluate_tenant(other.id, now_ms=now, settings=stack.settings)
    assert stack.sql("SELECT state, last_value FROM alert_states WHERE rule_id = %s", (rule.id,)) == [
        ("FIRING", 1.0 + 55 / 10)]  # the oldest sample, sealed
    assert stack.sql("SELECT state FROM alert_states WHERE rule_id = %s", (theirs.id,)) == [("NODATA",)]

    stack.sql("UPDATE sample_chunks SET data = CONCAT(LEFT(data, 50), CHAR(ASCII(SUBSTRING(data, 51, 1)) ^ 1),"
              " SUBSTRING(data, 52)) WHERE tenant_id = %s", (tenant.id,))
    evaluate_tenant(tenant.id, now_ms=now + 5 * S, settings=stack.settings)
    (error,), = stack.sql("SELECT eval_error FROM alert_rules WHERE id = %s", (rule.id,))
    assert error.startswith("internal: stored samples could not be decoded") and "series" in error, error
