"""The evaluation job against the real stack's MariaDB: fan-out per series, persisted states and
history, silences, repeats, concurrent evaluators, and the scheduled per-tenant jobs."""

import threading
import time
from contextlib import closing

import redis

from alerting_support import create_channel, create_rule, states, store_samples, transitions
from microdash_core import db
from microdash_core.settings import Settings
from microdash_workers.alert_eval import evaluate_rules, evaluate_tenant, schedule_evaluations
from support import recent_ms

S = 1000


def cpu(host: str, ts: int, value: float):
    return ("cpu", {"host": host}, ts, value)


def test_each_series_gets_its_own_state_and_history(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [cpu("a", now - 30 * S, 94), cpu("a", now - 10 * S, 96), cpu("b", now - 10 * S, 10),
                                     ("mem", {"host": "a"}, now - 10 * S, 99)])
    rule = create_rule(stack, tenant.id, matchers=("host=~a|b",))
    assert evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)["transitions"] == 1
    assert states(stack, rule.id) == {"a": "FIRING", "b": "OK"}
    (value,), = stack.sql("SELECT last_value FROM alert_states WHERE rule_id = %s AND state = 'FIRING'", (rule.id,))
    assert value == 95.0  # avg over the window
    evaluate_tenant(tenant.id, now_ms=now + 15 * S, settings=stack.settings)
    assert transitions(stack, rule.id) == [('{"host":"a"}', "OK", "FIRING", 0)]
    evaluate_tenant(tenant.id, now_ms=now + 90 * S, settings=stack.settings)  # the window is empty now
    assert states(stack, rule.id) == {"a": "NODATA", "b": "NODATA"}


def test_other_tenants_samples_are_never_read(stack):
    tenant, _ = stack.new_tenant()
    other, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, other.id, [cpu("a", now - 10 * S, 99)])
    rule = create_rule(stack, tenant.id)
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    # No series of its own: the rule as a whole has no data (labels {}); nothing of the other tenant.
    assert states(stack, rule.id) == {"": "NODATA"}
    assert transitions(stack, rule.id) == [("{}", "OK", "NODATA", 0)]


def test_last_and_max_aggregations_and_pending_before_for(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [cpu("a", now - 20 * S, 99), cpu("a", now - 5 * S, 50)])
    last = create_rule(stack, tenant.id, name="last", aggregation="last")
    peak = create_rule(stack, tenant.id, name="max", aggregation="max", for_seconds=30)
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    assert states(stack, last.id) == {"a": "OK"} and states(stack, peak.id) == {"a": "PENDING"}
    evaluate_tenant(tenant.id, now_ms=now + 30 * S, settings=stack.settings)
    assert states(stack, peak.id) == {"a": "FIRING"}


def test_two_evaluators_at_once_never_double_fire(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [cpu(f"h{i}", now - 10 * S, 95) for i in range(30)])
    rule = create_rule(stack, tenant.id)
    create_channel(stack, tenant.id, config={"url": "http://127.0.0.1:9/unreachable"})
    barrier = threading.Barrier(2)
    results = []

    def evaluate(name: str) -> None:
        with closing(db.connect(stack.settings)) as database:
            barrier.wait()
            results.append(evaluate_rules(database, stack.settings, tenant_id=tenant.id, now_ms=now, evaluator=name))

    threads = [threading.Thread(target=evaluate, args=(f"evaluator-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result["transitions"] for result in results) == [0, 30]
    assert sum(result["notifications"] for result in results) == 1  # one notification for the channel, not two
    rows = stack.sql("SELECT to_state, COUNT(*), COUNT(DISTINCT fingerprint) FROM alert_transitions"
                     " WHERE rule_id = %s GROUP BY to_state", (rule.id,))
    assert rows == [("FIRING", 30, 30)]


def test_silenced_transitions_are_recorded_but_not_notified(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [cpu("a", now - 10 * S, 95), cpu("b", now - 10 * S, 95)])
    rule = create_rule(stack, tenant.id)
    create_channel(stack, tenant.id, config={"url": "http://127.0.0.1:9/unreachable"})
    stack.sql("INSERT INTO silences (tenant_id, rule_id, matchers, starts_at, ends_at, created_by)"
              " VALUES (%s, NULL, '[\"host=a\"]', %s, %s, 'test')", (tenant.id, now - S, now + 20 * S))
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    assert sorted(transitions(stack, rule.id)) == [('{"host":"a"}', "OK", "FIRING", 1),
                                                   ('{"host":"b"}', "OK", "FIRING", 0)]
    (payload,), = stack.sql("SELECT payload FROM notifications WHERE rule_id = %s", (rule.id,))
    assert '"host":"b"' in payload and '"host":"a"' not in payload
    # Once the silence has ended, the still-firing alert is announced.
    evaluate_tenant(tenant.id, now_ms=now + 30 * S, settings=stack.settings)
    payloads = [row[0] for row in stack.sql("SELECT payload FROM notifications WHERE rule_id = %s ORDER BY id",
                                            (rule.id,))]
    assert len(payloads) == 2 and '"host":"a"' in payloads[1] and '"host":"b"' not in payloads[1]


def test_still_firing_alerts_are_repeated_on_the_interval(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-300 * S)
    store_samples(stack, tenant.id, [cpu("a", now + offset * S, 95) for offset in range(-10, 120, 10)])
    rule = create_rule(stack, tenant.id)
    create_channel(stack, tenant.id, config={"url": "http://127.0.0.1:9/unreachable"})
    settings = Settings(**{**stack.settings.model_dump(), "alert_repeat_interval_seconds": 60})
    for offset in (0, 15, 30, 45, 60, 75):
        evaluate_tenant(tenant.id, now_ms=now + offset * S, settings=settings)
    rows = stack.sql("SELECT transition_ids, created_at FROM notifications WHERE rule_id = %s ORDER BY id", (rule.id,))
    assert [(ids, at - now) for ids, at in rows] == [(rows[0][0], 0), ("[]", 60 * S)]
    assert rows[0][0] != "[]"


def test_the_scheduled_job_fans_out_one_evaluation_per_tenant(stack):
    tenants = [stack.new_tenant()[0] for _ in range(2)]
    rules = []
    for tenant in tenants:
        store_samples(stack, tenant.id, [cpu("a", recent_ms(-2 * S), 99)])
        rules.append(create_rule(stack, tenant.id))
    assert schedule_evaluations(stack.settings) >= 2  # the stack's worker runs the per-tenant jobs
    deadline = time.monotonic() + 30
    while any(states(stack, rule.id) != {"a": "FIRING"} for rule in rules):
        assert time.monotonic() < deadline, [states(stack, rule.id) for rule in rules]
        time.sleep(0.1)
    assert redis.Redis.from_url(stack.settings.redis_url).ping()


def test_silences_match_the_alert_labels_including_alertname(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [cpu("a", now - 10 * S, 95)])
    silenced = create_rule(stack, tenant.id, name="noisy", labels={"team": "db"})
    loud = create_rule(stack, tenant.id, name="loud")
    stack.sql("INSERT INTO silences (tenant_id, rule_id, matchers, starts_at, ends_at, created_by)"
              " VALUES (%s, NULL, '[\"alertname=noisy\", \"team=db\"]', %s, %s, 'test')",
              (tenant.id, now - S, now + 60 * S))
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    assert [row[3] for row in transitions(stack, silenced.id)] == [1]
    assert [row[3] for row in transitions(stack, loud.id)] == [0]
