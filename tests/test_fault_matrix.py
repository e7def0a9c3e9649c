"""The fault matrix: under steady HTTP and MQTT ingest of countable samples, one fault per test (a
component SIGKILLed, a datastore restarted, MariaDB frozen past the retry budget). After recovery
every acknowledged sample of each tenant is stored exactly once. Figures: docs/operations.md."""

import os
import signal
import time

import pytest

from fault_load import HttpLoad, MqttLoad
from microdash_cli.localstack import start_component
from support import TEST_SETTINGS_ENV, recent_ms

LOAD_BEFORE_FAULT = 3.0
LOAD_AFTER_FAULT = 4.0
# The test stack's ingest retry intervals add up to this; a frozen MariaDB outlasts it.
RETRY_BUDGET_SECONDS = sum(int(s) for s in TEST_SETTINGS_ENV["MICRODASH_INGEST_RETRY_INTERVALS"].strip("[]").split(","))


def _kill_and_restart(name: str, argv: list[str]):
    def fault(stack) -> None:
        process = stack.processes.pop(name)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(1)
        stack.processes[name] = start_component(argv, stack.env, stack.log_dir / f"{name}-restarted.log")
    return fault


def _restart_service(name: str):
    def fault(stack) -> None:
        stack.services.restart_service(name)
    return fault


def _freeze_mariadb(stack) -> None:
    mariadb = stack.services.processes["mariadb"]
    os.kill(mariadb.pid, signal.SIGSTOP)
    try:
        time.sleep(RETRY_BUDGET_SECONDS + 5)
    finally:
        os.kill(mariadb.pid, signal.SIGCONT)


FAULTS = {
    "kill-api": _kill_and_restart("api", ["api"]),
    "kill-worker": _kill_and_restart("worker0", ["worker"]),
    "kill-bridge": _kill_and_restart("bridge", ["bridge"]),
    "kill-scheduler": _kill_and_restart("scheduler", ["scheduler"]),
    "restart-mariadb": _restart_service("mariadb"),
    "restart-redis": _restart_service("redis"),
    "restart-mosquitto": _restart_service("mosquitto"),
    "freeze-mariadb": _freeze_mariadb,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_no_acknowledged_sample_is_lost_or_duplicated(private_stack, fault):
    stack = private_stack(mqtt=True)
    stack.processes["scheduler"] = start_component(["scheduler"], stack.env, stack.log_dir / "scheduler.log")
    http_tenant, token = stack.new_tenant("fault-http")
    mqtt_tenant_id, credentials = stack.new_mqtt_tenant("fault-mqtt")
    base_ts = recent_ms(-300_000)
    http = HttpLoad(stack.api_url, token, base_ts)
    device = MqttLoad(stack.services.ports["mosquitto"], credentials, base_ts)
    http.start()
    device.start()
    time.sleep(LOAD_BEFORE_FAULT)
    FAULTS[fault](stack)
    time.sleep(LOAD_AFTER_FAULT)
    http.stop()
    device.stop()

    assert not http.errors, http.errors[:5]
    assert len(http.acked) > 0 and len(device.acked) > 0
    http_figures = _account(stack, http_tenant.id, http.acked)
    mqtt_figures = _account(stack, mqtt_tenant_id, device.acked)
    print(f"\nfault matrix {fault}: http {http_figures} (retries {http.retries}); mqtt {mqtt_figures} (sent {device.sent})")
    assert (http_figures["lost"], http_figures["duplicated"]) == (0, 0), http_figures
    assert (mqtt_figures["lost"], mqtt_figures["duplicated"]) == (0, 0), mqtt_figures


def _account(stack, tenant_id: int, acked: set[int], timeout: float = 120) -> dict:
    """Wait until every acknowledged sample is stored (or the time is up), then compare."""
    deadline = time.monotonic() + timeout
    while True:
        stored = [int(value) for _series, _ts, value in stack.stored_samples(tenant_id)]
        if acked <= set(stored) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(1)  # anything still queued would land now and show up as a duplicate
    stored = [int(value) for _series, _ts, value in stack.stored_samples(tenant_id)]
    return {"acked": len(acked), "stored": len(stored), "lost": len(acked - set(stored)),
            "duplicated": len(stored) - len(set(stored)), "stored_unacked": len(set(stored) - acked)}
