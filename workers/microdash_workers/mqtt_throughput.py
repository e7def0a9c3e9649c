"""Throughput shims over aiomqtt 2.5 / paho-mqtt 2.2 (both pinned) for the bridge.

aiomqtt reads one MQTT packet per socket wake-up and hands messages out one task at a time,
which costs several event-loop iterations per message; with thousands of one-sample messages a
second that overhead, not our code, was the bridge's limit. These shims read every packet
already waiting on the socket in one wake-up, and drain aiomqtt's message queue in bursts.
paho reads a packet with three or more `recv` calls (its first byte, each length byte, the rest);
here its reads are served from one buffer filled 64 KiB at a time. paho also formats a debug log
record per packet received and sent; here those are skipped unless its logger shows debug.
They use aiomqtt's and paho's private attributes, hence the pinned versions and the tests.
"""

import asyncio
import logging
from collections.abc import AsyncIterator

import aiomqtt
from paho.mqtt.client import MQTT_LOG_DEBUG

MAX_PACKETS_PER_WAKEUP = 1000  # bounded, so timers and writes still get their turn
RECEIVE_BUFFER_BYTES = 65536


class BufferedReceive:
    """paho's `_sock_recv(n)` served from a buffer: one real read per 64 KiB instead of ~5 per packet.

    Filling goes through paho's own `_sock_recv`, so its TLS and error handling still apply."""

    def __init__(self, sock_recv):
        self._sock_recv = sock_recv
        self._buffer = b""
        self._offset = 0

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


def read_every_waiting_packet(client: aiomqtt.Client) -> None:
    """Replace aiomqtt's socket reader with one that reads all waiting packets per wake-up."""
    paho = client._client  # noqa: SLF001
    sock = paho.socket()
    loop = asyncio.get_running_loop()
    receive = BufferedReceive(paho._sock_recv)  # noqa: SLF001
    paho._sock_recv = receive  # noqa: SLF001
    _skip_debug_logging(paho)

    def read_all() -> None:
        try:
            for _ in range(MAX_PACKETS_PER_WAKEUP):
                paho.loop_read()
                if paho.socket() is not sock:
                    return
                if not receive.holds_bytes:
                    # The next packet's bytes, if any, are still in the socket: the selector wakes us.
                    return
            # Bytes left in the buffer wake no selector: come back after timers and writes had a turn.
            loop.call_soon(read_all)
        except Exception as exc:  # noqa: BLE001 - same contract as aiomqtt's reader: a failure means disconnect
            if not client._disconnected.done():  # noqa: SLF001
                client._disconnected.set_exception(exc)  # noqa: SLF001

    loop.remove_reader(sock.fileno())
    loop.add_reader(sock.fileno(), read_all)


def _skip_debug_logging(paho) -> None:
    """paho logs every packet at debug level, its arguments formatted first; skip that unless shown."""
    if paho._logger is None or paho._logger.isEnabledFor(logging.DEBUG):  # noqa: SLF001
        return
    log = paho._easy_log  # noqa: SLF001

    def easy_log(level, fmt, *args) -> None:
        if level != MQTT_LOG_DEBUG:
            log(level, fmt, *args)

    paho._easy_log = easy_log  # noqa: SLF001


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
        burst = [getter.result()]
    else:
        burst = []
    while not queue.empty():
        burst.append(queue.get_nowait())
    return burst
