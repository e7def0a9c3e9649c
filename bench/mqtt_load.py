"""MQTT ingest load: many simulated devices, each publishing one sample per QoS 1 message.

The devices speak just enough MQTT 3.1.1 (CONNECT, PUBLISH QoS 1, PUBACK) over asyncio protocols
so that one bench process can hold a thousand connections for little CPU: every packet is encoded
before the clock starts, a device tops its window up in one write once half of it is acknowledged, and
reads its PUBACKs from whatever bytes arrive, checking them byte for byte against the PUBACKs its
outstanding messages are owed, in order (encoded before the clock starts too).
A general client library would spend more CPU per message than the system under test, and the
load generator shares the machine with it. Figures are counted when durable in MariaDB.
"""

import asyncio
import gc
import itertools
import json
import struct
import threading
import time

from microdash_core.tenant_service import TenantService
from microdash_core.tenants import directory
from ingest_load import TELEMETRY_KEY, stored_baseline, wait_durable

WINDOW = 20  # unacknowledged messages per device
REFILL_AT = WINDOW // 2  # topped up to WINDOW in one write once half are acknowledged: fewer system calls
CONNECT_CONCURRENCY = 100
CONNACK_TIMEOUT_S = 10.0
PUBLISH_TIMEOUT_S = 120.0
PUBACK = 0x40
PROGRESS_POLL_S = 0.02
PROGRESS_COUNTERS = ("bridge_samples_enqueued", "samples_stored")


def _remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    body = _string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60)  # v3.1.1, user+password+clean
    body += _string(client_id) + _string(username) + _string(password)
    return b"\x10" + _remaining_length(len(body)) + body


def puback_packet(packet_id: int) -> bytes:
    return struct.pack("!BBH", PUBACK, 2, packet_id)


def publish_packet(topic: str, packet_id: int, payload: bytes) -> bytes:
    body = _string(topic) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body


class ProtocolError(Exception):
    pass


class Device(asyncio.Protocol):
    """One device's connection: CONNECT, then its pre-encoded PUBLISH packets, WINDOW at a time."""

    def __init__(self, connect: bytes, packets: tuple[list[bytes], list[bytes]]):
        self._connect = connect
        self._packets, self._pubacks = packets  # encoded PUBLISH packets, and the PUBACK each is owed
        self._next = 0  # packets sent
        self._acked = 0  # of which acknowledged: Mosquitto acknowledges one client's messages in order
        self._buffer = b""
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.connected, self.done = loop.create_future(), loop.create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self._connect)

    def connection_lost(self, exc) -> None:
        for future in (self.connected, self.done):
            if not future.done():
                future.set_exception(ProtocolError(f"connection lost: {exc}"))

    def start_publishing(self) -> None:
        self._send(WINDOW)

    def _send(self, count: int) -> None:
        batch = self._packets[self._next:self._next + count]
        if batch:
            self._next += len(batch)
            self.transport.write(b"".join(batch))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        if not self.connected.done():
            if len(buffer) < 4:
                self._buffer = buffer
                return
            if buffer[0] != 0x20 or buffer[3] != 0:
                self._fail(f"CONNACK refused or malformed: {buffer[:4]!r}")
                return
            self.connected.set_result(None)
            buffer = buffer[4:]
        acked = len(buffer) // 4  # PUBACK: 0x40 0x02, then the packet id
        owed = self._pubacks[self._acked:min(self._acked + acked, self._next)]
        received = buffer[:4 * acked]
        if received != b"".join(owed):  # one comparison for every PUBACK that came in this read
            self._fail(self._first_unexpected(received, owed))
            return
        self._acked += acked
        self._buffer = buffer[4 * acked:]
        outstanding = self._next - self._acked
        if acked and outstanding <= REFILL_AT:
            self._send(WINDOW - outstanding)
            if self._next == self._acked == len(self._packets) and not self.done.done():
                self.done.set_result(None)

    @staticmethod
    def _first_unexpected(received: bytes, owed: list[bytes]) -> str:
        for index in range(len(received) // 4):
            packet = received[4 * index:4 * index + 4]
            expected = owed[index] if index < len(owed) else "nothing (no message outstanding)"
            if packet != expected:
                return f"unexpected packet {packet!r}, expected {expected!r}"
        return "unexpected packets"

    def _fail(self, reason: str) -> None:
        error = ProtocolError(reason)
        for future in (self.connected, self.done):
            if not future.done():
                future.set_exception(error)
        self.transport.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"\xe0\x00")  # DISCONNECT
            self.transport.close()


def encoded_packets(topic: str, number: int, messages: int, base_ts: int) -> tuple[list[bytes], list[bytes]]:
    """The device's messages, as the previous load generator sent them (json.dumps, one sample each),
    and the PUBACK each is owed."""
    packet_ids = list(itertools.islice(itertools.cycle(range(1, 65536)), messages))
    publishes = [publish_packet(topic, packet_id, json.dumps(
                    {"metric": "bench.mqtt", "value": float(i), "ts": base_ts + i,
                     "labels": {"device": f"d{number}"}}).encode())
                 for i, packet_id in enumerate(packet_ids)]
    return publishes, [puback_packet(packet_id) for packet_id in packet_ids]


async def _run_devices(port: int, credentials, packets: list[tuple[list[bytes], list[bytes]]],
                       on_connected) -> tuple[float, float, float]:
    """Seconds to connect the fleet (the broker checks each password), then to publish everything
    (every PUBACK back); and the perf_counter at which publishing started."""
    loop = asyncio.get_running_loop()
    fleet = [Device(connect_packet(f"bench-device-{n}", credentials.mqtt_username, credentials.mqtt_password),
                    device_packets) for n, device_packets in enumerate(packets)]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(device: Device) -> None:
        async with gate:
            await loop.create_connection(lambda: device, "127.0.0.1", port)
            await asyncio.wait_for(device.connected, CONNACK_TIMEOUT_S)

    connecting = time.monotonic()
    try:
        await asyncio.gather(*(connect(device) for device in fleet))
        on_connected()
        started, started_perf = time.monotonic(), time.perf_counter()
        for device in fleet:
            device.start_publishing()
        await asyncio.wait_for(asyncio.gather(*(device.done for device in fleet)), PUBLISH_TIMEOUT_S)
        published_s = time.monotonic() - started
    finally:
        for device in fleet:
            device.close()
    return started - connecting, published_s, started_perf


class Progress(threading.Thread):
    """The bridge's enqueued and the workers' stored counters every 20 ms: where the span goes."""

    def __init__(self, stack):
        super().__init__(daemon=True)
        self.redis, self.stopped, self.points = stack.connect_redis(), threading.Event(), []

    def run(self) -> None:
        while not self.stopped.is_set():
            counts = self.redis.hmget(TELEMETRY_KEY, *PROGRESS_COUNTERS)
            self.points.append((time.perf_counter(), *(int(count or 0) for count in counts)))
            time.sleep(PROGRESS_POLL_S)

    def stop(self) -> None:
        self.stopped.set()
        self.join()
        counts = self.redis.hmget(TELEMETRY_KEY, *PROGRESS_COUNTERS)  # the last poll may predate the end
        self.points.append((time.perf_counter(), *(int(count or 0) for count in counts)))
        self.redis.close()

    def seconds_to(self, since: float, total: int) -> dict[str, list[float | None]]:
        """Seconds from `since` until 50 / 90 / 100 % of `total` were enqueued by the bridge, and stored."""
        first = self.points[0]
        timeline = {}
        for column, name in enumerate(PROGRESS_COUNTERS, start=1):
            timeline[name] = [next((round(point[0] - since, 3) for point in self.points
                                    if point[column] - first[column] >= total * share), None)
                              for share in (0.5, 0.9, 1.0)]
        return timeline


def run_mqtt(stack, *, devices: int, messages_per_device: int, timeout_s: float = 300.0) -> dict:
    credentials = TenantService(stack.settings).create(f"bench-mqtt-{int(time.time())}",
                                                        ingest_rate_limit=10_000_000)
    if credentials.broker_error:
        raise RuntimeError(credentials.broker_error)
    connection = stack.connect_db()
    with connection.cursor() as cursor:
        tenant_id = directory.get_tenant(cursor, name=credentials.tenant).id
    connection.close()
    total = devices * messages_per_device
    base_ts = int(time.time() * 1000) - 600_000
    packets = [encoded_packets(f"{credentials.topic_prefix}devices/d{n}", n, messages_per_device, base_ts)
               for n in range(devices)]
    baseline = stored_baseline(stack)
    cpu_before, cpu_connected = stack.cpu_seconds(), {}
    progress = Progress(stack)
    progress.start()
    gc.freeze()  # the packets are never garbage: kept out of the collections the devices' reads trigger
    try:
        started = time.perf_counter()
        connect_s, published_s, publishing_started = asyncio.run(_run_devices(
            stack.services.ports["mosquitto"], credentials, packets, lambda: cpu_connected.update(stack.cpu_seconds())))
    finally:
        gc.unfreeze()
    durable_at, stored = wait_durable(stack, tenant_id, total, baseline=baseline, timeout_s=timeout_s)
    progress.stop()
    durable_s = (durable_at or time.perf_counter()) - started
    after_connect_s = (durable_at or time.perf_counter()) - publishing_started
    return {
        "mqtt_ingest_samples_per_s": round(stored / durable_s) if stored == total else None,
        "mqtt_detail": {"devices": devices, "messages_per_device": messages_per_device, "samples": total,
                        "stored": stored, "connect_seconds": round(connect_s, 3),
                        "publish_seconds": round(published_s, 3),
                        "durable_seconds": round(durable_s, 3),
                        "published_samples_per_s": round(total / published_s),
                        # the same span without the fleet's connecting: what the ingest path itself carries
                        "durable_after_connect_samples_per_s": round(stored / after_connect_s),
                        # the broker's CPU for the fleet's connections alone (a password hash each)
                        "mosquitto_connect_cpu_seconds": round(cpu_connected["mosquitto"] - cpu_before["mosquitto"], 2),
                        # seconds after publishing started until 50 / 90 / 100 % were enqueued, stored
                        "progress_seconds": progress.seconds_to(publishing_started, total),
                        "cpu_seconds_after_connect": {
                            name: round(seconds - cpu_connected.get(name, 0.0), 2)
                            for name, seconds in stack.cpu_seconds().items()}},
    }
