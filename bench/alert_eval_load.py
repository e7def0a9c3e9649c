"""Alert evaluation throughput (issue: alerting): 10,000 rules over 100 tenants, one full cycle.

Each tenant gets 10 series with a fresh sample and 100 rules (each matching one series, a tenth
of them firing). With `promql`, the same rules are PromQL expressions
(`avg_over_time({__name__="bench.alert", host="h3"}[10m]) > 8.5`): one instant query each. A cycle is the scheduled job (one RQ job per tenant) run by the stack's workers,
timed from the fan-out until every rule's state carries the new evaluation. The first cycle
creates the states; the second, the steady case, only updates them.
"""

import time

from microdash_core import db
from microdash_core.alerting.rule_rows import WRITABLE_COLUMNS, row_values
from microdash_core.alerting.rules import Rule
from microdash_workers.alert_eval import schedule_evaluations
from microdash_workers.storage import SampleStore

SERIES_PER_TENANT = 10
CYCLE_TIMEOUT_S = 300.0


def _rule(tenant_id: int, i: int, promql: bool) -> Rule:
    host = f"h{i % SERIES_PER_TENANT}"
    if promql:
        return Rule(id=0, tenant_id=tenant_id, name=f"rule-{i}", metric="", matchers=(), aggregation="avg",
                    window_seconds=600,
                    expr=f'avg_over_time({{__name__="bench.alert", host="{host}"}}[10m])', comparison=">",
                    threshold=8.5)
    return Rule(id=0, tenant_id=tenant_id, name=f"rule-{i}", metric="bench.alert", matchers=(f"host={host}",),
                aggregation="avg", window_seconds=600, comparison=">", threshold=8.5)


def _setup_tenant(stack, tenant_id: int, rules: int, now_ms: int, promql: bool) -> None:
    store = SampleStore(stack.settings)
    try:
        store.store(tenant_id=tenant_id, samples=[("bench.alert", {"host": f"h{n}"}, now_ms - 1_000, float(n))
                                                  for n in range(SERIES_PER_TENANT)])
    finally:
        store.close()
    columns = ", ".join(("tenant_id", *WRITABLE_COLUMNS))
    placeholders = ", ".join(["%s"] * (len(WRITABLE_COLUMNS) + 1))
    rows = [[tenant_id, *row_values(_rule(tenant_id, i, promql))] for i in range(rules)]
    with db.transaction(stack.settings) as cursor:
        cursor.executemany(f"INSERT INTO alert_rules ({columns}) VALUES ({placeholders})", rows)


def _time_cycle(stack, tenant_ids: list[int], rules: int) -> float:
    started_ms = int(time.time() * 1000)
    started = time.monotonic()
    schedule_evaluations(stack.settings)
    placeholders = ",".join(["%s"] * len(tenant_ids))
    while True:
        with db.transaction(stack.settings) as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM alert_states WHERE tenant_id IN ({placeholders})"
                           " AND last_evaluated >= %s", [*tenant_ids, started_ms])
            (done,) = cursor.fetchone()
        if done >= rules:
            return time.monotonic() - started
        if time.monotonic() - started > CYCLE_TIMEOUT_S:
            raise TimeoutError(f"{done} of {rules} rules evaluated after {CYCLE_TIMEOUT_S} s")
        time.sleep(0.02)


def run_alert_eval(stack, *, tenants: int, rules_per_tenant: int, promql: bool = False) -> dict:
    now_ms = int(time.time() * 1000)
    prefix = "alert_eval_promql" if promql else "alert_eval"
    tenant_ids = [stack.create_tenant(f"bench-{prefix.replace('_', '-')}-{n}").id for n in range(tenants)]
    for tenant_id in tenant_ids:
        _setup_tenant(stack, tenant_id, rules_per_tenant, now_ms, promql)
    rules = tenants * rules_per_tenant
    first = _time_cycle(stack, tenant_ids, rules)
    steady = _time_cycle(stack, tenant_ids, rules)
    return {
        f"{prefix}_rules_per_s": round(rules / steady),
        f"{prefix}_cycle_s": round(steady, 3),
        f"{prefix}_detail": {"tenants": tenants, "rules": rules, "first_cycle_s": round(first, 3)},
    }
