"""HTTP ingest against the real stack: accepted data becomes durable, bad input is refused whole."""

import asyncio
import socket
import time

import httpx

from support import recent_ms


def sample(metric="cpu.usage", value=1.0, **labels):
    return {"metric": metric, "value": value, "ts": recent_ms(), "labels": labels or {"host": "n1"}}


def test_single_sample_is_accepted_and_stored(stack):
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics", json={"metric": "cpu.usage", "value": 12.5, "labels": {"host": "n1"}})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1 and len(body["batch_id"]) == 32
    assert stack.wait_for_samples(tenant.id, 1) == 1
    assert stack.sql("SELECT metric, labels FROM series WHERE tenant_id = %s", (tenant.id,)) == [
        ("cpu.usage", '{"host":"n1"}')]


def test_bulk_is_stored_exactly_once_per_series_and_timestamp(stack):
    tenant, token = stack.new_tenant()
    ts = recent_ms(-10_000)
    batch = [{"metric": "mem.used", "value": float(i), "ts": ts + i, "labels": {"host": f"h{i % 7}"}}
             for i in range(2_000)]
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=batch).status_code == 202
        # The same samples again (a client retry without idempotency key) must not duplicate rows.
        assert client.post("/api/v1/metrics/bulk", json=batch).status_code == 202
    assert stack.wait_for_samples(tenant.id, 2_000) == 2_000
    time.sleep(0.5)
    assert stack.count_samples(tenant.id) == 2_000
    assert stack.sql("SELECT COUNT(*) FROM series WHERE tenant_id = %s", (tenant.id,)) == [(7,)]


def test_timestamp_defaults_to_server_time(stack):
    tenant, token = stack.new_tenant()
    before = recent_ms()
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics", json={"metric": "up", "value": 1}).status_code == 202
    stack.wait_for_samples(tenant.id, 1)
    (_series, ts, _value), = stack.stored_samples(tenant.id)
    assert before <= ts <= recent_ms()


def test_invalid_items_are_reported_with_index_and_nothing_is_stored(stack):
    tenant, token = stack.new_tenant()
    batch = [sample(), {"metric": "bad name", "value": 1}, sample(value="7"), sample(), {"metric": "x", "value": 1, "extra": 1}]
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics/bulk", json=batch)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(1, "metric"), (2, "value"), (4, "extra")}
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 0


def test_validation_rules(stack):
    _, token = stack.new_tenant()
    cases = {
        "non-finite value": (b'[{"metric": "m", "value": 1e400}]', None),  # refused by the JSON parser
        "bool value": ([{"metric": "m", "value": True}], "value"),
        "far future": ([{"metric": "m", "value": 1, "ts": recent_ms(3_600_000)}], "ts"),
        "far past": ([{"metric": "m", "value": 1, "ts": recent_ms(-30 * 86_400_000)}], "ts"),
        "float ts": ([{"metric": "m", "value": 1, "ts": 1.5}], "ts"),
        "too many labels": ([{"metric": "m", "value": 1, "labels": {f"l{i}": "v" for i in range(33)}}], "labels"),
        "reserved label": ([{"metric": "m", "value": 1, "labels": {"__name__": "x"}}], "labels.__name__"),
        "bad label name": ([{"metric": "m", "value": 1, "labels": {"a-b": "x"}}], "labels.a-b"),
        "label value type": ([{"metric": "m", "value": 1, "labels": {"a": 1}}], "labels.a"),
        "long metric": ([{"metric": "m" * 201, "value": 1}], "metric"),
        "missing value": ([{"metric": "m"}], "value"),
        "not an object": ([42], ""),
        "empty array": ([], ""),
    }
    with stack.client(token) as client:
        for case, (body, field) in cases.items():
            if isinstance(body, bytes):
                response = client.post("/api/v1/metrics/bulk", content=body, headers={"Content-Type": "application/json"})
            else:
                response = client.post("/api/v1/metrics/bulk", json=body)
            assert response.status_code == 422, (case, response.text)
            if field is not None:
                assert response.json()["errors"][0]["field"] == field, case


def test_an_integral_float_timestamp_is_that_millisecond_and_a_fraction_is_refused(stack):
    """JSON has one number type, and the contract's `integer` admits 5.0: the server takes an integral
    `ts` however it is written (docs/decisions.md, "An integral float is an integer timestamp")."""
    tenant, token = stack.new_tenant()
    ts = recent_ms(-5_000)
    json_body = {"Content-Type": "application/json"}
    with stack.client(token) as client:
        single = client.post("/api/v1/metrics", content=b'{"metric":"float.ts","value":1,"ts":%d.0}' % ts,
                             headers=json_body)
        bulk = client.post("/api/v1/metrics/bulk", headers=json_body, content=(
            b'[{"metric":"float.ts","value":2,"ts":%de0},{"metric":"float.ts","value":3,"ts":%d.%03de3}]'
            % (ts + 1, (ts + 2) // 1000, (ts + 2) % 1000)))
        fraction = client.post("/api/v1/metrics/bulk", headers=json_body,
                               content=b'[{"metric":"float.ts","value":4,"ts":%d.5}]' % (ts + 3))
    assert single.status_code == 202 and bulk.status_code == 202, (single.text, bulk.text)
    assert fraction.status_code == 422 and fraction.json()["errors"] == [
        {"index": 0, "field": "ts", "error": "must be an integer (epoch milliseconds)"}]
    assert stack.wait_for_samples(tenant.id, 3) == 3
    assert sorted((ts_ms, value) for _series, ts_ms, value in stack.stored_samples(tenant.id)) == [
        (ts, 1.0), (ts + 1, 2.0), (ts + 2, 3.0)]


def test_labels_too_large_in_bytes_are_refused_at_the_edge_and_innocent_requests_are_stored(stack):
    """The audit's reproduction: 32 labels of 1024 emoji each were accepted (202), then failed the
    worker's whole coalesced batch, taking concurrent innocent requests with it."""
    import concurrent.futures

    tenant, token = stack.new_tenant()
    emoji_labels = {f"l{n}": "\U0001F600" * 1024 for n in range(32)}
    escaped_labels = {f"l{n}": "\x01" * 1024 for n in range(32)}  # 1 KB each, 6 KB each as stored
    with stack.client(token) as client, concurrent.futures.ThreadPoolExecutor(4) as pool:
        poison = [pool.submit(client.post, "/api/v1/metrics", json=sample(**labels))
                  for labels in (emoji_labels, escaped_labels)]
        innocent = [pool.submit(client.post, "/api/v1/metrics", json=sample(host=f"h{n}")) for n in range(3)]
        for future in poison:
            response = future.result()
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["field"].startswith("labels")
        assert [future.result().status_code for future in innocent] == [202] * 3
    assert stack.wait_for_samples(tenant.id, 3) == 3


def test_too_many_samples_malformed_json_and_content_type(stack):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        too_many = client.post("/api/v1/metrics/bulk", json=[sample()] * 10_001)
        malformed = client.post("/api/v1/metrics/bulk", content=b"[{", headers={"Content-Type": "application/json"})
        wrong_type = client.post("/api/v1/metrics", content=b"metric=1", headers={"Content-Type": "text/plain"})
        single_array = client.post("/api/v1/metrics", json=[sample()])
    assert too_many.status_code == 422 and "too many samples" in too_many.json()["errors"][0]["error"]
    assert malformed.status_code == 422 and "malformed JSON" in malformed.json()["detail"]
    assert wrong_type.status_code == 415
    assert single_array.status_code == 422


def test_oversized_body_is_refused_before_it_is_read(stack):
    _, token = stack.new_tenant()
    limit = stack.settings.max_body_bytes
    # Only the headers are sent: the answer must come without the server waiting for the body.
    port = int(stack.api_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(f"POST /api/v1/metrics/bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n".encode())
        status_line = raw.recv(200).split(b"\r\n")[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    with stack.client(token) as client:
        def chunks():  # no Content-Length: the server must stop counting at the limit
            yield b"["
            for _ in range(limit // 1000 + 2):
                yield b" " * 1000
            yield b"]"

        streamed = client.post("/api/v1/metrics/bulk", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_missing_and_invalid_tokens_get_401(stack):
    with stack.client() as client:
        missing = client.post("/api/v1/metrics", json=sample())
        garbage = client.post("/api/v1/metrics", json=sample(), headers={"Authorization": "Bearer nope"})
        wrong_secret = client.post("/api/v1/metrics", json=sample(),
                                   headers={"Authorization": "Bearer mdt_AAAAAAAAAAAA_" + "x" * 43})
        basic = client.post("/api/v1/metrics", json=sample(), headers={"Authorization": "Basic dXNlcjpwYXNz"})
    for response in (missing, garbage, wrong_secret, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_tenant_rate_limit_gives_429(stack):
    tenant, token = stack.new_tenant(ingest_rate_limit=100)
    statuses = []
    with stack.client(token) as client:
        for _ in range(5):
            statuses.append(client.post("/api/v1/metrics/bulk", json=[sample(i=str(i)) for i in range(60)]))
    codes = [response.status_code for response in statuses]
    assert 202 in codes and 429 in codes, codes
    limited = next(response for response in statuses if response.status_code == 429)
    assert limited.headers["retry-after"] == "1"
    accepted = sum(response.json()["accepted"] for response in statuses if response.status_code == 202)
    assert stack.wait_for_samples(tenant.id, accepted) == accepted


def test_idempotency_key_acknowledges_without_reenqueueing(stack):
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        first = client.post("/api/v1/metrics", json=sample(value=1.0), headers={"Idempotency-Key": "k-1"})
        again = client.post("/api/v1/metrics", json=sample(value=2.0), headers={"Idempotency-Key": "k-1"})
        other = client.post("/api/v1/metrics", json=sample(value=3.0, host="n2"), headers={"Idempotency-Key": "k-2"})
    assert first.status_code == again.status_code == other.status_code == 202
    assert again.json() == {"accepted": 1, "batch_id": first.json()["batch_id"], "duplicate": True}
    assert stack.wait_for_samples(tenant.id, 2) == 2
    time.sleep(0.5)
    values = sorted(value for _series, _ts, value in stack.stored_samples(tenant.id))
    assert values == [1.0, 3.0]


def test_an_idempotency_key_longer_than_200_characters_is_refused_before_the_body_is_read(stack):
    tenant, token = stack.new_tenant()
    key = "k" * 201
    with stack.client(token) as client:
        single = client.post("/api/v1/metrics", json=sample(), headers={"Idempotency-Key": key})
        bulk = client.post("/api/v1/metrics/bulk", content=b"not json", headers={
            "Idempotency-Key": key, "Content-Type": "application/json"})
        longest = client.post("/api/v1/metrics", json=sample(), headers={"Idempotency-Key": "k" * 200})
    with stack.client() as anonymous:
        unauthenticated = anonymous.post("/api/v1/metrics", json=sample(), headers={"Idempotency-Key": key})
    expected = {"detail": [{"type": "string_too_long", "loc": ["header", "Idempotency-Key"],
                            "msg": "String should have at most 200 characters"}]}  # the input is not echoed: long
    assert single.status_code == bulk.status_code == 422 and single.json() == bulk.json() == expected
    assert longest.status_code == 202 and unauthenticated.status_code == 401  # the credential is checked first
    assert stack.wait_for_samples(tenant.id, 1) == 1


def test_concurrent_single_posts_over_the_rate_limit_are_refused_alike_and_only_accepted_ones_stored(stack):
    tenant, token = stack.new_tenant(ingest_rate_limit=5)  # a burst of 5 samples
    ts = recent_ms()

    async def forty_at_once():
        async with httpx.AsyncClient(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30) as client:
            return await asyncio.gather(*(client.post("/api/v1/metrics", json={
                "metric": "burst", "value": float(i), "ts": ts + i}) for i in range(40)))

    started = time.monotonic()
    responses = asyncio.run(forty_at_once())
    elapsed = time.monotonic() - started
    accepted = [r for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code == 429]
    assert len(accepted) + len(refused) == 40, [r.status_code for r in responses]
    assert 5 <= len(accepted) <= 5 + 5 * elapsed + 1, (len(accepted), elapsed)
    assert all(r.json() == {"detail": "ingest rate limit of 5 samples/s exceeded"} and r.headers["retry-after"] == "1"
               for r in refused)
    assert all(r.json()["accepted"] == 1 and r.json()["duplicate"] is False for r in accepted)
    assert stack.wait_for_samples(tenant.id, len(accepted)) == len(accepted)
    time.sleep(0.5)
    assert stack.count_samples(tenant.id) == len(accepted)


def test_redis_outage_gives_503_then_recovers(private_stack):
    stack = private_stack()
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        stack.services.stop_service("redis")
        down = client.post("/api/v1/metrics", json=sample())
        stack.services.restart_service("redis")
        deadline = time.monotonic() + 20
        up = client.post("/api/v1/metrics", json=sample())
        while up.status_code != 202 and time.monotonic() < deadline:
            time.sleep(0.2)
            up = client.post("/api/v1/metrics", json=sample())
    assert down.status_code == 503 and down.headers["retry-after"]
    assert up.status_code == 202
    assert stack.wait_for_samples(tenant.id, 1) == 1


def test_openapi_documents_the_ingest_body(stack):
    schema = httpx.get(stack.api_url + "/openapi.json").json()
    body = schema["paths"]["/api/v1/metrics/bulk"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array" and "metric" in body["items"]["properties"]
