"""Two throughput shims over aiomqtt 2.5 / paho-mqtt 2.2 (both pinned) for the bridge.

aiomqtt reads one MQTT packet per socket wake-up and hands messages out one task at a time,
which costs several event-loop iterations per message; with thousands of one-sample messages a
second that overhead, not our code, was the bridge's limit. These shims read every packet
already waiting on the socket in one wake-up, and drain aiomqtt's message queue in bursts.
They use aiomqtt's and paho's private attributes, hence the pinned versions and the tests.
"""

import asyncio
import socket
from collections.abc import AsyncIterator

import aiomqtt

MAX_PACKETS_PER_WAKEUP = 1000  # bounded, so timers and writes still get their turn


def read_every_waiting_packet(client: aiomqtt.Client) -> None:
    """Replace aiomqtt's socket reader with one that reads all waiting packets per wake-up."""
    paho = client._client  # noqa: SLF001
    sock = paho.socket()
    loop = asyncio.get_running_loop()

    def read_all() -> None:
        try:
            for _ in range(MAX_PACKETS_PER_WAKEUP):
                paho.loop_read()
                if paho.socket() is not sock or not _bytes_waiting(sock):
                    return
        except Exception as exc:  # noqa: BLE001 - same contract as aiomqtt's reader: a failure means disconnect
            if not client._disconnected.done():  # noqa: SLF001
                client._disconnected.set_exception(exc)  # noqa: SLF001

    loop.remove_reader(sock.fileno())
    loop.add_reader(sock.fileno(), read_all)


def _bytes_waiting(sock) -> bool:
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False


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
