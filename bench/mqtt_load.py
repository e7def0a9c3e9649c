"""MQTT ingest load: many simulated devices, each publishing one sample per QoS 1 message.

The devices speak just enough MQTT 3.1.1 (CONNECT, PUBLISH QoS 1, PUBACK) over asyncio streams so
that one bench process can hold a thousand connections; a general client library would spend
more CPU per message than the system under test. Figures are counted when durable in MariaDB.
"""

import asyncio
import itertools
import json
import struct
import time

from microdash_core.tenant_service import TenantService
from ingest_load import count_rows

WINDOW = 20  # unacknowledged messages per device
CONNECT_CONCURRENCY = 100


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


def publish_packet(topic: str, packet_id: int, payload: bytes) -> bytes:
    body = _string(topic) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body


class Device:
    def __init__(self, port: int, client_id: str, username: str, password: str):
        self.port, self.client_id, self.username, self.password = port, client_id, username, password
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(connect_packet(self.client_id, self.username, self.password))
        connack = await asyncio.wait_for(self.reader.readexactly(4), 10)
        if connack[3] != 0:
            raise RuntimeError(f"CONNACK refused: {connack[3]}")

    async def publish_all(self, topic: str, payloads: list[bytes]) -> None:
        window = asyncio.Semaphore(WINDOW)
        acked = asyncio.Event()
        outstanding = 0

        async def read_acks() -> None:
            nonlocal outstanding
            while outstanding:
                await self.reader.readexactly(4)  # PUBACK: 0x40 0x02 id id
                outstanding -= 1
                window.release()
            acked.set()

        outstanding = len(payloads)
        reader = asyncio.create_task(read_acks())
        for packet_id, payload in zip(itertools.cycle(range(1, 65536)), payloads):
            await window.acquire()
            self.writer.write(publish_packet(topic, packet_id, payload))
            await self.writer.drain()
        await asyncio.wait_for(reader, 120)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.write(b"\xe0\x00")
            self.writer.close()


async def _run_devices(port: int, credentials, devices: int, messages: int, base_ts: int,
                       on_connected) -> tuple[float, float]:
    """Seconds to connect the fleet (the broker checks each password), then to publish everything."""
    fleet = [Device(port, f"bench-device-{n}", credentials.mqtt_username, credentials.mqtt_password)
             for n in range(devices)]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(device: Device) -> None:
        async with gate:
            await device.connect()

    connecting = time.monotonic()
    await asyncio.gather(*(connect(device) for device in fleet))
    on_connected()
    started = time.monotonic()

    async def run(number: int, device: Device) -> None:
        payloads = [json.dumps({"metric": "bench.mqtt", "value": float(i), "ts": base_ts + i,
                                "labels": {"device": f"d{number}"}}).encode() for i in range(messages)]
        await device.publish_all(f"{credentials.topic_prefix}devices/d{number}", payloads)

    await asyncio.gather(*(run(number, device) for number, device in enumerate(fleet)))
    published_s = time.monotonic() - started
    await asyncio.gather(*(device.close() for device in fleet))
    return started - connecting, published_s


def run_mqtt(stack, *, devices: int, messages_per_device: int, timeout_s: float = 300.0) -> dict:
    credentials = TenantService(stack.settings).create(f"bench-mqtt-{int(time.time())}",
                                                        ingest_rate_limit=10_000_000)
    if credentials.broker_error:
        raise RuntimeError(credentials.broker_error)
    connection = stack.connect_db()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenants WHERE name = %s", (credentials.tenant,))
        tenant_id = cursor.fetchone()[0]
    total = devices * messages_per_device
    base_ts = int(time.time() * 1000) - 600_000
    cpu_before, cpu_connected = stack.cpu_seconds(), {}
    started = time.monotonic()
    connect_s, published_s = asyncio.run(_run_devices(stack.services.ports["mosquitto"], credentials, devices,
                                                      messages_per_device, base_ts,
                                                      lambda: cpu_connected.update(stack.cpu_seconds())))
    stored, deadline = 0, time.monotonic() + timeout_s
    with connection.cursor() as cursor:
        while stored < total and time.monotonic() < deadline:
            stored = count_rows(connection, tenant_id)
            if stored < total:
                time.sleep(0.1)
    durable_s = time.monotonic() - started
    connection.close()
    return {
        "mqtt_ingest_samples_per_s": round(stored / durable_s) if stored == total else None,
        "mqtt_detail": {"devices": devices, "messages_per_device": messages_per_device, "samples": total,
                        "stored": stored, "connect_seconds": round(connect_s, 3),
                        "publish_seconds": round(published_s, 3),
                        "durable_seconds": round(durable_s, 3),
                        "published_samples_per_s": round(total / published_s),
                        # the same span without the fleet's connecting: what the ingest path itself carries
                        "durable_after_connect_samples_per_s": round(stored / (durable_s - connect_s)),
                        # the broker's CPU for the fleet's connections alone (a password hash each)
                        "mosquitto_connect_cpu_seconds": round(cpu_connected["mosquitto"] - cpu_before["mosquitto"], 2)},
    }
