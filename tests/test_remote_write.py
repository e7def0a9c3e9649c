"""POST /api/v1/write with hand-built remote-write bodies: what is stored, what is dropped and
counted, what is refused (4xx with a plain-text reason, nothing stored), and who may write."""

import math
import re
import time

import orjson
import pytest

from remote_write_payloads import HEADERS, STALE_MARKER, body, snappy, with_raw_label, write_request
from support import recent_ms


def post(stack, token: str, content: bytes, headers: dict | None = None):
    with stack.client(token) as client:
        return client.post("/api/v1/write", content=content, headers={**HEADERS, **(headers or {})})


def dropped_counter(stack, reason: str) -> float:
    text = stack.client().get("/metrics").text
    found = re.search(rf'^microdash_ingest_dropped_samples_total{{endpoint="remote_write",reason="{reason}"}} (\S+)$',
                      text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def stored(stack, tenant_id: int) -> list[tuple]:
    return sorted(stack.stored_samples_of_series(tenant_id), key=lambda row: (row[0], row[2]))


def test_samples_are_stored_with_name_as_metric_and_labels_as_they_are(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms()
    response = post(stack, token, body([
        ({"__name__": "node_load1", "instance": "n1:9100", "job": "node"}, [(now - 2000, 0.5), (now - 1000, 0.75)]),
        ({"__name__": "http_requests_total", "code": "200", "le": "+Inf"}, [(now, 12.0)]),
    ]))
    assert response.status_code == 204, response.text
    assert stack.wait_for_samples(tenant.id, 3) == 3
    rows = stored(stack, tenant.id)
    assert [(metric, ts, value) for metric, _, ts, value in rows] == [
        ("http_requests_total", now, 12.0), ("node_load1", now - 2000, 0.5), ("node_load1", now - 1000, 0.75)]
    assert orjson.loads(rows[1][1]) == {"instance": "n1:9100", "job": "node"}


def test_stale_markers_nan_and_infinities_are_dropped_and_counted(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms()
    before = {reason: dropped_counter(stack, reason) for reason in ("stale_marker", "nan", "infinite")}
    response = post(stack, token, body([({"__name__": "up", "job": "node"}, [
        (now - 5000, 1.0), (now - 4000, STALE_MARKER), (now - 3000, math.nan), (now - 2000, math.inf),
        (now - 1000, -math.inf), (now, 2.0)])]))
    assert response.status_code == 204, response.text
    assert stack.wait_for_samples(tenant.id, 2) == 2
    time.sleep(0.5)
    assert [(ts, value) for _, _, ts, value in stored(stack, tenant.id)] == [(now - 5000, 1.0), (now, 2.0)]
    after = {reason: dropped_counter(stack, reason) for reason in before}
    assert {reason: after[reason] - before[reason] for reason in before} == {
        "stale_marker": 1, "nan": 1, "infinite": 2}


def test_a_request_of_only_stale_markers_or_metadata_is_accepted_with_nothing_to_store(stack):
    tenant, token = stack.new_tenant()
    only_stale = body([({"__name__": "up"}, [(recent_ms(), STALE_MARKER)])])
    # A WriteRequest carrying only metadata (field 3), as Prometheus sends it: an unknown field to us.
    only_metadata = snappy(b"\x1a\x0b\x08\x01\x12\x07node_up")
    for content in (only_stale, only_metadata, snappy(b"")):
        assert post(stack, token, content).status_code == 204
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 0


def _bad_payloads(stack) -> dict[str, tuple[bytes, dict, int, str]]:
    now = recent_ms()
    good = write_request([({"__name__": "ok_metric"}, [(now, 1.0)]), ({"__name__": "other", "a": "b"}, [(now, 2.0)])])
    declared_huge = b"\xff\xff\xff\x7f" + b"\x00" * 64  # snappy's length header says 256 MiB
    return {
        "garbage snappy": (b"this is not snappy at all" * 10, {}, 400, "snappy"),
        "truncated protobuf": (snappy(good[:-3]), {}, 400, "not a remote-write WriteRequest"),
        "json content type": (snappy(good), {"Content-Type": "application/json"}, 415, "application/x-protobuf"),
        "no content encoding": (snappy(good), {"Content-Encoding": "identity"}, 415, "snappy"),
        "remote-write 2.0": (snappy(good), {"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
                             415, "only remote-write 1.0"),
        "declared size beyond the bound": (declared_huge, {}, 413, "more than 16777216"),
        "decompresses beyond the bound": (body([({"__name__": "big", "v": "x" * (17 * 2**20)}, [(now, 1.0)])]),
                                          {}, 413, "more than 16777216"),
        "body beyond 8 MiB": (b"\x00" * (8 * 2**20 + 1), {}, 413, "body larger than"),
        "too many samples": (body([({"__name__": "many"}, [(now - k, 1.0) for k in range(10_001)])]),
                             {}, 413, "10001 samples in one request"),
        "invalid label name": (body([({"__name__": "ok_metric"}, [(now, 1.0)]),
                                     ({"__name__": "bad", "bad-name": "x"}, [(now, 1.0)])]),
                               {}, 400, 'bad{bad-name="x"} labels.bad-name'),
        "no metric name": (body([({"job": "x"}, [(now, 1.0)])]), {}, 400, '{job="x"} metric: required'),
        "too old": (body([({"__name__": "old", "job": "x"}, [(now - 8 * 86_400_000, 1.0)])]),
                    {}, 400, 'old{job="x"} ts: older than'),
        "out of range value": (body([({"__name__": "huge"}, [(now, 1e300)])]), {}, 400, "huge{} value"),
        "label value not UTF-8": (snappy(with_raw_label({"__name__": "m"}, b"\n\x01a\x12\x01\xff", (now, 1.0))),
                                  {}, 400, "a label is not a remote-write Label"),
        "too many labels": (body([({"__name__": "wide", **{f"l{k}": "v" for k in range(40)}}, [(now, 1.0)])]),
                            {}, 400, "labels, more than 33"),
    }


BAD_CASES = ["garbage snappy", "truncated protobuf", "json content type", "no content encoding", "remote-write 2.0",
             "declared size beyond the bound", "decompresses beyond the bound", "body beyond 8 MiB",
             "too many samples", "invalid label name", "no metric name", "too old", "out of range value",
             "too many labels", "label value not UTF-8"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_payloads_get_a_readable_4xx_and_nothing_is_stored(stack, case):
    tenant, token = stack.new_tenant()
    content, headers, status, reason = _bad_payloads(stack)[case]
    response = post(stack, token, content, headers)
    assert response.status_code == status, response.text
    # An oversized body is refused by the body-size middleware before any route runs, in its JSON.
    assert response.headers["content-type"].startswith("text/plain") or case == "body beyond 8 MiB"
    assert reason in response.text.splitlines()[0], response.text
    time.sleep(0.5)
    assert stack.count_samples(tenant.id) == 0


def test_tenants_cannot_write_into_or_read_each_others_data(stack):
    owner, owner_token = stack.new_tenant()
    other, other_token = stack.new_tenant()
    now = recent_ms()
    assert post(stack, owner_token, body([({"__name__": "secret_metric", "job": "a"}, [(now, 1.0)])])).status_code == 204
    assert post(stack, other_token, body([({"__name__": "secret_metric", "job": "b"}, [(now, 2.0)])])).status_code == 204
    assert stack.wait_for_samples(owner.id, 1) == 1 and stack.wait_for_samples(other.id, 1) == 1
    time.sleep(0.5)
    assert [(orjson.loads(labels), value) for _, labels, _, value in stored(stack, owner.id)] == [({"job": "a"}, 1.0)]
    with stack.client(other_token) as client:
        series = client.get("/api/v1/series", params={"metric": "secret_metric"}).json()["series"]
    assert series == [{"metric": "secret_metric", "labels": {"job": "b"}}]


def test_writing_needs_a_token_or_an_admin_and_refusals_are_text(stack):
    tenant, _ = stack.new_tenant()
    content = body([({"__name__": "x"}, [(recent_ms(), 1.0)])])
    no_token = post(stack, "", content)
    wrong_token = post(stack, "md_not_a_token", content)
    viewer = stack.new_user([(tenant, "viewer")])
    with stack.session_client(viewer) as client:
        as_viewer = client.post("/api/v1/write", content=content, headers=HEADERS)
    assert (no_token.status_code, wrong_token.status_code, as_viewer.status_code) == (401, 401, 403)
    assert no_token.text.startswith("missing or invalid API token") and "only read" in as_viewer.text
    time.sleep(0.5)
    assert stack.count_samples(tenant.id) == 0


def test_a_write_beyond_the_series_limit_is_refused_whole_naming_a_new_series(stack):
    tenant, token = stack.new_tenant(max_series=2)
    now = recent_ms()
    assert post(stack, token, body([({"__name__": "kept", "n": "1"}, [(now, 1.0)])])).status_code == 204
    response = post(stack, token, body([({"__name__": "kept", "n": "1"}, [(now + 1, 2.0)]),
                                        ({"__name__": "new", "n": "2"}, [(now, 1.0)]),
                                        ({"__name__": "new", "n": "3"}, [(now, 1.0)])]))
    assert response.status_code == 400, response.text
    assert 'new{n="3"}' in response.text.splitlines()[0] or 'new{n="2"}' in response.text.splitlines()[0]
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 1
