"""The dynamic-security admin client against a real Mosquitto."""

from concurrent.futures import ThreadPoolExecutor

from microdash_core.broker import BrokerAdmin


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
