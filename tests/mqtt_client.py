"""A small synchronous MQTT test client (paho) that reports what the broker said."""

import threading

import paho.mqtt.client as mqtt


class TestClient:
    __test__ = False  # not a test class

    def __init__(self, port: int, username: str, password: str, *, client_id: str = ""):
        self.port = port
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(username, password)
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_reason = None
        self.subscribed = threading.Event()
        self.granted = None
        self.messages: list = []
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda client, userdata, message: self.messages.append(message)

    def _on_connect(self, client, userdata, flags, reason, properties):
        self.connect_reason = reason
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reasons, properties):
        self.granted = reasons
        self.subscribed.set()

    def connect(self, timeout: float = 5) -> bool:
        """True when the broker accepted the credentials."""
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.connected.wait(timeout), "no CONNACK"
        return not self.connect_reason.is_failure

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def subscribe(self, topic: str, timeout: float = 5):
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(timeout), "no SUBACK"
        return self.granted

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
