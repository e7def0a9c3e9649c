"""The dynamic-security admin client against a real Mosquitto."""

from concurrent.futures import ThreadPoolExecutor

from microdash_core.broker import BrokerAdmin
from microdash_core.tenant_service import TenantService


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
