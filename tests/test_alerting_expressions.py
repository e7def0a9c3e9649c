"""Alert rules written in PromQL, against the real stack: saved through the API (the expression
parsed at save), evaluated by the worker through the PromQL engine on the tenant's own series,
one alert per result series."""

from contextlib import closing

import orjson

from alerting_support import create_rule, store_samples, transitions
from microdash_core import db
from microdash_core.cursor_series_source import CursorSeriesSource
from microdash_core.matchers import make_matcher
from microdash_workers import alert_store
from microdash_workers.alert_eval import evaluate_tenant, evaluation_timeout
from support import recent_ms

S = 1000
EXPR_RULE = {"name": "load-high", "expr": "node_load1", "comparison": ">", "threshold": 2,
             "annotations": {"summary": "{{ $labels.host }} at {{ $value }}"}}


def expr_rule(stack, tenant_id: int, expr: str, **overrides):
    return create_rule(stack, tenant_id, **{"name": "by-expr", "metric": "", "expr": expr, "threshold": 2.0,
                                            **overrides})


def instance_states(stack, rule_id: int) -> dict[str, tuple[str, float | None]]:
    """Per alert instance (its labels as canonical JSON): state and last value."""
    rows = stack.sql("SELECT labels, state, last_value FROM alert_states WHERE rule_id = %s", (rule_id,))
    return {labels: (state, value) for labels, state, value in rows}


def load(host: str, ts: int, value: float):
    return ("node_load1", {"host": host}, ts, value)


def test_each_result_series_is_one_alert_compared_with_the_threshold(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load("a", now - 20 * S, 1.0), load("a", now - 5 * S, 3.5),
                                     load("b", now - 5 * S, 0.5)])
    rule = expr_rule(stack, tenant.id, "node_load1")
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    # The instant selector takes each series' newest sample; labels are the series' without __name__.
    assert instance_states(stack, rule.id) == {'{"host":"a"}': ("FIRING", 3.5), '{"host":"b"}': ("OK", 0.5)}
    assert transitions(stack, rule.id) == [('{"host":"a"}', "OK", "FIRING", 0)]


def test_functions_and_aggregations_with_for(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-300 * S)
    counter = [("http_requests_total", {"host": host, "code": code}, now - offset * S, (60 - offset) * per_second)
               for host, code, per_second in (("a", "500", 5.0), ("a", "200", 1.0), ("b", "500", 0.1))
               for offset in range(0, 61, 15)]
    store_samples(stack, tenant.id, counter)
    rule = expr_rule(stack, tenant.id, 'sum by (host) (rate(http_requests_total{code=~"5.."}[1m]))', threshold=1.0,
                     for_seconds=30)
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    states = instance_states(stack, rule.id)
    assert {labels: state for labels, (state, _) in states.items()} == {'{"host":"a"}': "PENDING",
                                                                          '{"host":"b"}': "OK"}
    assert abs(states['{"host":"a"}'][1] - 5.0) < 1e-9 and abs(states['{"host":"b"}'][1] - 0.1) < 1e-9
    evaluate_tenant(tenant.id, now_ms=now + 30 * S, settings=stack.settings)
    assert instance_states(stack, rule.id)['{"host":"a"}'][0] == "FIRING"


def test_an_expression_sees_only_its_own_tenants_series(stack):
    tenant, _ = stack.new_tenant()
    other, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load("mine", now - 5 * S, 1.0)])
    store_samples(stack, other.id, [load("theirs", now - 5 * S, 9.0), ("secret_metric", {}, now - 5 * S, 9.0)])
    everything = expr_rule(stack, tenant.id, 'count({__name__=~".+"})', name="count-all", threshold=0.0)
    theirs = expr_rule(stack, tenant.id, "secret_metric", name="theirs", threshold=0.0, nodata_policy="ok")
    load_rule = expr_rule(stack, tenant.id, "node_load1", name="load", threshold=0.0)
    # A budget of one series: any series of the other tenant that were merely looked at would trip it.
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings.model_copy(update={"alert_expr_max_series": 1}))
    assert instance_states(stack, everything.id) == {"{}": ("FIRING", 1.0)}  # its one series, not the other's two
    assert instance_states(stack, theirs.id) == {"{}": ("OK", None)}  # no series at all
    assert instance_states(stack, load_rule.id) == {'{"host":"mine"}': ("FIRING", 1.0)}


def test_an_empty_result_follows_the_no_data_policy(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load("a", now - 5 * S, 3.0)])
    # A filtering expression, as Prometheus rules are written: its series vanish when all is well.
    filtering = expr_rule(stack, tenant.id, "node_load1 > 5", name="filtering", nodata_policy="ok")
    nodata = expr_rule(stack, tenant.id, "node_load1 > 5", name="nodata")
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    assert instance_states(stack, filtering.id) == {"{}": ("OK", None)}
    assert instance_states(stack, nodata.id) == {"{}": ("NODATA", None)}


def test_infinite_and_nan_values_compare_as_in_prometheus_and_are_stored_as_null(stack):
    tenant, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load("a", now - 5 * S, 3.0), load("z", now - 5 * S, 0.0)])
    rule = expr_rule(stack, tenant.id, "node_load1 / 0")
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    # 3/0 = +Inf > 2 fires; 0/0 = NaN compares false: OK, not "no data".
    assert instance_states(stack, rule.id) == {'{"host":"a"}': ("FIRING", None), '{"host":"z"}': ("OK", None)}


def eval_errors(stack, token: str) -> dict[str, str | None]:
    with stack.client(token) as client:
        return {rule["name"]: rule["eval_error"] for rule in client.get("/api/v1/alerts/rules").json()}


def test_an_expression_over_its_budget_waits_and_the_other_rules_go_on(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load("a", now - 5 * S, 3.0), load("b", now - 5 * S, 3.0)])
    too_wide = expr_rule(stack, tenant.id, "node_load1", name="too-wide")
    narrow = expr_rule(stack, tenant.id, 'node_load1{host="a"}', name="narrow")
    plain = create_rule(stack, tenant.id, name="plain", metric="node_load1", threshold=2.0)
    totals = evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings.model_copy(
        update={"alert_expr_max_series": 1}))
    assert totals["rules"] == 2
    assert instance_states(stack, too_wide.id) == {}  # no state written, no transition: it waits
    assert instance_states(stack, narrow.id) == {'{"host":"a"}': ("FIRING", 3.0)}
    assert {state for state, _ in instance_states(stack, plain.id).values()} == {"FIRING"}
    errors = eval_errors(stack, token)
    assert errors["too-wide"].startswith("limit: the expression touches more than 1 series")
    assert errors["narrow"] is None and errors["plain"] is None
    evaluate_tenant(tenant.id, now_ms=now + 15 * S, settings=stack.settings)  # the budget back: it is evaluated
    assert set(instance_states(stack, too_wide.id)) == {'{"host":"a"}', '{"host":"b"}'}
    assert eval_errors(stack, token)["too-wide"] is None


def test_two_series_that_differ_only_in_their_name_are_refused(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load("a", now - 5 * S, 3.0), ("other_load", {"host": "a"}, now - 5 * S, 3.0)])
    clash = expr_rule(stack, tenant.id, '{__name__=~"node_load1|other_load"}', name="clash")
    told_apart = expr_rule(stack, tenant.id, 'label_replace({__name__=~"node_load1|other_load"}, "metric", "$1",'
                                             ' "__name__", "(.+)")', name="told-apart")
    assert evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)["rules"] == 1
    assert instance_states(stack, clash.id) == {}
    assert "once __name__ is dropped" in eval_errors(stack, token)["clash"]
    assert set(instance_states(stack, told_apart.id)) == {'{"host":"a","metric":"node_load1"}',
                                                          '{"host":"a","metric":"other_load"}'}


def test_rules_api_takes_an_expression_and_checks_it_at_save(stack):
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        created = client.post("/api/v1/alerts/rules", json=EXPR_RULE)
        assert created.status_code == 201, created.text
        rule = created.json()
        assert (rule["expr"], rule["metric"], rule["matchers"]) == ("node_load1", "", [])
        assert client.get(f"/api/v1/alerts/rules/{rule['id']}").json()["expr"] == "node_load1"
        changed = client.put(f"/api/v1/alerts/rules/{rule['id']}", json={**EXPR_RULE, "expr": "max(node_load1)"})
        assert changed.status_code == 200 and changed.json()["expr"] == "max(node_load1)"
        metric_rule = client.post("/api/v1/alerts/rules", json={"name": "by-metric", "metric": "m", "comparison": ">",
                                                                "threshold": 1})
        assert metric_rule.status_code == 201 and metric_rule.json()["expr"] is None

        for bad, reason in (({"expr": "sum(rate(x[5m])"}, "parse error"),
                            ({"expr": "rate(x[5m]"}, "parse error"),
                            ({"expr": "node_load1[5m]"}, "instant vector or a scalar"),
                            ({"expr": "node_load1", "metric": "node_load1"}, "either metric"),
                            ({"expr": "node_load1", "matchers": ["host=a"]}, "either metric"),
                            ({"expr": "   "}, "expr must have")):
            response = client.post("/api/v1/alerts/rules", json={**EXPR_RULE, "name": "bad", **bad})
            assert response.status_code == 422, (bad, response.text)
            (error,) = response.json()["errors"]
            assert error["field"] == "expr" and reason in error["error"], (bad, error)
        too_long = client.post("/api/v1/alerts/rules", json={**EXPR_RULE, "name": "bad", "expr": "x" * 2001})
        assert too_long.status_code == 422 and "2000" in too_long.text
        neither = client.post("/api/v1/alerts/rules", json={**EXPR_RULE, "name": "bad", "expr": None})
        assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "metric"
    names = {row[0] for row in stack.sql("SELECT name FROM alert_rules WHERE tenant_id = %s", (tenant.id,))}
    assert names == {"load-high", "by-metric"}  # nothing half-stored


def test_a_rule_saved_through_the_api_is_evaluated_and_notifies_with_its_expression(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms(-60 * S)
    store_samples(stack, tenant.id, [load("n1", now - 5 * S, 7.0)])
    with stack.client(token) as client:
        assert client.post("/api/v1/alerts/channels", json={"name": "ops", "kind": "webhook",
                                                            "config": {"url": "http://127.0.0.1:9/hook"}}).status_code == 201
        rule = client.post("/api/v1/alerts/rules", json=EXPR_RULE).json()
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    ((payload,),) = stack.sql("SELECT payload FROM notifications WHERE rule_id = %s", (rule["id"],))
    sent = orjson.loads(payload)
    assert sent["rule"]["expr"] == "node_load1"
    (alert,) = sent["alerts"]
    assert alert["labels"]["host"] == "n1" and "__name__" not in alert["labels"]
    assert alert["annotations"]["summary"] == "n1 at 7"


def test_each_expression_rule_lengthens_its_tenants_evaluation_job(stack):
    tenant, _ = stack.new_tenant()
    expr_rule(stack, tenant.id, "node_load1", name="one")
    expr_rule(stack, tenant.id, "node_load1", name="two")
    create_rule(stack, tenant.id, name="by-metric")
    with db.transaction(stack.settings) as cursor:
        assert alert_store.tenants_with_rules(cursor)[tenant.id] == 2
    settings = stack.settings.model_copy(update={"alert_eval_interval_seconds": 15, "alert_expr_timeout_seconds": 2.5})
    # A killed job would roll back every rule of the tenant: room for each expression's own timeout.
    assert evaluation_timeout(settings, 0) == 60 and evaluation_timeout(settings, 2) == 66


HOSTS = ["Été", "été", 'q"uote\\d', "plain", "plain "]  # compared byte for byte, escapes and spaces as stored


def test_an_equality_matchers_rule_finds_exactly_its_series_and_never_another_tenants(stack):
    tenant, _ = stack.new_tenant()
    other, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load(host, now - 5 * S, 3.0 + n) for n, host in enumerate(HOSTS)])
    store_samples(stack, other.id, [load(host, now - 5 * S, 90.0) for host in HOSTS])  # same series, other tenant
    rules = {host: expr_rule(stack, tenant.id, f'node_load1{{host="{escaped}"}}', name=f"host-{n}")
             for n, (host, escaped) in enumerate((host, host.replace("\\", "\\\\").replace('"', '\\"'))
                                                 for host in HOSTS)}
    alternatives = expr_rule(stack, tenant.id, 'node_load1{host=~"plain|plain "}', name="alternatives")
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    for n, host in enumerate(HOSTS):
        assert instance_states(stack, rules[host].id) == {orjson.dumps({"host": host}).decode(): ("FIRING", 3.0 + n)}
    assert instance_states(stack, alternatives.id) == {'{"host":"plain"}': ("FIRING", 6.0),
                                                       '{"host":"plain "}': ("FIRING", 7.0)}


def test_the_alert_evaluators_series_lookup_returns_only_the_named_label_values_rows(stack):
    """The narrowing is MariaDB's: the lookup's statement returns the matching series' rows only,
    not every series of the metric for Python to match."""
    tenant, _ = stack.new_tenant()
    other, _ = stack.new_tenant()
    now = recent_ms(-120 * S)
    store_samples(stack, tenant.id, [load(f"h{n}", now - 5 * S, 1.0) for n in range(30)])
    store_samples(stack, other.id, [load("h7", now - 5 * S, 1.0)])

    def lookup(*matchers):
        """(hosts found, rows the statement returned)"""
        with closing(db.connect(stack.settings)) as connection, connection.cursor() as cursor:
            source = CursorSeriesSource(cursor, tenant_id=tenant.id, max_series=100, max_samples=10_000)
            found = source._find_series([make_matcher("__name__", "=", "node_load1"), *matchers])
            return sorted(labels["host"] for labels in found.values()), cursor.rowcount

    assert lookup(make_matcher("host", "=", "h7")) == (["h7"], 1)
    assert lookup(make_matcher("host", "=~", "h1|h2")) == (["h1", "h2"], 2)
    assert lookup(make_matcher("host", "=~", "h1.")) == ([f"h1{n}" for n in range(10)], 30)  # a pattern: not narrowed
    assert lookup(make_matcher("host", "!=", "h7")) == (sorted(f"h{n}" for n in range(30) if n != 7), 30)
