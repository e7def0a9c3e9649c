"""A paho subscriber for the tests: collects the JSON arrays published under microdash/#."""

import json
import threading
import uuid

import paho.mqtt.client as paho
from conftest import wait_until


class Subscriber:
    def __init__(self, port: int, topic: str = "microdash/#"):
        self.messages: list[tuple[str, list[dict]]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "no SUBACK"

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, json.loads(message.payload)))

    def samples(self) -> list[dict]:
        with self._lock:
            return [sample for _, batch in self.messages for sample in batch]

    def wait_for_samples(self, count: int, timeout: float = 10.0) -> list[dict]:
        wait_until(lambda: len(self.samples()) >= count, timeout=timeout)
        return self.samples()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
