"""What a tenant sent that could never be stored, read back by the tenant (GET /api/v1/dead-letters)
and by the operator (`microdash dead-letters`), from the lists the bridge and the workers keep."""

import json
import time
import uuid

from microdash_core import dead_letters
from microdash_core.batches import Batch
from microdash_core.queues import enqueue_batch, ingest_queue
from mqtt_client import TestClient
from support import recent_ms
from test_cli import run


def publish(stack, credentials, payloads: list[bytes]) -> None:
    client = TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username, credentials.mqtt_password)
    assert client.connect(), client.connect_reason
    try:
        for payload in payloads:
            client.publish(credentials.topic_prefix + "dev-7", payload)
    finally:
        client.close()


def letters_of(stack, token: str, expected: int, **params) -> dict:
    deadline = time.monotonic() + 15
    with stack.client(token) as http:
        while True:
            response = http.get("/api/v1/dead-letters", params=params)
            assert response.status_code == 200, response.text
            if response.json()["kept"] >= expected or time.monotonic() > deadline:
                return response.json()
            time.sleep(0.1)


def test_a_tenant_reads_its_refused_mqtt_messages_and_no_other_tenants(stack):
    tenant_id, credentials = stack.new_mqtt_tenant()
    _other_id, other = stack.new_mqtt_tenant()
    publish(stack, credentials, [b"{not json", b'{"metric": "bad name", "value": 1}'])

    answer = letters_of(stack, credentials.token, 2)
    assert answer["kept"] == 2 and answer["cap"] == dead_letters.KEEP
    newest, oldest = answer["entries"]
    assert {newest["source"], oldest["source"]} == {"mqtt"}
    assert oldest["topic"] == credentials.topic_prefix + "dev-7" and oldest["payload"] == "{not json"
    assert "malformed JSON" in oldest["reason"] and "metric" in newest["reason"]
    assert letters_of(stack, other.token, 0) == {"kept": 0, "cap": dead_letters.KEEP, "entries": []}


def test_a_sample_the_database_refused_shows_its_batch_and_an_excerpt(stack):
    tenant, token = stack.new_tenant()
    batch = Batch(tenant.id, uuid.uuid4().hex, recent_ms(),
                  [("refused", {"big": "x" * 70_000}, recent_ms(-1000), 1.0)])  # series.labels holds 65535 bytes
    enqueue_batch(ingest_queue(stack.redis_client(), stack.settings), batch, stack.settings)

    entry, = letters_of(stack, token, 1)["entries"]
    assert entry["source"] == "worker" and entry["batch_id"] == batch.batch_id
    assert "Data too long" in entry["reason"] and len(entry["sample"].encode()) < 5000
    assert entry["topic"] is None and entry["payload"] is None


def test_the_page_size_is_bounded_and_a_credential_is_required(stack):
    _tenant_id, credentials = stack.new_mqtt_tenant()
    publish(stack, credentials, [b"{%d" % i for i in range(3)])
    assert letters_of(stack, credentials.token, 3)["kept"] == 3
    page = letters_of(stack, credentials.token, 3, limit=1)
    assert page["kept"] == 3 and [entry["payload"] for entry in page["entries"]] == ["{2"]  # newest first
    with stack.client(credentials.token) as http:
        for limit in (0, dead_letters.KEEP + 1, "x"):
            response = http.get("/api/v1/dead-letters", params={"limit": limit})
            assert response.status_code == 422 and "limit" in response.text, response.text
    with stack.client() as anonymous:
        assert anonymous.get("/api/v1/dead-letters").status_code == 401


def test_the_operator_reads_a_tenants_list_and_the_unattributed_one(stack):
    _tenant_id, credentials = stack.new_mqtt_tenant()
    publish(stack, credentials, [b"{broken"])
    letters_of(stack, credentials.token, 1)

    printed = run(stack, "dead-letters", "--tenant", credentials.tenant, "--limit", "5").stdout.splitlines()
    assert [json.loads(line)["payload"] for line in printed] == ["{broken"]
    topic = f"microdash/gone-{uuid.uuid4().hex[:6]}/dev"  # as the bridge keeps a deleted tenant's message
    with stack.redis_client().pipeline() as pipe:
        dead_letters.push(pipe, None, [dead_letters.message_entry(tenant=None, topic=topic, reason="unknown tenant",
                                                                  payload=b"{}")])
        pipe.execute()
    unattributed = run(stack, "dead-letters", "--limit", "1").stdout.splitlines()
    assert [json.loads(line)["topic"] for line in unattributed] == [topic]
    missing = run(stack, "dead-letters", "--tenant", "no-such-tenant-" + uuid.uuid4().hex[:6], check=False)
    assert missing.returncode == 1 and "no tenant named" in missing.stderr
