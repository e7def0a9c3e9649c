"""Throughput shims over aiomqtt 2.5 / paho-mqtt 2.2 (both pinned) for the bridge.

aiomqtt reads one MQTT packet per socket wake-up and hands messages out one task at a time,
which costs several event-loop iterations per message; with thousands of one-sample messages a
second that overhead, not our code, was the bridge's limit. These shims read every packet
already waiting on the socket in one wake-up, and drain aiomqtt's message queue in bursts.
paho reads a packet with three or more `recv` calls (its first byte, each length byte, the rest);
here its reads are served from one buffer filled 64 KiB at a time. paho also formats a debug log
record per packet received and sent; here those are skipped unless its logger shows debug.
Even so, paho's pure-Python packet reading and PUBLISH handling, then aiomqtt's conversion of
paho's message into its own, cost most of the bridge's ~38 µs a message. So a whole MQTT 3.1.1
PUBLISH of QoS 0 or 1 waiting in the buffer is decoded here, straight into aiomqtt's `Message`
and queue (one list of them per wake-up, not one queue item each; only this module's readers
take from that queue); every other packet (and any PUBLISH this reader does
not take: QoS 2, MQTT 5, a topic that is not valid UTF-8 or not a valid topic, one not yet whole)
goes through paho as before. Acknowledgements of a flush leave as one write of all its PUBACKs:
paho queues, wakes its socket pair and writes each PUBACK on its own (two system calls each).
They use aiomqtt's and paho's private attributes, hence the pinned versions and the tests.
"""

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Iterable

import aiomqtt
from paho.mqtt.client import MQTT_LOG_DEBUG, MQTTv5, PUBACK, time_func

MAX_PACKETS_PER_WAKEUP = 1000  # bounded, so timers and writes still get their turn
RECEIVE_BUFFER_BYTES = 65536
PUBLISH = 0x30
CACHED_TOPICS = 10_000  # at most ~2.5 MB of topics
CACHED_TOPIC_BYTES = 256
_PUBACK_PACKET = struct.Struct("!BBH")


class BufferedReceive:
    """paho's `_sock_recv(n)` served from a buffer: one real read per 64 KiB instead of ~5 per packet.

    Filling goes through paho's own `_sock_recv`, so its TLS and error handling still apply."""

    def __init__(self, sock_recv):
        self._sock_recv = sock_recv
        self._buffer = b""
        self._offset = 0
        self._topics: dict[bytes, aiomqtt.Topic] = {}  # a device publishes to the same few topics

    def __call__(self, bufsize: int) -> bytes:
        if self._offset >= len(self._buffer):
            data = self._sock_recv(RECEIVE_BUFFER_BYTES)  # raises BlockingIOError when nothing waits
            if len(data) <= bufsize:
                return data  # also b"": the connection closed
            self._buffer, self._offset = data, 0
        start = self._offset
        self._offset = min(start + bufsize, len(self._buffer))
        return self._buffer[start:self._offset]

    @property
    def holds_bytes(self) -> bool:
        return self._offset < len(self._buffer)

    def take_publish(self) -> aiomqtt.Message | None:
        """The buffer's next packet as aiomqtt's message if it is a whole MQTT 3.1.1 PUBLISH of
        QoS 0 or 1 with a valid topic, consumed; otherwise None and nothing consumed."""
        buffer, start = self._buffer, self._offset
        end_of_buffer = len(buffer)
        if end_of_buffer - start < 4:
            return None
        command = buffer[start]
        qos = (command >> 1) & 3
        if command & 0xF0 != PUBLISH or qos > 1:
            return None
        length, multiplier, position = 0, 1, start + 1
        while True:  # the remaining length, 1-4 bytes of 7 bits each
            if position >= end_of_buffer or position - start > 4:
                return None  # not whole yet, or malformed: paho's to judge
            byte = buffer[position]
            position += 1
            length += (byte & 0x7F) * multiplier
            if not byte & 0x80:
                break
            multiplier *= 128
        end = position + length
        if end > end_of_buffer or length < 2:
            return None
        topic_end = position + 2 + ((buffer[position] << 8) | buffer[position + 1])
        payload_start = topic_end + 2 if qos else topic_end
        if payload_start > end:
            return None
        topic = self._topic(buffer[position + 2:topic_end])
        if topic is None:
            return None
        mid = ((buffer[topic_end] << 8) | buffer[topic_end + 1]) if qos else 0
        self._offset = end
        return aiomqtt.Message(topic, buffer[payload_start:end], qos, bool(command & 1), mid, None)

    def _topic(self, raw: bytes) -> aiomqtt.Topic | None:
        """aiomqtt's checked topic (immutable, so shared), or None for one aiomqtt or UTF-8 refuses."""
        topic = self._topics.get(raw)
        if topic is None:
            try:
                topic = aiomqtt.Topic(raw.decode())
            except ValueError:  # UnicodeDecodeError included: paho reports such topics its own way
                return None
            if len(raw) <= CACHED_TOPIC_BYTES:
                if len(self._topics) >= CACHED_TOPICS:
                    self._topics.clear()
                self._topics[raw] = topic
        return topic


def read_every_waiting_packet(client: aiomqtt.Client) -> None:
    """Replace aiomqtt's socket reader with one that reads all waiting packets per wake-up."""
    paho = client._client  # noqa: SLF001
    sock = paho.socket()
    loop = asyncio.get_running_loop()
    receive = BufferedReceive(paho._sock_recv)  # noqa: SLF001
    paho._sock_recv = receive  # noqa: SLF001
    _skip_debug_logging(paho)
    queue: asyncio.Queue = client._queue  # noqa: SLF001
    may_take = _may_take_publishes(client)

    def read_all() -> None:
        taken: list[aiomqtt.Message] = []  # one item of aiomqtt's queue, not one each (see message_bursts)
        try:
            for _ in range(MAX_PACKETS_PER_WAKEUP):
                # Only between packets: paho may hold the start of one it is reading.
                message = receive.take_publish() if may_take and paho._in_packet["command"] == 0 else None  # noqa: SLF001
                if message is not None:
                    taken.append(message)
                    if receive.holds_bytes:
                        continue
                    break
                if taken:  # before paho queues a message of its own: the order stays the broker's
                    queue.put_nowait(taken)
                    taken = []
                paho.loop_read()
                if paho.socket() is not sock:
                    return
                if not receive.holds_bytes:
                    # The next packet's bytes, if any, are still in the socket: the selector wakes us.
                    break
            else:
                # Bytes left in the buffer wake no selector: come back after timers and writes had a turn.
                loop.call_soon(read_all)
        except Exception as exc:  # noqa: BLE001 - same contract as aiomqtt's reader: a failure means disconnect
            if not client._disconnected.done():  # noqa: SLF001
                client._disconnected.set_exception(exc)  # noqa: SLF001
        finally:
            if taken:
                queue.put_nowait(taken)
                with paho._msgtime_mutex:  # noqa: SLF001 - paho's keepalive watches it; paho sets it per packet
                    paho._last_bytes_received = time_func()  # noqa: SLF001

    loop.remove_reader(sock.fileno())
    loop.add_reader(sock.fileno(), read_all)


def _may_take_publishes(client: aiomqtt.Client) -> bool:
    """Decoding PUBLISH packets here skips paho's per-topic callbacks, which aiomqtt does not use,
    and puts lists of messages on aiomqtt's queue, which must then be unbounded (the bridge's is)."""
    paho = client._client  # noqa: SLF001
    return (paho._protocol != MQTTv5 and paho.on_message == client._on_message  # noqa: SLF001
            and client._queue.maxsize == 0)  # noqa: SLF001


def acknowledge(client: aiomqtt.Client, messages: Iterable[aiomqtt.Message]) -> None:
    """PUBACK (manual acks) every QoS 1 message, all in one packet of paho's outgoing queue."""
    paho = client._client  # noqa: SLF001
    pack = _PUBACK_PACKET.pack
    pubacks = []
    for message in messages:
        if message.qos == 1 and paho._protocol != MQTTv5:  # noqa: SLF001
            pubacks.append(pack(PUBACK, 2, message.mid))
        else:
            paho.ack(message.mid, message.qos)
    if pubacks:
        paho._packet_queue(PUBACK, b"".join(pubacks), 0, 0)  # noqa: SLF001


def _skip_debug_logging(paho) -> None:
    """paho logs every packet at debug level, its arguments formatted first; skip that unless shown."""
    if paho._logger is None or paho._logger.isEnabledFor(logging.DEBUG):  # noqa: SLF001
        return
    log = paho._easy_log  # noqa: SLF001

    def easy_log(level, fmt, *args) -> None:
        if level != MQTT_LOG_DEBUG:
            log(level, fmt, *args)

    paho._easy_log = easy_log  # noqa: SLF001


def waiting_messages(client: aiomqtt.Client) -> list[aiomqtt.Message]:
    """Every message on aiomqtt's queue, taken off it, in order."""
    queue: asyncio.Queue = client._queue  # noqa: SLF001
    burst: list[aiomqtt.Message] = []
    while not queue.empty():
        _add(burst, queue.get_nowait())
    return burst


def _add(burst: list[aiomqtt.Message], item: aiomqtt.Message | list[aiomqtt.Message]) -> None:
    """aiomqtt's queue holds paho's messages one by one and this module's in lists."""
    if type(item) is list:
        burst.extend(item)
    else:
        burst.append(item)


async def message_bursts(client: aiomqtt.Client, *, until: asyncio.Event) -> AsyncIterator[list[aiomqtt.Message]]:
    """Every message already received, as one list; waits for the next one when there is none.
    Ends once `until` is set (messages still queued then are left unacknowledged)."""
    queue: asyncio.Queue = client._queue  # noqa: SLF001
    disconnected: asyncio.Future = client._disconnected  # noqa: SLF001
    stopping = asyncio.ensure_future(until.wait())
    try:
        while not until.is_set():
            yield await _next_burst(queue, disconnected, stopping)
    finally:
        stopping.cancel()


async def _next_burst(queue: asyncio.Queue, disconnected: asyncio.Future,
                      stopping: asyncio.Future) -> list[aiomqtt.Message]:
    if queue.empty():
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait({getter, disconnected, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
            if disconnected.done():
                raise aiomqtt.MqttError("Disconnected during message iteration") from disconnected.exception()
            return []
        burst: list[aiomqtt.Message] = []
        _add(burst, getter.result())
    else:
        burst = []
    while not queue.empty():
        _add(burst, queue.get_nowait())
    return burst
