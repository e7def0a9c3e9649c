"""The bridge's throughput shims over aiomqtt / paho (bridge/microdash_bridge/mqtt_throughput.py):
PUBLISH packets decoded from the receive buffer, every other packet left to paho, and a flush's
PUBACKs sent as one write. Against a real Mosquitto, with a real paho publisher."""

import asyncio
import os
import shutil
import struct
import subprocess
import time

import aiomqtt
import paho.mqtt.client as mqtt
import pytest

from microdash_cli.localstack import free_port
from microdash_bridge.mqtt_throughput import (BufferedReceive, _may_take_publishes, acknowledge, message_bursts,
                                               read_every_waiting_packet, waiting_messages)

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SUBSCRIBER_ID = "throughput-test-subscriber"


def publish_packet(topic: bytes, payload: bytes, *, qos: int, mid: int = 0, retain: bool = False) -> bytes:
    body = struct.pack("!H", len(topic)) + topic + (struct.pack("!H", mid) if qos else b"") + payload
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([0x30 | qos << 1 | int(retain)]) + bytes(encoded) + body


def receive_from(*chunks: bytes) -> BufferedReceive:
    pending = list(chunks)

    def sock_recv(_bufsize: int) -> bytes:
        if not pending:
            raise BlockingIOError
        return pending.pop(0)

    return BufferedReceive(sock_recv)


def test_a_whole_publish_is_decoded_and_consumed():
    first = publish_packet(b"tenant/a/dev", b'{"v": 1}', qos=1, mid=513)
    second = publish_packet("tenant/a/ü".encode(), b"x" * 300, qos=0, retain=True)  # 2-byte remaining length
    receive = receive_from(first + second)
    receive._buffer, receive._offset = first + second, 0
    message = receive.take_publish()
    assert (str(message.topic), message.payload, message.qos, message.mid, message.retain) == (
        "tenant/a/dev", b'{"v": 1}', 1, 513, False)
    message = receive.take_publish()
    assert (str(message.topic), message.payload, message.qos, message.mid, message.retain) == (
        "tenant/a/ü", b"x" * 300, 0, 0, True)
    assert receive.take_publish() is None and not receive.holds_bytes


@pytest.mark.parametrize("packet", [
    publish_packet(b"t/qos2", b"payload", qos=2, mid=7),  # QoS 2 has paho's state machine
    publish_packet(b"t/\xff\xfe", b"payload", qos=1, mid=7),  # not UTF-8: paho reports it
    publish_packet(b"t/+", b"payload", qos=1, mid=7),  # not a valid topic name
    b"\x90\x03\x00\x01\x01",  # a SUBACK
    b"\xd0\x00\xd0\x00",  # PINGRESPs
])
def test_other_packets_are_left_to_paho_untouched(packet):
    receive = receive_from()
    receive._buffer, receive._offset = packet, 0
    assert receive.take_publish() is None
    assert receive._offset == 0


def test_a_publish_not_yet_whole_is_not_taken_at_any_cut():
    packet = publish_packet(b"tenant/a/dev", b"y" * 200, qos=1, mid=9)
    for cut in range(len(packet)):
        receive = receive_from()
        receive._buffer, receive._offset = packet[:cut], 0
        assert receive.take_publish() is None, cut
        assert receive._offset == 0
    receive._buffer = packet
    assert receive.take_publish().payload == b"y" * 200


def test_the_queue_holds_lists_and_single_messages_and_gives_them_back_in_order():
    asyncio.run(_queue_holds_lists_and_single_messages())


async def _queue_holds_lists_and_single_messages() -> None:
    client = aiomqtt.Client("127.0.0.1", 1883)  # never connected: only its queue is used

    def message(mid: int) -> aiomqtt.Message:
        return aiomqtt.Message(f"t/{mid}", b"", 1, False, mid, None)

    client._queue.put_nowait([message(1), message(2)])  # this module's, one list per wake-up
    client._queue.put_nowait(message(3))  # paho's, through aiomqtt's _on_message
    client._queue.put_nowait([message(4)])
    assert [m.mid for m in waiting_messages(client)] == [1, 2, 3, 4]
    assert client._queue.empty() and waiting_messages(client) == []


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      "max_inflight_messages 20000\nmax_queued_messages 100000\nqueue_qos0_messages true\n"
                      + ("user root\n" if os.geteuid() == 0 else ""))
    with open(tmp_path / "mosquitto.log", "ab") as log:
        process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
            try:
                probe.connect("127.0.0.1", port)
                probe.disconnect()
                break
            except OSError:
                assert time.monotonic() < deadline, "Mosquitto did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def publish_all(port: int, messages: list[tuple[str, bytes, int]]) -> None:
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="throughput-test-publisher",
                            protocol=mqtt.MQTTv311)
    publisher.max_inflight_messages_set(1000)
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    try:
        infos = [publisher.publish(topic, payload, qos=qos) for topic, payload, qos in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        publisher.disconnect()
        publisher.loop_stop()


async def receive(port: int, count: int, *, ack: bool, timeout: float = 20.0) -> list[aiomqtt.Message]:
    """What a bridge-like subscriber (shims, manual acks, persistent session) receives, acknowledged or not."""
    client = aiomqtt.Client("127.0.0.1", port, identifier=SUBSCRIBER_ID, clean_session=False,
                            max_queued_incoming_messages=0)
    client._client.manual_ack_set(True)
    received: list[aiomqtt.Message] = []
    async with client:
        assert _may_take_publishes(client)  # else every PUBLISH would quietly take paho's slow road
        read_every_waiting_packet(client)
        await client.subscribe("t/#", qos=2)
        stop = asyncio.Event()

        async def collect() -> None:
            async for burst in message_bursts(client, until=stop):
                received.extend(burst)
                if ack:
                    acknowledge(client, burst)
                if len(received) >= count:
                    stop.set()

        try:
            await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            pass
        await client.unsubscribe("never/subscribed")  # a round trip: the broker has read every PUBACK
    return received


def test_the_bridge_shims_receive_every_message_once_and_their_acks_stick(broker):
    asyncio.run(receive(broker, 0, ack=True, timeout=0.5))  # the persistent session exists from here on
    small = [(f"t/dev/{n % 7}", f'{{"n": {n}}}'.encode(), 1) for n in range(3000)]
    mixed = [("t/large", os.urandom(200_000), 1), ("t/zero", b"qos 0", 0), ("t/two", b"qos 2", 2),
             ("t/ünï", b"", 1)]
    sent = small[:1500] + mixed + small[1500:]
    publish_all(broker, sent)

    received = asyncio.run(receive(broker, len(sent), ack=True))
    as_sent = [(str(m.topic), m.payload, m.qos) for m in received]
    assert sorted(as_sent) == sorted(sent)
    # In order within QoS 1; the broker sends queued QoS 0 at once, and paho delivers QoS 2 on PUBREL.
    assert [item for item in as_sent if item[2] == 1] == [item for item in sent if item[2] == 1]
    assert len({m.mid for m in received if m.qos}) == len(sent) - 1  # a packet id each, none twice in flight

    # Every QoS 1 and 2 message was acknowledged: the persistent session has nothing to deliver again.
    assert asyncio.run(receive(broker, 1, ack=False, timeout=1.0)) == []


def test_messages_not_acknowledged_are_delivered_again(broker):
    asyncio.run(receive(broker, 0, ack=True, timeout=0.5))
    sent = [(f"t/dev/{n}", f"{n}".encode(), 1) for n in range(500)]
    publish_all(broker, sent)
    assert len(asyncio.run(receive(broker, len(sent), ack=False))) == len(sent)
    again = asyncio.run(receive(broker, len(sent), ack=True))
    assert [(str(m.topic), m.payload) for m in again] == [(topic, payload) for topic, payload, _ in sent]
