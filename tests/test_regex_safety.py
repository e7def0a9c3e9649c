"""Tenant-written label regexes run on RE2: a pattern that backtracks exponentially on Python's
engine (``(a+)+b`` against a run of a's) answers in milliseconds on the api's event loop and in
the alert worker, and a pattern RE2 refuses is a 422 naming the field."""

import threading
import time

import httpx
import pytest

from alerting_support import create_rule, store_samples, transitions
from microdash_core.errors import InvalidInput
from microdash_core.matchers import MAX_SUBJECT_LENGTH, all_match, parse_matchers
from microdash_workers.alert_eval import evaluate_tenant
from support import recent_ms

EVIL = "host=~(a+)+b"
# Python's re needs about 1.3 s for this one value; each extra "a" doubles it.
VICTIMS = ["a" * 25 + suffix for suffix in "cde"]
S = 1000


def test_a_nested_quantifier_matches_in_linear_time():
    matchers = parse_matchers([EVIL])
    started = time.perf_counter()
    assert not all_match(matchers, {"host": "a" * 1000 + "c"})
    assert time.perf_counter() - started < 0.05


def test_regexes_stay_anchored_and_dot_matches_newlines_as_in_prometheus():
    assert all_match(parse_matchers(["host=~a.b"]), {"host": "a\nb"})
    assert not all_match(parse_matchers(["host=~web"]), {"host": "web-1"})
    assert all_match(parse_matchers(["host!~web"]), {"host": "web-1"})
    assert all_match(parse_matchers(["host=~"]), {})


@pytest.mark.parametrize("pattern", [r"(a)\1", "a(?=b)", "a(?!b)", "(?<=a)b", "a{2000}"])
def test_patterns_re2_refuses_are_invalid_input(pattern):
    with pytest.raises(InvalidInput, match="RE2"):
        parse_matchers([f"host=~{pattern}"])


def test_subjects_and_patterns_are_bounded():
    with pytest.raises(InvalidInput):
        parse_matchers(["host=~" + "a" * 600])
    with pytest.raises(InvalidInput):
        parse_matchers(["host=a"] * 21)
    assert not all_match(parse_matchers(["host=~a*"]), {"host": "a" * (MAX_SUBJECT_LENGTH + 1)})
    assert all_match(parse_matchers(["host!~a*"]), {"host": "a" * (MAX_SUBJECT_LENGTH + 1)})


def _tenant_with_victims(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms(-60 * S)
    store_samples(stack, tenant.id, [("cpu", {"host": host}, now - 5 * S, 95.0) for host in VICTIMS])
    return tenant, token, now


def _fastest(client: httpx.Client, path: str, params: dict, tries: int = 3) -> float:
    """The best of a few tries, so a busy test machine does not decide the figure."""
    timings = []
    for _ in range(tries):
        started = time.perf_counter()
        response = client.get(path, params=params)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return min(timings)


def test_the_pathological_regex_answers_quickly_over_http(stack):
    _, token, now = _tenant_with_victims(stack)
    with stack.client(token) as client:
        assert len(client.get("/api/v1/series", params={"metric": "cpu"}).json()["series"]) == 3  # warm
        series = _fastest(client, "/api/v1/series", {"metric": "cpu", "match": EVIL})
        query = _fastest(client, "/api/v1/query", {"metric": "cpu", "match": EVIL, "start": now - 60 * S,
                                                   "end": now + S})
    assert series < 0.05, f"/series took {series * 1000:.0f} ms"
    assert query < 0.05, f"/query took {query * 1000:.0f} ms"


def test_healthz_stays_responsive_while_the_pathological_regex_runs(stack):
    _, token, _ = _tenant_with_victims(stack)
    with stack.client(token) as client:
        client.get("/api/v1/series", params={"metric": "cpu"})  # warm the token cache
        evil = threading.Thread(target=client.get, args=("/api/v1/series",),
                                kwargs={"params": {"metric": "cpu", "match": EVIL}})
        evil.start()
        time.sleep(0.02)
        started = time.perf_counter()
        assert httpx.get(stack.api_url + "/healthz", timeout=10).status_code == 200
        healthz = time.perf_counter() - started
        evil.join()
    assert healthz < 0.5, f"/healthz waited {healthz * 1000:.0f} ms"


@pytest.mark.parametrize("path", ["/api/v1/series", "/api/v1/query", "/api/v1/stream"])
def test_a_pattern_re2_refuses_is_a_422_naming_the_field(stack, path):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        response = client.get(path, params={"metric": "cpu", "match": r"host=~(a)\1"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "match"
    assert "backreferences" in response.json()["detail"]


def test_rules_and_silences_with_a_pattern_re2_refuses_are_422(stack):
    _, token = stack.new_tenant()
    rule = {"name": "r", "metric": "cpu", "matchers": ["host=~a(?=b)"], "comparison": ">", "threshold": 1}
    silence = {"matchers": [r"host=~(a)\1"], "ends_at": recent_ms(60_000), "created_by": "me"}
    with stack.client(token) as client:
        rule_response = client.post("/api/v1/alerts/rules", json=rule)
        silence_response = client.post("/api/v1/alerts/silences", json=silence)
    assert rule_response.status_code == 422 and rule_response.json()["errors"][0]["field"] == "matchers"
    assert silence_response.status_code == 422 and silence_response.json()["errors"][0]["field"] == "matchers"


def test_a_rule_with_the_pathological_regex_evaluates_quickly(stack):
    tenant, _, now = _tenant_with_victims(stack)
    rule = create_rule(stack, tenant.id, matchers=(EVIL,))
    started = time.perf_counter()
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    elapsed = time.perf_counter() - started
    assert [row[2] for row in transitions(stack, rule.id)] == ["NODATA"]  # no series matched
    assert elapsed < 1.0, f"evaluation took {elapsed:.1f} s"


def test_a_silence_with_the_pathological_regex_evaluates_quickly(stack):
    tenant, _, now = _tenant_with_victims(stack)
    rule = create_rule(stack, tenant.id)
    stack.sql("INSERT INTO silences (tenant_id, rule_id, matchers, starts_at, ends_at, created_by)"
              " VALUES (%s, NULL, %s, %s, %s, 'test')", (tenant.id, f'["{EVIL}"]', now - S, now + 60 * S))
    started = time.perf_counter()
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    elapsed = time.perf_counter() - started
    assert [row[3] for row in transitions(stack, rule.id)] == [0, 0, 0]  # evaluated, and not muted
    assert elapsed < 1.0, f"evaluation took {elapsed:.1f} s"
