"""Steady, countable ingest for the fault matrix: every sample carries its sequence number as its
value and timestamp offset, so acknowledged samples can be compared one by one with stored ones.

HTTP: small bulk requests, each retried with the same Idempotency-Key until answered 202 (a 503, a
429 or a refused connection is a retry, as a well-behaved client does). MQTT: QoS 1 publishes on a
persistent session (clean_session false); a sample counts as acknowledged when its PUBACK arrives.
Both loops are bounded in count and time.
"""

import json
import threading
import time

import httpx
import paho.mqtt.client as mqtt

RETRYABLE_STATUS = {429, 502, 503, 504}


class HttpLoad(threading.Thread):
    def __init__(self, api_url: str, token: str, base_ts: int, *, batch: int = 20, interval: float = 0.05,
                 max_batches: int = 2000):
        super().__init__(daemon=True)
        self.api_url, self.token, self.base_ts = api_url, token, base_ts
        self.batch, self.interval, self.max_batches = batch, interval, max_batches
        self.acked: set[int] = set()
        self.errors: list[str] = []
        self.retries = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=5) as client:
            for number in range(self.max_batches):
                if self.stopping.is_set():
                    return
                sequence = range(number * self.batch, (number + 1) * self.batch)
                samples = [{"metric": "fault.http", "value": float(i), "ts": self.base_ts + i} for i in sequence]
                if self._deliver(client, samples, key=f"fault-{number}"):
                    self.acked.update(sequence)
                time.sleep(self.interval)

    def _deliver(self, client: httpx.Client, samples: list[dict], *, key: str, give_up_after: float = 120) -> bool:
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            try:
                response = client.post("/api/v1/metrics/bulk", json=samples, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 202:
                return True
            if response is not None and response.status_code not in RETRYABLE_STATUS:
                self.errors.append(f"{response.status_code}: {response.text[:200]}")
                return False
            self.retries += 1
            time.sleep(0.2)
        self.errors.append(f"batch {key} never accepted")
        return False

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=150)


class MqttLoad(threading.Thread):
    def __init__(self, port: int, credentials, base_ts: int, *, interval: float = 0.005, max_messages: int = 60_000,
                 host: str = "127.0.0.1"):
        super().__init__(daemon=True)
        self.base_ts, self.interval, self.max_messages = base_ts, interval, max_messages
        self.topic = credentials.topic_prefix + "fault-device"
        self.sent = 0
        self._sequence_of: dict[int, int] = {}  # mid -> sequence; mids stay unique below 65,536 messages
        self._acked_mids: set[int] = set()
        self.stopping = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fault-device-{port}",
                                  protocol=mqtt.MQTTv311, clean_session=False)
        self.client.username_pw_set(credentials.mqtt_username, credentials.mqtt_password)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        self.client.on_publish = self._on_publish
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # No lock of ours here: paho calls this holding its own, which publish() takes too.
        self._acked_mids.add(mid)

    @property
    def acked(self) -> set[int]:
        return {sequence for mid, sequence in list(self._sequence_of.items()) if mid in self._acked_mids}

    def run(self) -> None:
        for sequence in range(self.max_messages):
            if self.stopping.is_set():
                return
            payload = json.dumps({"metric": "fault.mqtt", "value": float(sequence), "ts": self.base_ts + sequence})
            self._sequence_of[self.client.publish(self.topic, payload, qos=1).mid] = sequence
            self.sent += 1
            time.sleep(self.interval)

    def stop(self, drain_timeout: float = 60) -> None:
        self.stopping.set()
        self.join(timeout=30)
        deadline = time.monotonic() + drain_timeout  # messages queued while the broker was away go out now
        while len(self._acked_mids) < len(self._sequence_of) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.client.disconnect()
        self.client.loop_stop()
