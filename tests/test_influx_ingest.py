"""Influx line protocol at /api/v2/write and /write against the real stack, written by the official
influxdb-client library where it can: numeric fields stored and read back through /api/v1/query,
string fields skipped and counted, bad batches refused whole naming the line, tenants kept apart."""

import base64
import gzip
import time

import httpx
import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from support import recent_ms


def influx_client(stack, token: str, **kwargs) -> InfluxDBClient:
    return InfluxDBClient(url=stack.api_url, token=token, org="ignored", timeout=10_000, **kwargs)


def query(stack, token: str, metric: str, **params) -> list[dict]:
    with stack.client(token) as client:
        response = client.get("/api/v1/query", params={"metric": metric, "start": recent_ms(-3_600_000),
                                                        "resolution": "raw", "step": 1, **params})
    assert response.status_code == 200, response.text
    return response.json()["series"]


def raw_points(stack, token: str, metric: str) -> dict[tuple, list]:
    """Every stored point of the metric, by label set; the step of 1 ms keeps each sample its own."""
    end = recent_ms(1000)
    return {tuple(sorted(series["labels"].items())): series["points"]
            for series in query(stack, token, metric, start=end - 10_000, end=end, aggregation="last")}


def test_influxdb_client_writes_are_stored_and_read_back(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms(-2000)
    points = [
        Point("cpu").tag("host", "web 1").tag("dc", "eu,west").field("usage_idle", 97.25).field("usage_user", 2)
        .field("online", True).field("state", "ok").time(now, WritePrecision.MS),
        Point("cpu").tag("host", "web=2").field("usage_idle", 50.5).field("online", False).time(now, WritePrecision.MS),
        Point("disk io").tag("k8s-app", "db").field("read bytes", 2**40).time(now, WritePrecision.MS),
    ]
    with influx_client(stack, token, enable_gzip=True) as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket="telegraf", record=points,
                                                          write_precision=WritePrecision.MS)
    assert stack.wait_for_samples(tenant.id, 6) == 6
    assert raw_points(stack, token, "cpu.usage_idle") == {
        (("dc", "eu,west"), ("host", "web 1")): [[now, 97.25]], (("host", "web=2"),): [[now, 50.5]]}
    assert raw_points(stack, token, "cpu.usage_user") == {(("dc", "eu,west"), ("host", "web 1")): [[now, 2.0]]}
    assert sorted(points for points in raw_points(stack, token, "cpu.online").values()) == [
        [[now, 0.0]], [[now, 1.0]]]
    assert raw_points(stack, token, "disk_io.read_bytes") == {(("k8s_app", "db"),): [[now, float(2**40)]]}
    assert stack.sql("SELECT COUNT(*) FROM series WHERE tenant_id = %s AND metric = 'cpu.state'", (tenant.id,)) == [(0,)]


@pytest.mark.parametrize("precision", [WritePrecision.NS, WritePrecision.US, WritePrecision.S])
def test_influxdb_client_precisions(stack, precision):
    tenant, token = stack.new_tenant()
    seconds = recent_ms(-5000) // 1000
    stamp = {WritePrecision.NS: seconds * 10**9 + 123_456_789, WritePrecision.US: seconds * 10**6 + 123_456,
             WritePrecision.S: seconds}[precision]
    with influx_client(stack, token) as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket="b", record=f"m,p={precision} v=1.5 {stamp}", write_precision=precision)
    assert stack.wait_for_samples(tenant.id, 1) == 1
    expected = seconds * 1000 + (0 if precision == WritePrecision.S else 123)
    assert [ts for _series, ts, _value in stack.stored_samples(tenant.id)] == [expected]


def test_v1_write_with_basic_auth_token_header_and_one_letter_precision(stack):
    tenant, token = stack.new_tenant()
    seconds = recent_ms(-5000) // 1000
    basic = "Basic " + base64.b64encode(f"telegraf:{token}".encode()).decode()
    with stack.client() as client:
        first = client.post("/write", params={"db": "telegraf", "precision": "u"}, headers={"Authorization": basic},
                            content=f"mem,host=a used=1i {seconds * 10**6}")
        second = client.post("/write", params={"db": "telegraf", "precision": "n"},
                             headers={"Authorization": f"Token {token}", "Content-Encoding": "gzip"},
                             content=gzip.compress(f"mem,host=b used=2i {seconds * 10**9}".encode()))
    assert (first.status_code, second.status_code) == (204, 204), (first.text, second.text)
    assert first.headers["X-Microdash-Accepted-Samples"] == "1"
    assert stack.wait_for_samples(tenant.id, 2) == 2
    assert sorted(row[1:] for row in stack.stored_samples_of_series(tenant.id)) == [
        ('{"host":"a"}', seconds * 1000, 1.0), ('{"host":"b"}', seconds * 1000, 2.0)]


def test_string_fields_only_is_204_and_counted(stack):
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        response = client.post("/api/v2/write", content='log msg="hello",level="info"\nlog msg="x"')
    assert response.status_code == 204, response.text
    assert response.headers["X-Microdash-Skipped-String-Fields"] == "3"
    assert response.headers["X-Microdash-Accepted-Samples"] == "0"
    with stack.client() as client:
        assert 'microdash_ingest_dropped_samples_total{endpoint="influx_v2",reason="string_field"}' in client.get("/metrics").text


def test_a_bad_line_refuses_the_whole_batch_naming_it(stack):
    tenant, token = stack.new_tenant()
    good = "\n".join(f"m,host=h{i} v={i}" for i in range(5))
    cases = {
        "malformed": (good + "\nm,host=x\n", 6),
        "NaN field": (good + "\nm v=NaN", 6),
        "reserved label": ("m v=1\nm,__name__=x v=2", 2),
        "too old": (f"m v=1\nm v=2 {recent_ms(-30 * 86_400_000)}", 2),
        "label too long": (f"m v=1\nm v=2\nm,t={'x' * 2000} v=3", 3),
    }
    with influx_client(stack, token) as client:
        writer = client.write_api(write_options=SYNCHRONOUS)
        for name, (body, line) in cases.items():
            with pytest.raises(ApiException) as raised:
                writer.write(bucket="b", record=body, write_precision=WritePrecision.MS)
            assert raised.value.status == 400, name
            error = httpx.Response(400, content=raised.value.body).json()
            assert error["code"] == "invalid" and error["line"] == line, (name, error)
            assert f"line {line}:" in error["message"], (name, error)
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 0


def test_bad_requests_get_clear_4xx_in_influx_format(stack):
    tenant, token = stack.new_tenant()
    headers = {"Authorization": f"Token {token}"}
    bomb = gzip.compress(b"m v=1\n" * (2 * 1024 * 1024))  # 12 MiB of lines in about 12 KiB
    with stack.client(headers=headers) as client:
        answers = {
            "precision": client.post("/api/v2/write", params={"precision": "h"}, content="m v=1"),
            "v1 precision": client.post("/write", params={"precision": "fortnight"}, content="m v=1"),
            "content type": client.post("/api/v2/write", content="m v=1", headers={"Content-Type": "application/json"}),
            "charset": client.post("/api/v2/write", content="m v=1",
                                   headers={"Content-Type": "text/plain; charset=latin-1"}),
            "garbage gzip": client.post("/api/v2/write", content=b"not gzip", headers={"Content-Encoding": "gzip"}),
            "encoding": client.post("/api/v2/write", content=b"m v=1", headers={"Content-Encoding": "br"}),
            "gzip bomb": client.post("/api/v2/write", content=bomb, headers={"Content-Encoding": "gzip"}),
            "too many samples": client.post("/api/v2/write", content="\n".join(f"m v={i}" for i in range(10_001))),
            "bad utf-8": client.post("/api/v2/write", content=b"m v=1\nm,t=\xff v=1"),
        }
    expected = {"precision": 400, "v1 precision": 400, "content type": 415, "charset": 415, "garbage gzip": 400,
                "encoding": 415, "gzip bomb": 413, "too many samples": 413, "bad utf-8": 400}
    assert {name: response.status_code for name, response in answers.items()} == expected, {
        name: response.text for name, response in answers.items()}
    for name, response in answers.items():
        assert response.json()["code"] and response.json()["message"], name
    assert answers["bad utf-8"].json()["line"] == 2
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 0


def test_credentials(stack):
    tenant, token = stack.new_tenant()
    with stack.client() as client:
        missing = client.post("/api/v2/write", content="m v=1")
        wrong = client.post("/api/v2/write", content="m v=1", headers={"Authorization": "Token md_nope"})
        in_url = client.post("/write", params={"u": "x", "p": token}, content="m v=1")
        bearer = client.post("/api/v2/write", content="m v=1", headers={"Authorization": f"Bearer {token}"})
    assert (missing.status_code, wrong.status_code, in_url.status_code, bearer.status_code) == (401, 401, 401, 204)
    assert missing.json()["code"] == "unauthorized"
    assert "never in the URL" in in_url.json()["message"] and in_url.json()["error"]
    assert stack.wait_for_samples(tenant.id, 1) == 1


def test_tenants_are_kept_apart(stack):
    first, first_token = stack.new_tenant()
    second, second_token = stack.new_tenant()
    now = recent_ms(-1000)
    for token, value in ((first_token, 1.0), (second_token, 2.0)):
        with influx_client(stack, token) as client:
            client.write_api(write_options=SYNCHRONOUS).write(
                bucket="shared", org="shared", record=f"shared,host=x v={value} {now}", write_precision=WritePrecision.MS)
    basic = "Basic " + base64.b64encode(f"first:{second_token}".encode()).decode()  # the user name is no tenant
    with stack.client() as client:
        assert client.post("/write", params={"db": "first", "precision": "ms"}, headers={"Authorization": basic},
                           content=f"shared,host=x v=3 {now + 1}").status_code == 204
    assert stack.wait_for_samples(first.id, 1) == 1 and stack.wait_for_samples(second.id, 2) == 2
    assert raw_points(stack, first_token, "shared.v") == {(("host", "x"),): [[now, 1.0]]}
    assert raw_points(stack, second_token, "shared.v") == {(("host", "x"),): [[now, 2.0], [now + 1, 3.0]]}


def test_the_series_limit_holds_for_line_protocol(stack):
    tenant, token = stack.new_tenant(max_series=3)
    with stack.client(token) as client:
        inside = client.post("/api/v2/write", content="\n".join(f"m,i={i} v=1" for i in range(3)))
        beyond = client.post("/api/v2/write", content="\n".join(f"m,i={i} v=2" for i in range(5)))
    assert inside.status_code == 204, inside.text
    assert beyond.status_code == 400 and beyond.json()["line"] == 4, beyond.text
    assert "series limit" in beyond.json()["message"]
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 3
