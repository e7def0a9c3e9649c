"""The dynamic-security admin client against a real Mosquitto."""

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from microdash_core.broker import BRIDGE_USERNAME, BrokerAdmin, mqtt_password
from microdash_core.tenant_service import TenantService
from mqtt_client import TestClient


def test_concurrent_admins_each_get_their_own_responses(stack):
    """Every admin sees every response on the shared response topic; the operator's reconcile
    threads and the CLI must never take one another's answers."""
    credentials = [stack.new_mqtt_tenant("adm")[1] for _ in range(4)]

    def ask_repeatedly(username: str) -> set[str]:
        with BrokerAdmin(stack.settings) as broker:
            return {broker.command("getClient", username=username)["data"]["client"]["username"] for _ in range(30)}

    with ThreadPoolExecutor(len(credentials)) as pool:
        answers = list(pool.map(ask_repeatedly, [c.mqtt_username for c in credentials]))
    assert answers == [{c.mqtt_username} for c in credentials]


class RecordingBrokerAdmin(BrokerAdmin):
    """The real admin client, noting which clients it deletes."""

    deleted: list[str] = []

    def command(self, command: str, **fields) -> dict:
        if command == "deleteClient":
            RecordingBrokerAdmin.deleted.append(fields["username"])
        return super().command(command, **fields)


def test_a_revoked_tokens_client_is_deleted_until_the_broker_confirmed_it_once(stack):
    (tenant_id, credentials) = stack.new_mqtt_tenant("rev")
    # Revoked while the broker was unreachable: the client is still there.
    stack.sql("UPDATE api_tokens SET revoked_at = NOW() WHERE public_id = %s", (credentials.mqtt_username,))
    with BrokerAdmin(stack.settings) as broker:
        assert credentials.mqtt_username in broker.token_clients()
    service = TenantService(stack.settings, broker_factory=RecordingBrokerAdmin)
    RecordingBrokerAdmin.deleted.clear()

    service.sync_tenant(credentials.tenant)
    assert RecordingBrokerAdmin.deleted == [credentials.mqtt_username]
    with BrokerAdmin(stack.settings) as broker:
        assert credentials.mqtt_username not in broker.token_clients()

    for _ in range(3):  # later resyncs leave the old token alone
        service.sync_tenant(credentials.tenant)
    assert RecordingBrokerAdmin.deleted == [credentials.mqtt_username]
    assert stack.sql("SELECT broker_cleared_at IS NOT NULL FROM api_tokens WHERE tenant_id = %s",
                     (tenant_id,)) == [(1,)]


def _connected(stack, username: str, password: str) -> TestClient:
    client = TestClient(stack.services.ports["mosquitto"], username, password)
    assert client.connect(), client.connect_reason
    return client


def _accepted(stack, username: str, password: str) -> bool:
    client = TestClient(stack.services.ports["mosquitto"], username, password)
    try:
        return client.connect()
    finally:
        client.close()


def test_resyncs_leave_connected_devices_and_the_bridge_connected(stack):
    """The operator resyncs every tenant each minute and every bridge start runs `broker sync`:
    Mosquitto disconnects a client whenever its password is set, so a resync must not set it."""
    _, credentials = stack.new_mqtt_tenant("keep")
    device = _connected(stack, credentials.mqtt_username, credentials.mqtt_password)
    bridge = _connected(stack, BRIDGE_USERNAME, stack.settings.mqtt_bridge_password)
    try:
        service = TenantService(stack.settings)
        for _ in range(2):
            service.sync_tenant(credentials.tenant)  # what the operator's reconcile and resync run
            service.sync_broker()  # `microdash broker sync`
        subprocess.run(["microdash", "broker", "sync"], env={**os.environ, **stack.env}, check=True, timeout=60,
                       capture_output=True)
        time.sleep(0.5)  # a kick would arrive as a DISCONNECT right after the command
        assert not device.disconnected.is_set() and not bridge.disconnected.is_set()
        device.publish(credentials.topic_prefix + "still", b'{"metric": "still.here", "value": 1}')
    finally:
        device.close()
        bridge.close()


def test_a_rotation_gives_a_new_password_and_refuses_the_old(stack):
    _, old = stack.new_mqtt_tenant("rot")
    rotated = TenantService(stack.settings).rotate_token(old.tenant)
    assert rotated.broker_error is None and rotated.mqtt_password != old.mqtt_password
    assert _accepted(stack, rotated.mqtt_username, rotated.mqtt_password)
    assert not _accepted(stack, old.mqtt_username, old.mqtt_password)


def test_a_new_server_secret_resets_existing_clients_passwords_once(stack):
    """A reinstall that keeps Mosquitto's volume but generates a new secret: the same clients now
    have other passwords, and the broker must learn them; the next resync leaves them alone."""
    _, credentials = stack.new_mqtt_tenant("key")
    rekeyed = stack.settings.model_copy(update={"secret_key": "another-secret-" + credentials.mqtt_username})
    TenantService(rekeyed).sync_tenant(credentials.tenant)
    new_password = mqtt_password(rekeyed, credentials.mqtt_username)
    assert not _accepted(stack, credentials.mqtt_username, credentials.mqtt_password)
    device = _connected(stack, credentials.mqtt_username, new_password)
    try:
        TenantService(rekeyed).sync_tenant(credentials.tenant)
        time.sleep(0.5)
        assert not device.disconnected.is_set()
    finally:
        device.close()
