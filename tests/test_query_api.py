"""Series listing and range queries, against data stored by the real pipeline."""

import pytest

from support import recent_ms


def ingest(stack, token, samples):
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics/bulk", json=samples)
    assert response.status_code == 202, response.text
    return response.json()["accepted"]


def test_series_are_listed_and_filtered_by_matchers(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms(-1000)
    samples = [{"metric": "disk.used", "value": 1, "ts": now, "labels": {"host": host, "env": env}}
               for host, env in (("a1", "prod"), ("a2", "prod"), ("b1", "dev"))]
    samples.append({"metric": "net.rx", "value": 1, "ts": now, "labels": {"host": "a1"}})
    stack.wait_for_samples(tenant.id, ingest(stack, token, samples))
    with stack.client(token) as client:
        everything = client.get("/api/v1/series").json()["series"]
        prod = client.get("/api/v1/series", params={"metric": "disk.used", "match": "env=prod"}).json()["series"]
        regex = client.get("/api/v1/series", params=[("metric", "disk.used"), ("match", "host=~a.*"),
                                                     ("match", "host!=a2")]).json()["series"]
        not_dev = client.get("/api/v1/series", params={"match": "env!~d.*"}).json()["series"]
        bad = client.get("/api/v1/series", params={"match": "host=~("})
    assert len(everything) == 4
    assert sorted(s["labels"]["host"] for s in prod) == ["a1", "a2"]
    assert [s["labels"] for s in regex] == [{"env": "prod", "host": "a1"}]
    assert len(not_dev) == 3  # a missing label matches as "" (Prometheus semantics)
    assert bad.status_code == 422 and "bad regex" in bad.json()["detail"]


def test_query_aggregates_per_step(stack):
    tenant, token = stack.new_tenant()
    base = (recent_ms(-600_000) // 60_000) * 60_000
    values = [1.0, 5.0, 3.0, 10.0, 20.0]
    samples = [{"metric": "load", "value": v, "ts": base + i * 10_000, "labels": {"host": "x"}}
               for i, v in enumerate(values)]  # buckets of 30 s: [1, 5, 3] and [10, 20]
    stack.wait_for_samples(tenant.id, ingest(stack, token, samples))
    expected = {"avg": [3.0, 15.0], "min": [1.0, 10.0], "max": [5.0, 20.0], "sum": [9.0, 30.0],
                "count": [3.0, 2.0], "last": [3.0, 20.0]}
    with stack.client(token) as client:
        for aggregation, wanted in expected.items():
            result = client.get("/api/v1/query", params={"metric": "load", "start": base, "end": base + 60_000,
                                                         "step": 30_000, "aggregation": aggregation}).json()
            (series,) = result["series"]
            assert series["labels"] == {"host": "x"}
            assert series["points"] == [[base, wanted[0]], [base + 30_000, wanted[1]]], aggregation
            assert result["resolution"] == "raw"


def test_query_range_is_half_open_and_validated(stack):
    tenant, token = stack.new_tenant()
    base = recent_ms(-100_000)
    stack.wait_for_samples(tenant.id, ingest(stack, token, [
        {"metric": "m", "value": 1, "ts": base}, {"metric": "m", "value": 2, "ts": base + 1000}]))
    with stack.client(token) as client:
        only_first = client.get("/api/v1/query", params={"metric": "m", "start": base, "end": base + 1000,
                                                         "step": 1}).json()
        inverted = client.get("/api/v1/query", params={"metric": "m", "start": base, "end": base - 1})
        too_many_points = client.get("/api/v1/query", params={"metric": "m", "start": 0, "end": base, "step": 1})
        bad_metric = client.get("/api/v1/query", params={"metric": "a b"})
    assert only_first["series"][0]["points"] == [[base, 1.0]]
    assert inverted.status_code == too_many_points.status_code == bad_metric.status_code == 422


def test_sums_of_the_largest_accepted_values_do_not_overflow(stack):
    """MariaDB's SUM of doubles answers 0 when it overflows: values that could overflow are refused
    at the edge (|value| <= 1e290), and the largest accepted ones sum correctly."""
    tenant, token = stack.new_tenant()
    base = (recent_ms(-600_000) // 60_000) * 60_000
    with stack.client(token) as client:
        refused = client.post("/api/v1/metrics/bulk", json=[{"metric": "huge", "value": v, "ts": base + i}
                                                            for i, v in enumerate([1e308, 1e308])])
        assert refused.status_code == 422 and "1e+290" in refused.text
    samples = [{"metric": "huge", "value": 1e290, "ts": base + i * 1000} for i in range(3)]
    stack.wait_for_samples(tenant.id, ingest(stack, token, samples))
    with stack.client(token) as client:
        for aggregation, wanted in (("sum", 3e290), ("avg", 1e290)):
            result = client.get("/api/v1/query", params={"metric": "huge", "start": base, "end": base + 30_000,
                                                         "step": 30_000, "aggregation": aggregation}).json()
            assert result["series"][0]["points"][0][1] == pytest.approx(wanted, rel=1e-12), (aggregation, result)
