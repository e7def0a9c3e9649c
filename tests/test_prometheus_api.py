"""The Prometheus HTTP API under /prometheus: catalog endpoints, parameters, the envelope and
error format, and tenancy, against data stored by the real pipeline."""

import base64

import pytest

from support import recent_ms

BASE = "/prometheus/api/v1"


def ingest(stack, token, samples) -> int:
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics/bulk", json=samples)
    assert response.status_code == 202, response.text
    return response.json()["accepted"]


@pytest.fixture(scope="module")
def shop(stack):
    """A tenant with a counter family, a histogram family and a gauge, and another tenant with
    one series of the same name."""
    tenant, token = stack.new_tenant("shop")
    now = recent_ms(-5_000)
    samples = []
    for method, code in (("GET", "200"), ("GET", "500"), ("POST", "200")):
        samples.append({"metric": "http_requests_total", "value": 7, "ts": now,
                        "labels": {"method": method, "code": code, "job": "web"}})
    for le in ("0.1", "1", "+Inf"):
        samples.append({"metric": "latency_seconds_bucket", "value": 1, "ts": now, "labels": {"le": le}})
    samples += [{"metric": "latency_seconds_sum", "value": 1, "ts": now},
                {"metric": "latency_seconds_count", "value": 1, "ts": now},
                {"metric": "temperature", "value": 21.5, "ts": now, "labels": {"room": "kitchen"}}]
    stack.wait_for_samples(tenant.id, ingest(stack, token, samples))
    other, other_token = stack.new_tenant("other")
    stack.wait_for_samples(other.id, ingest(stack, other_token, [
        {"metric": "http_requests_total", "value": 1, "ts": now, "labels": {"method": "SECRET", "job": "theirs"}}]))
    return token, other_token


def get(stack, token, path, **params):
    with stack.client(token) as client:
        return client.get(BASE + path, params=params)


def test_series_by_selectors_with_every_matcher_kind(stack, shop):
    token, _ = shop
    with stack.client(token) as client:
        gets = client.get(BASE + "/series", params={"match[]": 'http_requests_total{method="GET", code!="500"}'})
        regex = client.get(BASE + "/series", params=[("match[]", '{__name__=~"latency_seconds_(sum|count)"}'),
                                                     ("match[]", 'http_requests_total{method!~"G.*"}')])
        posted = client.post(BASE + "/series", data={"match[]": "temperature"})
    assert gets.status_code == 200, gets.text
    assert gets.json() == {"status": "success", "data": [
        {"__name__": "http_requests_total", "code": "200", "job": "web", "method": "GET"}]}
    assert [labels["__name__"] for labels in regex.json()["data"]] == [
        "http_requests_total", "latency_seconds_count", "latency_seconds_sum"]
    assert posted.json()["data"] == [{"__name__": "temperature", "room": "kitchen"}]


def test_series_limit_truncates_with_a_warning(stack, shop):
    body = get(stack, shop[0], "/series", **{"match[]": "http_requests_total", "limit": "2"}).json()
    assert len(body["data"]) == 2 and body["warnings"] == ["results truncated due to limit"]


def test_labels_and_label_values(stack, shop):
    token, _ = shop
    names = get(stack, token, "/labels").json()["data"]
    assert names == ["__name__", "code", "job", "le", "method", "room"]
    scoped = get(stack, token, "/labels", **{"match[]": "temperature"}).json()["data"]
    assert scoped == ["__name__", "room"]
    metrics = get(stack, token, "/label/__name__/values").json()["data"]
    assert metrics == ["http_requests_total", "latency_seconds_bucket", "latency_seconds_count",
                       "latency_seconds_sum", "temperature"]
    methods = get(stack, token, "/label/method/values", **{"match[]": '{code="200"}'}).json()["data"]
    assert methods == ["GET", "POST"]
    assert get(stack, token, "/label/nothing_here/values").json() == {"status": "success", "data": []}


def test_metadata_infers_types_from_names(stack, shop):
    data = get(stack, shop[0], "/metadata").json()["data"]
    assert data == {"http_requests_total": [{"type": "counter", "help": "", "unit": ""}],
                    "latency_seconds": [{"type": "histogram", "help": "", "unit": ""}]}
    assert get(stack, shop[0], "/metadata", metric="temperature").json()["data"] == {}


def test_buildinfo_answers_for_grafana(stack, shop):
    data = get(stack, shop[0], "/status/buildinfo").json()["data"]
    assert data["version"].startswith("2.") and data["application"] == "microdash"


def test_no_endpoint_shows_another_tenants_series(stack, shop):
    token, other_token = shop
    theirs = {"series": get(stack, other_token, "/series", **{"match[]": '{__name__=~".+"}'}).json()["data"],
              "labels": get(stack, other_token, "/labels").json()["data"],
              "methods": get(stack, other_token, "/label/method/values").json()["data"],
              "names": get(stack, other_token, "/label/__name__/values").json()["data"],
              "metadata": get(stack, other_token, "/metadata").json()["data"]}
    assert theirs == {"series": [{"__name__": "http_requests_total", "job": "theirs", "method": "SECRET"}],
                      "labels": ["__name__", "job", "method"], "methods": ["SECRET"],
                      "names": ["http_requests_total"],
                      "metadata": {"http_requests_total": [{"type": "counter", "help": "", "unit": ""}]}}
    mine = get(stack, token, "/label/method/values").json()["data"]
    assert "SECRET" not in mine


@pytest.mark.parametrize("path", ["/query?query=up", "/query_range?query=up&start=1&end=2&step=1",
                                  "/series?match[]=up", "/labels", "/label/job/values", "/metadata",
                                  "/status/buildinfo", "/query_exemplars?query=up", "/format_query?query=up"])
def test_every_endpoint_refuses_without_a_valid_credential(stack, path):
    for headers in ({}, {"Authorization": "Bearer mdt_not_a_token"},
                    {"Authorization": "Basic " + base64.b64encode(b"x:mdt_not_a_token").decode()}):
        with stack.client(headers=headers) as client:
            response = client.get(BASE + path)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["status"] == "error" and response.json()["errorType"] == "unauthorized"


def test_basic_auth_with_the_token_as_password_and_a_session_both_read(stack, shop):
    token, _ = shop
    basic = "Basic " + base64.b64encode(f"anyone:{token}".encode()).decode()
    with stack.client(headers={"Authorization": basic}) as client:
        assert client.get(BASE + "/label/room/values").json()["data"] == ["kitchen"]
    tenant, own_token = stack.new_tenant("viewer")
    stack.wait_for_samples(tenant.id, ingest(stack, own_token, [{"metric": "seen", "value": 1, "ts": recent_ms()}]))
    with stack.session_client(stack.new_user([(tenant, "viewer")])) as client:
        assert client.get(BASE + "/label/__name__/values").json()["data"] == ["seen"]


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/series", {}, "no match[] parameter provided"),
    ("/series", {"match[]": "up{"}, "invalid parameter 'match[]'"),
    ("/series", {"match[]": "rate(up[5m])"}, "is not a series selector"),
    ("/series", {"match[]": '{job=~"(a+"}'}, "regex"),
    ("/series", {"match[]": "up", "start": "yesterday"}, "cannot parse 'yesterday' to a valid timestamp"),
    ("/labels", {"limit": "-1"}, "invalid parameter 'limit'"),
    ("/label/bad-name/values", {}, "invalid label name"),
    ("/query", {}, "invalid parameter 'query': missing"),
    ("/query", {"query": "up", "time": "nan"}, "invalid parameter 'time'"),
    ("/query_range", {"query": "up", "start": "10", "end": "5", "step": "1"},
     "end timestamp must not be before start time"),
    ("/query_range", {"query": "up", "start": "0", "end": "5", "step": "0"}, "zero or negative"),
    ("/query_range", {"query": "up", "start": "0", "end": "100000", "step": "1"}, "11,000 points"),
    ("/query_range", {"query": "up", "start": "0", "end": "5"}, "invalid parameter 'step': missing"),
    ("/query_range", {"query": "up", "start": "0", "end": "5", "step": "5x"}, "to a valid duration"),
    ("/format_query", {"query": "sum("}, "invalid parameter 'query'"),
])
def test_bad_parameters_are_400_bad_data(stack, shop, path, params, message):
    response = get(stack, shop[0], path, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert message in body["error"], body


def test_a_post_body_must_be_a_form(stack, shop):
    with stack.client(shop[0]) as client:
        response = client.post(BASE + "/series", json={"match[]": "up"})
    assert response.status_code == 400 and "application/x-www-form-urlencoded" in response.json()["error"]


def test_too_many_series_is_a_clear_422(stack, tmp_path):
    from support import extra_api

    tenant, token = stack.new_tenant("many")
    now = recent_ms(-1000)
    stack.wait_for_samples(tenant.id, ingest(stack, token, [
        {"metric": "wide", "value": 1, "ts": now, "labels": {"n": str(n)}} for n in range(1001)]))
    with extra_api(stack, tmp_path, MICRODASH_PROMQL_MAX_SERIES="1000") as url:
        import httpx

        response = httpx.get(url + BASE + "/series", params={"match[]": "wide"},
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422 and response.json()["errorType"] == "execution"
    assert "more than 1000 series" in response.json()["error"]


def test_format_query_prettifies(stack, shop):
    data = get(stack, shop[0], "/format_query", query="sum(rate(x[5m]))by(job)").json()["data"]
    assert data == "sum by (job) (rate(x[5m]))"


def test_queries_read_only_the_callers_tenant(stack, shop):
    token, other_token = shop
    at = f"{recent_ms() / 1000:.3f}"
    mine = get(stack, token, "/query", query="sum(http_requests_total)", time=at).json()
    theirs = get(stack, other_token, "/query", query="sum(http_requests_total)", time=at).json()
    regex = get(stack, other_token, "/query", query='count({__name__=~".+"})', time=at).json()
    assert mine["data"]["result"][0]["value"][1] == "21"
    assert theirs["data"]["result"][0]["value"][1] == "1"
    assert regex["data"]["result"][0]["value"][1] == "1"
    with stack.client(other_token) as client:
        ranged = client.post(BASE + "/query_range", data={"query": "http_requests_total", "start": float(at) - 60,
                                                          "end": at, "step": "15s"}).json()
    assert [series["metric"]["method"] for series in ranged["data"]["result"]] == ["SECRET"]


def test_an_unsupported_function_is_a_422_naming_it(stack, shop):
    response = get(stack, shop[0], "/query", query="holt_winters_nonexistent(up[5m], 0.5, 0.5)")
    assert response.status_code == 400, response.text  # an unknown name does not parse
    response = get(stack, shop[0], "/query", query='sort_by_label(up, "job")')
    assert response.status_code in (400, 422), response.text
    assert "sort_by_label" in response.json()["error"]


def test_query_limits_answer_clear_errors_and_the_server_keeps_answering(stack, tmp_path):
    import httpx

    from support import extra_api

    tenant, token = stack.new_tenant("limits")
    now = recent_ms(-1000)
    stack.wait_for_samples(tenant.id, ingest(stack, token, [
        {"metric": "load", "value": i, "ts": now - i * 1000, "labels": {"n": str(i % 50)}} for i in range(2000)]))
    headers = {"Authorization": f"Bearer {token}"}
    at = f"{now / 1000:.3f}"
    cases = {
        "series": ({"MICRODASH_PROMQL_MAX_SERIES": "10"}, 422, "MICRODASH_PROMQL_MAX_SERIES"),
        "samples": ({"MICRODASH_PROMQL_MAX_SAMPLES": "1000"}, 422, "MICRODASH_PROMQL_MAX_SAMPLES"),
        "timeout": ({"MICRODASH_PROMQL_TIMEOUT_SECONDS": "0.001"}, 503, "longer than"),
    }
    for name, (env, status, message) in cases.items():
        with extra_api(stack, tmp_path / name, **env) as url:
            refused = httpx.get(url + BASE + "/query", params={"query": "sum(count_over_time(load[1h]))", "time": at},
                                headers=headers, timeout=30)
            assert refused.status_code == status, (name, refused.text)
            assert message in refused.json()["error"], (name, refused.text)
            assert httpx.get(url + BASE + "/labels", headers=headers, timeout=30).status_code == 200
    answered = get(stack, token, "/query", query="sum(count_over_time(load[1h]))", time=at).json()
    assert answered["data"]["result"][0]["value"][1] == "2000"


def test_named_values_narrow_in_sql_and_still_match_exactly(stack, shop):
    token, _ = shop
    alternatives = get(stack, token, "/series", **{"match[]": '{method=~"GET|POST", code="200"}'}).json()["data"]
    assert sorted(labels["method"] for labels in alternatives) == ["GET", "POST"]
    assert get(stack, token, "/series", **{"match[]": '{room="KITCHEN"}'}).json()["data"] == []
    assert get(stack, token, "/series", **{"match[]": '{room=~"KITCHEN|hall"}'}).json()["data"] == []
    assert len(get(stack, token, "/series", **{"match[]": 'http_requests_total{method=~"GET|"}'}).json()["data"]) == 2
