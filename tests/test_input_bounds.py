"""Bad input is a 422 naming the field, never a 500 from MariaDB or a 503 as if a dependency were
down: every number is bounded to what its column holds, every string and list in length, and
names, addresses and header values carry no control characters."""

import asyncmy.errors
import pymysql
import pytest
from fastapi.testclient import TestClient

from microdash_api.app import create_app
from support import recent_ms

RULE = {"name": "cpu-high", "metric": "cpu", "matchers": ["host=~n.*"], "comparison": ">", "threshold": 90}
EMAIL = {"name": "mail", "kind": "email", "config": {"host": "127.0.0.1", "port": 2525, "tls": "none",
                                                     "sender": "alerts@microdash.test",
                                                     "recipients": ["ops@example.test"]}}
WEBHOOK = {"name": "hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}}
BIG = "x" * 70_000


def _fields(response) -> list[str]:
    """The fields a 422 names: ours (errors[].field) or pydantic's (detail[].loc)."""
    body = response.json()
    if isinstance(body.get("detail"), list):
        return [str(error["loc"][-1]) if error["loc"][-1] != "body" else "body" for error in body["detail"]]
    return [error["field"] for error in body.get("errors") or []]


@pytest.mark.parametrize("change, field", [
    ({"for_seconds": 2**40}, "for_seconds"),
    ({"keep_firing_for_seconds": 2**40}, "keep_firing_for_seconds"),
    ({"nodata_after": 2**40}, "nodata_after"),
    ({"annotations": {"summary": BIG}}, "summary"),
    ({"annotations": {f"a{index}": "é" * 8000 for index in range(10)}}, "annotations"),
    ({"labels": {"team": BIG}}, "team"),
    ({"matchers": ["host=" + BIG]}, 0),
    ({"matchers": ["host=~n.*"] * 50}, "matchers"),
    ({"name": "cpu\r\nBcc: victim@example.test"}, "name"),
    ({"severity": "warning\n"}, "severity"),
    ({"channels": ["x" * 101]}, 0),
])
def test_rules_out_of_bounds_are_422(stack, change, field):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        response = client.post("/api/v1/alerts/rules", json={**RULE, **change})
    assert response.status_code == 422, response.text
    assert str(field) in _fields(response), response.text


def test_nan_and_infinite_thresholds_are_422(stack):
    """Python's JSON parser reads NaN, Infinity and 1e400 (as inf); MariaDB would take none of them."""
    _, token = stack.new_tenant()
    with stack.client(token, headers={"Content-Type": "application/json"}) as client:
        for field in ("threshold", "recovery_threshold"):
            for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
                body = f'{{"name": "r", "metric": "cpu", "comparison": ">", "threshold": 1, "{field}": {literal}}}'
                response = client.post("/api/v1/alerts/rules", content=body)
                assert response.status_code == 422, (field, literal, response.text)
                assert field in _fields(response)


@pytest.mark.parametrize("change, field", [
    ({"ends_at": 10**19}, "ends_at"),
    ({"ends_at": 2**70}, "ends_at"),
    ({"starts_at": -1}, "starts_at"),
    ({"rule_id": 2**40}, "rule_id"),
    ({"matchers": ["host=" + BIG]}, 0),
    ({"matchers": ["host=a"] * 50}, "matchers"),
    ({"comment": "line\x00"}, "comment"),
    ({"created_by": "me\r\nX-Injected: 1"}, "created_by"),
])
def test_silences_out_of_bounds_are_422(stack, change, field):
    _, token = stack.new_tenant()
    silence = {"matchers": ["host=a"], "ends_at": recent_ms(60_000), "created_by": "me", **change}
    with stack.client(token) as client:
        response = client.post("/api/v1/alerts/silences", json=silence)
    assert response.status_code == 422, response.text
    assert str(field) in _fields(response), response.text


@pytest.mark.parametrize("channel", [
    {**EMAIL, "config": {**EMAIL["config"], "template": BIG}},
    {**EMAIL, "config": {**EMAIL["config"], "recipients": ["ops@example.test\r\nBcc: x@example.test"]}},
    {**EMAIL, "config": {**EMAIL["config"], "sender": "a@microdash.test\nSubject: hi"}},
    {**EMAIL, "config": {**EMAIL["config"], "recipients": [f"u{index}@example.test" for index in range(51)]}},
    {**EMAIL, "name": "mail\n"},
    {**WEBHOOK, "config": {**WEBHOOK["config"], "content_type": "text/plain\r\nX-Injected: 1"}},
    {**WEBHOOK, "config": {**WEBHOOK["config"], "retries": -(2**63) - 1}},
], ids=["70 KB config", "CRLF recipient", "LF sender", "51 recipients", "LF name", "CRLF header", "huge integer"])
def test_channels_out_of_bounds_are_422(stack, channel):
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        response = client.post("/api/v1/alerts/channels", json=channel)
    assert response.status_code == 422, response.text
    assert not stack.sql("SELECT 1 FROM notification_channels WHERE tenant_id = %s", (tenant.id,))


@pytest.mark.parametrize("params", [
    {"start": 2**63, "end": 2**64},
    {"start": -(2**70), "end": 1000},
    {"start": 0, "end": 10**30},
    {"start": 0, "end": 1000, "step": 2**64},
    {"match": ["host=a"] * 50},
    {"match": "host=" + "x" * 5000},
])
def test_query_parameters_out_of_bounds_are_422(stack, params):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        response = client.get("/api/v1/query", params={"metric": "cpu", **params})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("path", ["/api/v1/alerts/rules/4294967296", "/api/v1/alerts/channels/99999999999999999999",
                                  "/api/v1/alerts/history?before_id=99999999999999999999",
                                  "/api/v1/alerts/states?rule_id=-1"])
def test_ids_out_of_range_are_422(stack, path):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        assert client.get(path).status_code == 422


@pytest.mark.parametrize("last_event_id", ["99999999999999999999999-0", "1-99999999999999999999999", "1_000-0",
                                           "1 2", "1-2-3", "abc", "-5"])
def test_a_malformed_last_event_id_is_422_not_503(stack, last_event_id):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        response = client.get("/api/v1/stream", headers={"Last-Event-ID": last_event_id})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


@pytest.mark.parametrize("data_error", [asyncmy.errors.DataError, pymysql.err.DataError],
                         ids=["api pool", "core services"])
def test_a_value_mariadb_refuses_is_422_not_500(data_error):
    """The safety net behind the bounds: a DataError from MariaDB (here an out-of-range value),
    raised by the api's pool (asyncmy) or by a core service on PyMySQL."""
    app = create_app()

    async def out_of_range():
        raise data_error(1264, "Out of range value for column 'for_seconds' at row 1")

    app.router.add_api_route("/out-of-range", out_of_range)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the dashboard's catch-all
    response = TestClient(app, raise_server_exceptions=False).get("/out-of-range")  # no lifespan: no services
    assert response.status_code == 422
    assert "for_seconds" not in response.text


def test_a_metric_that_is_a_list_or_an_object_is_a_sample_error_not_a_crash():
    from microdash_core.samples import SampleValidator
    from microdash_core.settings import Settings

    samples, errors = SampleValidator(Settings()).validate_many(
        [{"metric": {}, "value": 1.0}, {"metric": ["cpu"], "value": 1.0}], now_ms=recent_ms())
    assert samples == [] and [error.index for error in errors] == [0, 1]
