"""Publish batches with QoS 1 to <tenant prefix>agent/<host>, one PUBACK at a time.

Each connection gets a fresh paho client, thrown away at the first failure. paho would otherwise
resend its unacknowledged messages itself after reconnecting while the buffer sends the same
batch again, delivering it twice; with one throwaway client per connection the buffer is the only
thing that ever resends.

The client's network loop runs in a thread of ours rather than paho's loop_start(), whose thread
wakes every second even when idle; ours sleeps until there is traffic or a keepalive is due.
"""

import logging
import random
import threading
import time
import uuid
from typing import NamedTuple
from urllib.parse import urlsplit

import paho.mqtt.client as paho

from ..streaks import FailureStreak
from . import Outcome

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerAddress(NamedTuple):
    host: str
    port: int
    tls: bool


def parse_mqtt_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"MQTT URL must look like mqtt://host:port or mqtts://host:port, not {url!r}")
    return BrokerAddress(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts")


def agent_topic(tenant: str, host: str, prefix: str | None = None) -> str:
    """Under the tenant's topic prefix (its credentials carry it; the broker's ACL allows only it)."""
    return f"{prefix or f'microdash/{tenant}/'}agent/{host}"


class _Connection:
    """One paho client and what its callbacks have seen: CONNACK, PUBACKs, the connection's end."""

    def __init__(self, client: paho.Client):
        self.client = client
        self.network_loop: threading.Thread | None = None
        self.changed = threading.Condition()
        self.connack: paho.ReasonCode | None = None
        self.acknowledged: set[int] = set()
        self.lost = False
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect

    def wait_for(self, predicate, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def _notify(self, update) -> None:
        with self.changed:
            update()
            self.changed.notify_all()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._notify(lambda: setattr(self, "connack", reason_code))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._notify(lambda: self.acknowledged.add(mid))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._notify(lambda: setattr(self, "lost", True))


RECONNECT_PAUSE_SECONDS = (1.0, 3.0)


class MqttTransport:
    def __init__(self, *, url: str, tenant: str, host: str, username: str | None = None,
                 password: str | None = None, ca_file: str | None = None, client_id: str | None = None,
                 topic_prefix: str | None = None,
                 timeout: float = 10.0, keepalive: int = 60,
                 reconnect_pause: tuple[float, float] = RECONNECT_PAUSE_SECONDS):
        self.broker = parse_mqtt_url(url)
        self.topic = agent_topic(tenant, host, topic_prefix)
        self._credentials = (username, password) if username else None
        self._ca_file = ca_file
        self._client_id = client_id or f"microdash-agent-{host}-{uuid.uuid4().hex[:8]}"
        self._timeout = timeout
        self._keepalive = keepalive
        self._connection: _Connection | None = None
        self._failures = FailureStreak(log)
        self._reconnect_after = 0.0
        self._reconnect_pause = reconnect_pause

    def deliver(self, payload: bytes) -> Outcome:
        connection = self._live_connection()
        if connection is None:
            return Outcome.RETRY
        info = connection.client.publish(self.topic, payload, qos=1)
        acked = info.rc == paho.MQTT_ERR_SUCCESS and connection.wait_for(
            lambda: info.mid in connection.acknowledged or connection.lost, self._timeout)
        if acked and info.mid in connection.acknowledged:
            connection.acknowledged.discard(info.mid)
            self._failures.succeeded("MQTT broker %s:%d acknowledges again", self.broker.host, self.broker.port)
            return Outcome.DELIVERED
        reason = "connection lost" if connection.lost else paho.error_string(info.rc) if info.rc else "timeout"
        self._failures.failed("batch not acknowledged by %s:%d (%s); kept for retry",
                              self.broker.host, self.broker.port, reason)
        self._drop_connection()
        return Outcome.RETRY

    def close(self) -> None:
        self._drop_connection()

    def _live_connection(self) -> _Connection | None:
        if self._connection is not None and self._connection.lost:
            self._drop_connection()
        if self._connection is None and time.monotonic() < self._reconnect_after:
            return None  # samples stay buffered until the pause is over
        return self._connection or self._connect()

    def _new_client(self) -> paho.Client:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self._client_id,
                             protocol=paho.MQTTv311, reconnect_on_failure=False)
        client.connect_timeout = self._timeout
        if self._credentials:
            client.username_pw_set(*self._credentials)
        if self.broker.tls:
            client.tls_set(ca_certs=self._ca_file)
        return client

    def _connect(self) -> _Connection | None:
        try:
            connection = _Connection(self._new_client())
            connection.client.connect(self.broker.host, self.broker.port, keepalive=self._keepalive)
        except (OSError, ValueError) as error:  # refused, unresolvable, TLS failure
            self._failures.failed("cannot reach MQTT broker %s:%d: %s", self.broker.host, self.broker.port, error)
            return None
        connection.network_loop = threading.Thread(
            target=connection.client.loop_forever, kwargs={"timeout": self._keepalive / 2},
            name="mqtt-network", daemon=True)
        connection.network_loop.start()
        self._connection = connection
        connection.wait_for(lambda: connection.connack is not None or connection.lost, self._timeout)
        if connection.connack is None or connection.connack.is_failure:
            self._failures.failed("MQTT broker %s:%d refused the connection: %s",
                                  self.broker.host, self.broker.port, connection.connack or "no CONNACK")
            self._drop_connection()
            return None
        log.info("connected to MQTT broker %s:%d", self.broker.host, self.broker.port)
        return connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        # A random pause before reconnecting: a fleet must not stampede a restarting broker, and
        # the bridge (reconnecting within 0.1 s) must be subscribed again before devices publish.
        self._reconnect_after = time.monotonic() + random.uniform(*self._reconnect_pause)
        if connection is not None:
            connection.client.disconnect()  # also wakes the network loop, which then ends
            if connection.network_loop is not None:
                connection.network_loop.join(self._timeout)
