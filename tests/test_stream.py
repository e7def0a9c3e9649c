"""The SSE live stream: points arrive as they are stored, replay after reconnect, filters, sessions."""

import time

import orjson

from support import recent_ms
from microdash_core import db, keys, live
from microdash_core.batches import Batch
from microdash_core.tenants import api_tokens, memberships
from sse_reader import StreamReader


def post(stack, token, samples):
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=samples).status_code == 202


def test_points_arrive_live_in_order(stack):
    _, token = stack.new_tenant()
    reader = StreamReader(stack, token)
    try:
        ts = recent_ms()
        for i in range(5):
            post(stack, token, [{"metric": "temp", "value": float(i), "ts": ts + i, "labels": {"room": "a"}}])
        points = reader.wait_for(5)
    finally:
        reader.close()
    assert [p["value"] for p in points] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert points[0] == {"metric": "temp", "labels": {"room": "a"}, "ts": ts, "value": 0.0}
    ids = [event_id for event_id, _ in reader.events]
    assert len(set(ids)) == len(ids) and all(ids)


def test_stream_filters_by_metric_and_labels(stack):
    _, token = stack.new_tenant()
    reader = StreamReader(stack, token, params=[("metric", "cpu"), ("match", "host=a")])
    try:
        post(stack, token, [{"metric": "cpu", "value": 1, "labels": {"host": "b"}},
                            {"metric": "mem", "value": 2, "labels": {"host": "a"}},
                            {"metric": "cpu", "value": 3, "labels": {"host": "a"}}])
        points = reader.wait_for(1)
        time.sleep(0.5)
    finally:
        reader.close()
    assert [p["value"] for p in reader.points()] == [3.0]


def test_reconnect_with_last_event_id_replays_what_was_missed(stack):
    _, token = stack.new_tenant()
    reader = StreamReader(stack, token)
    try:
        post(stack, token, [{"metric": "seq", "value": 0}])
        reader.wait_for(1)
    finally:
        reader.close()
    last_id = reader.events[-1][0]
    for i in range(1, 4):  # sent while the client is away
        post(stack, token, [{"metric": "seq", "value": float(i)}])
    time.sleep(1)
    resumed = StreamReader(stack, token, headers={"Last-Event-ID": last_id})
    try:
        post(stack, token, [{"metric": "seq", "value": 4.0}])
        points = resumed.wait_for(4)
        time.sleep(0.3)
    finally:
        resumed.close()
    assert [p["value"] for p in resumed.points()] == [1.0, 2.0, 3.0, 4.0]


def test_dashboard_session_cookie_authenticates_the_stream(stack):
    tenant, token = stack.new_tenant()
    with db.transaction(stack.settings) as cursor:
        user = memberships.create_user(cursor, email=f"{tenant.name}@example.com", password="correct horse")
        memberships.grant(cursor, user=user, tenant=tenant, role="viewer")
    with stack.client() as client:
        wrong = client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong password"})
        login = client.post("/api/v1/auth/login", json={"email": user.email, "password": "correct horse"})
        cookie = login.cookies.get("microdash_session")
    assert wrong.status_code == 401
    assert login.status_code == 200 and (login.json()["tenant"], login.json()["role"]) == (tenant.name, "viewer")
    assert "httponly" in login.headers["set-cookie"].lower() and "samesite=lax" in login.headers["set-cookie"].lower()
    reader = StreamReader(stack, cookies={"microdash_session": cookie})
    try:
        post(stack, token, [{"metric": "via.cookie", "value": 7}])
        assert [p["value"] for p in reader.wait_for(1)] == [7.0]
    finally:
        reader.close()
    with stack.client(cookies={"microdash_session": cookie}) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
        assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": login.json()["csrf_token"]}).status_code == 204
    with stack.client(cookies={"microdash_session": cookie}) as client:
        assert client.get("/api/v1/auth/me").status_code == 401


def test_stream_requires_a_credential(stack):
    with stack.client() as client:
        assert client.get("/api/v1/stream").status_code == 401
    with stack.client(cookies={"microdash_session": "forged"}) as client:
        assert client.get("/api/v1/stream").status_code == 401


def test_a_session_stream_ends_when_the_session_ends_or_switches_tenant(stack):
    first, token = stack.new_tenant()
    second, _ = stack.new_tenant()
    email = stack.new_user([(first, "viewer"), (second, "viewer")])
    for end in ("logout", "switch"):
        with stack.session_client(email, tenant=first.name) as client:
            reader = StreamReader(stack, cookies={"microdash_session": client.cookies["microdash_session"]})
            try:
                post(stack, token, [{"metric": "before.end", "value": 1}])
                assert [p["value"] for p in reader.wait_for(1)] == [1.0]
                if end == "logout":
                    assert client.post("/api/v1/auth/logout").status_code == 204
                else:
                    assert client.post("/api/v1/auth/tenant", json={"tenant": second.name}).status_code == 200
                reader._thread.join(timeout=5)  # the check runs every SSE_PING_SECONDS (1 s in tests)
                assert not reader._thread.is_alive(), f"the stream outlived the {end}"
            finally:
                reader.close()


def test_a_session_stream_stays_open_while_the_session_lives(stack):
    tenant, token = stack.new_tenant()
    with stack.session_client(stack.new_user([(tenant, "viewer")])) as client:
        reader = StreamReader(stack, cookies={"microdash_session": client.cookies["microdash_session"]})
        try:
            time.sleep(3)  # several checks pass
            post(stack, token, [{"metric": "still.open", "value": 2}])
            assert [p["value"] for p in reader.wait_for(1)] == [2.0] and reader._thread.is_alive()
        finally:
            reader.close()


def _ends_within_the_cache_time(reader, what: str) -> None:
    from support import TEST_SETTINGS_ENV

    reader._thread.join(timeout=float(TEST_SETTINGS_ENV["MICRODASH_TOKEN_CACHE_SECONDS"]) + 1.5)  # + scheduling slack
    assert not reader._thread.is_alive(), f"the stream outlived {what}"


def test_a_token_stream_ends_when_the_token_is_revoked(stack):
    tenant, token = stack.new_tenant()
    kept = StreamReader(stack, token)
    with db.transaction(stack.settings) as cursor:
        other = api_tokens.issue_token(cursor, tenant=tenant, name="other")
    reader = StreamReader(stack, other)
    try:
        post(stack, token, [{"metric": "before.revoke", "value": 1}])
        assert [p["value"] for p in reader.wait_for(1)] == [1.0]
        with db.transaction(stack.settings) as cursor:
            api_tokens.revoke_tokens(cursor, tenant=tenant, public_id=other.split("_")[1])
        _ends_within_the_cache_time(reader, "the token's revocation")
        assert kept._thread.is_alive()  # the tenant's other token keeps its stream
    finally:
        reader.close()
        kept.close()


def test_a_session_stream_ends_when_the_member_is_removed(stack):
    tenant, token = stack.new_tenant()
    email = stack.new_user([(tenant, "viewer")])
    with stack.session_client(email) as client:
        reader = StreamReader(stack, cookies={"microdash_session": client.cookies["microdash_session"]})
        try:
            post(stack, token, [{"metric": "before.removal", "value": 1}])
            assert [p["value"] for p in reader.wait_for(1)] == [1.0]
            with db.transaction(stack.settings) as cursor:
                memberships.remove_membership(cursor, user=memberships.get_user(cursor, email=email), tenant=tenant)
            _ends_within_the_cache_time(reader, "the membership")
        finally:
            reader.close()


def test_entries_hold_the_stored_batch_and_earlier_workers_json_entries_still_reach_clients(stack):
    tenant, token = stack.new_tenant()
    connection = stack.redis_client()
    stream = keys.live_stream(tenant.id)
    post(stack, token, [{"metric": "old", "value": 0.0}])
    deadline = time.monotonic() + 15
    while not (entries := connection.xrange(stream)) and time.monotonic() < deadline:
        time.sleep(0.05)
    first_id, fields = entries[0]
    assert set(fields) == {live.BATCH_FIELD}  # the batch as queued: no JSON made in the worker
    assert [sample[0] for sample in Batch.decode(fields[live.BATCH_FIELD]).samples] == ["old"]
    # An entry as a worker of the previous version appended it, during a rolling upgrade.
    connection.xadd(stream, {live.POINTS_FIELD: orjson.dumps([{"metric": "older", "labels": {"a": "b"},
                                                                "ts": 1, "value": 2.0}])})
    resumed = StreamReader(stack, token, headers={"Last-Event-ID": first_id.decode()})
    try:
        post(stack, token, [{"metric": "new", "value": 3.0, "labels": {"k": "v"}}])
        resumed.wait_for(2)
        time.sleep(0.3)
    finally:
        resumed.close()
    assert [(p["metric"], p["labels"], p["value"]) for p in resumed.points()] == [
        ("older", {"a": "b"}, 2.0), ("new", {"k": "v"}, 3.0)]
