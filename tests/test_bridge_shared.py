"""Two bridges sharing the messages (`MICRODASH_BRIDGE_SHARED_SUBSCRIPTION=true`), real Mosquitto,
Redis, worker and `microdash bridge` processes.

Killed (SIGKILL) mid stream while it holds unacknowledged messages, a bridge's unacknowledged
messages and its round-robin share of what arrives while it is away wait in its persistent session
(Mosquitto 2.0 keeps routing to an offline member) and are delivered when a bridge with the same
client id comes back, as a StatefulSet pod does; the other bridge keeps bridging its own share.
Stopped (SIGTERM), a bridge leaves the group first, so the other takes everything and nothing waits
for a bridge that may never return (a scale-down). Either way nothing is lost, and storage being
idempotent per (series, ts), nothing is stored twice."""

import signal
import time

from microdash_cli.localstack import start_component
from support import Stack
from test_bridge_stop import Device, assert_every_sample_stored_once, received_counter, wait_for_log

# Batches wait this long, so the killed bridge surely holds unacknowledged messages.
HOLD_MS = "1500"


def test_sigkill_of_one_of_two_sharing_bridges_loses_nothing(private_stack):
    stack = two_sharing_bridges(private_stack)
    tenant_id, credentials = stack.new_mqtt_tenant()
    total = 3000
    with Device(stack, credentials, total) as device:
        time.sleep(1.0)
        killed = stack.processes.pop("bridge")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        taken_by_b_alone = received_counter(stack)
        time.sleep(2.0)
        # The survivor keeps acknowledging its share while the other is gone.
        assert received_counter(stack) > taken_by_b_alone
        stack.processes["bridge"] = start_component(["bridge"], stack.env, stack.log_dir / "bridge-again.log")
        device.join()
    assert_every_sample_stored_once(stack, tenant_id, total)
    assert "bridge subscribed" in (stack.log_dir / "bridge-again.log").read_text()


def test_a_stopped_bridge_leaves_the_group_and_the_other_takes_everything(private_stack):
    stack = two_sharing_bridges(private_stack)
    tenant_id, credentials = stack.new_mqtt_tenant()
    total = 2000
    with Device(stack, credentials, total) as device:
        time.sleep(1.0)
        stopped = stack.processes.pop("bridge")
        stopped.send_signal(signal.SIGTERM)
        assert stopped.wait(timeout=30) == 0, (stack.log_dir / "bridge.log").read_text()[-3000:]
        device.join()  # and it never comes back, as after a scale-down
    assert_every_sample_stored_once(stack, tenant_id, total)
    assert "could not leave" not in (stack.log_dir / "bridge.log").read_text()


def two_sharing_bridges(private_stack) -> Stack:
    stack = private_stack(mqtt=True, extra_env={"MICRODASH_BRIDGE_SHARED_SUBSCRIPTION": "true",
                                                "MICRODASH_BRIDGE_BATCH_MAX_WAIT_MS": HOLD_MS})
    other_env = {**stack.env, "MICRODASH_BRIDGE_CLIENT_ID": stack.env["MICRODASH_BRIDGE_CLIENT_ID"] + "-b"}
    stack.processes["bridge-b"] = start_component(["bridge"], other_env, stack.log_dir / "bridge-b.log")
    wait_for_log(stack, "bridge.log", "bridge subscribed")
    wait_for_log(stack, "bridge-b.log", "bridge subscribed")
    return stack
