"""The MQTT bridge (`microdash bridge`): broker → validated batches on the RQ ingest queue.

A message is acknowledged to the broker only after the batch holding its samples is in Redis
(paho's manual acks), so a bridge, Redis or broker restart loses nothing: unacknowledged
messages are redelivered to the bridge's persistent session. Replicas share the load through
a shared subscription. Small messages are coalesced into batches bounded by sample count and a
few milliseconds of waiting.

SIGTERM (a pod stopping, `make run` ending) or SIGINT stops it gracefully: it takes no further
message (one of several sharing bridges first leaves the group and takes what the broker routed
to it before), enqueues and acknowledges what it holds, disconnects and exits 0. What it cannot
enqueue within `BRIDGE_STOP_TIMEOUT_SECONDS` (Redis away, say) stays unacknowledged with the broker.
"""

import asyncio
import logging
import signal
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import aiomqtt
import pymysql
import redis
import redis.asyncio as aioredis

from microdash_core import dead_letters, heap, keys
from microdash_core.batches import Batch
from microdash_core.broker import BRIDGE_USERNAME, BrokerAddress, bridge_subscription
from microdash_core.queues import Backlog, enqueue_batch, ingest_queue
from microdash_core.rate_limit import IngestRateLimiter
from microdash_core.series_limit import SeriesLimiter
from microdash_core.settings import Settings

from .bridge_intake import Intake, MessageDecoder, Rejection
from .mqtt_throughput import acknowledge, message_bursts, read_every_waiting_packet, waiting_messages
from .tenant_directory import KnownTenant, TenantDirectory

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30.0
# Reconnect fast at first: Mosquitto 2.0.11 drops messages for a shared subscription whose
# persistent session is offline right after a broker restart (see docs/decisions.md), so the
# bridge must be back before the devices are.
FIRST_RECONNECT_SECONDS = 0.1
# Held back by an outage or the high-water mark, the bridge looks again at least this often.
MAX_BACKPRESSURE_WAIT_SECONDS = 5.0
MAX_FLUSHES_IN_FLIGHT = 4
# Never subscribed (a client may always unsubscribe): unsubscribing it is a harmless round trip.
STOP_ROUND_TRIP_FILTER = "microdash-bridge/stopping"
ROUND_TRIP_TIMEOUT_SECONDS = 5.0


@dataclass
class Pending:
    """Messages received but not yet acknowledged, with the samples they carry per tenant id."""

    messages: list[aiomqtt.Message] = field(default_factory=list)
    samples: dict[int, list] = field(default_factory=lambda: defaultdict(list))
    sample_count: int = 0
    since: float = 0.0


class Bridge:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.queue = ingest_queue(self.redis, settings)
        self.decoder = MessageDecoder(settings)
        self.tenants = TenantDirectory(settings)
        async_redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.series_limiter = SeriesLimiter.from_settings(async_redis, settings)
        self.rate_limiter = IngestRateLimiter(async_redis, settings)
        self.pending = Pending()
        self._flushes: list[asyncio.Task] = []
        self._last_acked: asyncio.Future | None = None  # set once the newest flush has acknowledged
        self.client_id = settings.bridge_client_id or f"bridge-{socket.gethostname()}"
        self.stopping = asyncio.Event()  # set by SIGTERM or SIGINT

    async def run(self) -> None:
        """Bridges until SIGTERM or SIGINT, then stops within the stop timeout."""
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, self._stop_requested, signal_number)
        serving = asyncio.create_task(self._serve())
        stop_requested = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({serving, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        stop_requested.cancel()
        _done, late = await asyncio.wait({serving}, timeout=self.settings.bridge_stop_timeout_seconds)
        if late:
            log.warning("bridge stop timed out; what it still held stays unacknowledged with the broker",
                        extra={"timeout_seconds": self.settings.bridge_stop_timeout_seconds})
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
        else:
            serving.result()  # an error that ended it is raised: the process exits non-zero
        log.info("bridge stopped")

    def _stop_requested(self, signal_number: int) -> None:
        log.info("bridge stopping: enqueueing and acknowledging what it holds",
                 extra={"signal": signal.Signals(signal_number).name})
        self.stopping.set()

    async def _serve(self) -> None:
        backoff = FIRST_RECONNECT_SECONDS
        connected_before = False
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                await self._session(connected_before)
            except aiomqtt.MqttError as exc:
                log.error("MQTT connection lost, reconnecting", extra={"error": str(exc), "in_seconds": backoff})
            self.pending = Pending()  # unacknowledged messages are redelivered by the broker
            connected_before = True
            if time.monotonic() - started > MAX_BACKOFF_SECONDS:
                backoff = FIRST_RECONNECT_SECONDS  # the session had been up for a while: start over
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _session(self, reconnect: bool) -> None:
        address = BrokerAddress.from_url(self.settings.mqtt_url)
        client = aiomqtt.Client(address.host, address.port, username=BRIDGE_USERNAME,
                                password=self.settings.mqtt_bridge_password, identifier=self.client_id,
                                clean_session=False, keepalive=30, max_queued_incoming_messages=0,
                                tls_params=aiomqtt.TLSParameters() if address.tls else None)
        client._client.manual_ack_set(True)  # noqa: SLF001 - aiomqtt 2.5 has no public switch for paho's manual acks
        async with client:
            read_every_waiting_packet(client)
            await client.subscribe(bridge_subscription(self.settings), qos=1)
            if reconnect:
                self._count({"bridge_reconnects": 1})
            log.info("bridge subscribed", extra={"client_id": self.client_id})
            flusher = asyncio.create_task(self._flush_periodically(client))
            try:
                async for burst in message_bursts(client, until=self.stopping):
                    await self._take(client, burst)
                if self.settings.bridge_shared_subscription:
                    await self._leave_the_group(client)
                await self._drain(client)
            finally:
                flusher.cancel()
                for task in self._flushes:  # their messages are redelivered after the reconnect
                    task.cancel()
                self._flushes, self._last_acked = [], None

    async def _take(self, client: aiomqtt.Client, burst: list[aiomqtt.Message]) -> None:
        """The burst's messages held for the next flush, their samples or their refusals with them.
        One loop, coroutines only where I/O may be needed: per message, each cost the bridge ~0.5 µs."""
        intakes = await self._within_rate_limits(burst, await self._intakes(burst, int(time.time() * 1000)))
        most_samples = self.settings.bridge_batch_max_samples
        for message, (intake, tenant) in zip(burst, intakes):
            if intake.rejection is None and tenant.max_series is not None:
                intake = await self._within_series_limit(message, intake, tenant)
            pending = self.pending
            if not pending.messages:
                pending.since = time.monotonic()
            pending.messages.append(message)
            if intake.rejection is not None:
                await asyncio.to_thread(self._dead_letter, intake.rejection, tenant.id if tenant else None)
            else:
                pending.samples[tenant.id].extend(intake.samples)
                pending.sample_count += len(intake.samples)
            if pending.sample_count >= most_samples:
                await self._flush(client)

    async def _leave_the_group(self, client: aiomqtt.Client) -> None:
        """Stopping, one of several bridges: unsubscribe, then take what came before the broker's answer.

        Mosquitto hands a shared subscription's messages round robin to every member, a member whose
        session is offline included: a stopped bridge still subscribed would get its share queued
        until it returns (never, after a scale-down). Unsubscribed, its share goes to the others.
        The broker answers in order, so every message routed to this bridge is read before the answer."""
        try:
            await client.unsubscribe(bridge_subscription(self.settings), timeout=ROUND_TRIP_TIMEOUT_SECONDS)
        except aiomqtt.MqttError as exc:
            log.warning("could not leave the shared subscription while stopping; this bridge's share "
                        "waits for its return", extra={"error": str(exc)})
            return
        while burst := waiting_messages(client):
            await self._take(client, burst)

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Stopping: what is held enqueued and acknowledged before the client disconnects. Messages
        the client received but the bridge did not take stay unacknowledged: the broker redelivers them."""
        await self._flush(client)
        if self._flushes:
            await asyncio.gather(*self._flushes)
        # A round trip before closing: the broker handles a client's packets in order, so its answer
        # means it has every acknowledgement. Closing a socket with messages still unread resets the
        # connection, and acknowledgements not yet sent or read would be lost (then redelivered).
        try:
            await client.unsubscribe(STOP_ROUND_TRIP_FILTER, timeout=ROUND_TRIP_TIMEOUT_SECONDS)
        except aiomqtt.MqttError as exc:
            log.warning("no answer from the broker while stopping; some messages may be redelivered",
                        extra={"error": str(exc)})

    async def _intakes(self, burst: list[aiomqtt.Message], now_ms: int) -> list[tuple[Intake, KnownTenant | None]]:
        """Each message's samples and its tenant, or why it is refused so far."""
        decode, cached = self.decoder.decode, self.tenants.cached
        intakes = []
        for message in burst:
            intake = decode(message.topic.value, bytes(message.payload), now_ms=now_ms)
            tenant = None
            if intake.tenant is not None:
                hit, tenant = cached(intake.tenant)  # a rejected message's dead letter goes to its tenant too
                if not hit:
                    tenant = await asyncio.to_thread(self.tenants.find, intake.tenant)
                if intake.rejection is None and tenant is None:
                    intake = _refused(message, intake, "unknown tenant")
            intakes.append((intake, tenant))
        return intakes

    async def _within_rate_limits(self, burst: list[aiomqtt.Message], intakes: list[tuple[Intake, KnownTenant | None]]
                                  ) -> list[tuple[Intake, KnownTenant | None]]:
        """The burst's messages over their tenant's rate limit refused: one Redis call per tenant."""
        by_tenant: dict[int, list[int]] = defaultdict(list)
        for index, (intake, tenant) in enumerate(intakes):
            if intake.rejection is None:
                by_tenant[tenant.id].append(index)
        checked = list(intakes)
        for indexes in by_tenant.values():
            tenant = intakes[indexes[0]][1]
            counts = [len(intakes[index][0].samples) for index in indexes]
            decisions = await self._until_answered(
                lambda: self.rate_limiter.admit_each(tenant.id, counts, tenant.ingest_rate_limit))
            for index, count, decision in zip(indexes, counts, decisions):
                if not decision.admitted:
                    reason = self._rate_refusal(tenant, count, decision.never)
                    checked[index] = (_refused(burst[index], intakes[index][0], reason,
                                               "bridge_messages_rate_limited"), tenant)
        return checked

    async def _within_series_limit(self, message: aiomqtt.Message, intake: Intake, tenant: KnownTenant) -> Intake:
        exceeded = await self._until_answered(
            lambda: self.series_limiter.check(tenant.id, tenant.max_series, intake.samples))
        return intake if exceeded is None else _refused(message, intake, exceeded.reason)

    def _rate_refusal(self, tenant: KnownTenant, samples: int, never: bool) -> str:
        limit = tenant.ingest_rate_limit or self.settings.default_ingest_rate_limit
        if never:
            return f"{samples} samples in one message exceed the burst of {self.rate_limiter.burst(limit)}"
        return f"rate limit of {limit} samples/s exceeded"

    @staticmethod
    async def _until_answered(check):
        """A limit check's answer; outages are waited out with the messages unacknowledged, like enqueueing."""
        backoff = 0.5
        while True:
            try:
                return await check()
            except (redis.exceptions.RedisError, pymysql.err.MySQLError) as exc:
                log.error("cannot check the tenant's limits, holding the message", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _flush_periodically(self, client: aiomqtt.Client) -> None:
        wait = self.settings.bridge_batch_max_wait_ms / 1000
        while True:
            await asyncio.sleep(wait or 0.001)
            if self.pending.messages and time.monotonic() - self.pending.since >= wait:
                await self._flush(client)

    async def _flush(self, client: aiomqtt.Client) -> None:
        """Hand the pending messages to a background enqueue-then-ack task and keep receiving.

        The tasks enqueue at once, each on its own Redis connection, so that Redis fsyncs their
        writes together (`appendfsync always` answers after the fsync; one took 3-800 ms on a
        busy machine); each acknowledges only after the one before it has, so acknowledgements
        keep the order in which messages arrived (MQTT 3.1.1, 4.6). A few may be in flight,
        beyond that receiving waits for the oldest."""
        pending, self.pending = self.pending, Pending()
        if not pending.messages:
            return
        self._flushes = [task for task in self._flushes if not task.done()]
        if len(self._flushes) >= MAX_FLUSHES_IN_FLIGHT:
            await asyncio.wait({self._flushes[0]})
        previous_acked, self._last_acked = self._last_acked, asyncio.get_running_loop().create_future()
        self._flushes.append(asyncio.create_task(
            self._enqueue_and_ack(client, pending, previous_acked, self._last_acked)))

    async def _enqueue_and_ack(self, client: aiomqtt.Client, pending: Pending,
                               previous_acked: asyncio.Future | None, acked: asyncio.Future) -> None:
        try:
            batches = [Batch(tenant_id, uuid.uuid4().hex, int(time.time() * 1000), samples)
                       for tenant_id, samples in pending.samples.items() if samples]
            await self._enqueue_until_done(batches)
            if previous_acked is not None:
                await previous_acked
            acknowledge(client, pending.messages)
        finally:
            if not acked.done():
                acked.set_result(None)  # acknowledged or never will be: the next flush's turn
        await asyncio.to_thread(self._count, {"bridge_messages_received": len(pending.messages),
                                              "bridge_samples_enqueued": pending.sample_count})

    async def _enqueue_until_done(self, batches: list[Batch]) -> None:
        """Redis outages and a backlog above the high-water mark are waited out: nothing is
        acknowledged until every batch is queued, so the broker keeps the rest meanwhile."""
        backoff = 0.5
        remaining = list(batches)
        while remaining:
            try:
                # One look at the backlog per flush, not per batch (a flush holds a batch per tenant).
                backlog = await asyncio.to_thread(Backlog.read, self.redis, self.settings)
                behind = backlog.too_far_behind(self.settings)
                if behind is None:
                    while remaining:
                        await asyncio.to_thread(enqueue_batch, self.queue, remaining[0], self.settings)
                        remaining.pop(0)
                    return
                log.warning("ingest is behind, holding messages unacknowledged", extra={"why": behind})
            except redis.exceptions.RedisError as exc:
                log.error("cannot enqueue, holding messages unacknowledged", extra={"error": str(exc)})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKPRESSURE_WAIT_SECONDS)

    def _dead_letter(self, rejection: Rejection, tenant_id: int | None) -> None:
        log.warning("MQTT message rejected", extra={"tenant": rejection.tenant, "topic": rejection.topic,
                                                    "reason": rejection.reason})
        entry = dead_letters.message_entry(tenant=rejection.tenant, topic=rejection.topic, reason=rejection.reason,
                                           payload=rejection.payload)
        try:
            with self.redis.pipeline() as pipe:
                dead_letters.push(pipe, tenant_id, [entry])
                pipe.hincrby(keys.TELEMETRY_COUNTERS, "bridge_messages_rejected", 1)
                if rejection.counter:
                    pipe.hincrby(keys.TELEMETRY_COUNTERS, rejection.counter, 1)
                pipe.execute()
        except redis.exceptions.RedisError as exc:
            log.error("cannot record a rejected message", extra={"error": str(exc)})

    def _count(self, increments: dict[str, int]) -> None:
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for name, amount in increments.items():
                    pipe.hincrby(keys.TELEMETRY_COUNTERS, name, amount)
                pipe.execute()
        except redis.exceptions.RedisError:
            pass  # counters are best effort; the data path already succeeded


def _refused(message: aiomqtt.Message, intake: Intake, reason: str, counter: str | None = None) -> Intake:
    return Intake(intake.tenant, rejection=Rejection(intake.tenant, str(message.topic), reason,
                                                     bytes(message.payload)[:1024], counter))


def run_bridge(settings: Settings) -> None:
    bridge = Bridge(settings)
    heap.collect_garbage_less_often()  # a few objects per message live until its flush, thousands at a time
    asyncio.run(bridge.run())
