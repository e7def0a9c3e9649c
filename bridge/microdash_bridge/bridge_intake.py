"""Turning MQTT messages into validated samples: the bridge's pure part, free of I/O."""

import time
from dataclasses import dataclass, field

import orjson

from microdash_core.broker import tenant_of_topic
from microdash_core.samples import Sample, SampleValidator
from microdash_core.settings import Settings

CACHED_TOPICS = 10_000  # at most ~2.5 MB of topics
CACHED_TOPIC_CHARS = 256


@dataclass(slots=True)
class Rejection:
    tenant: str | None
    topic: str
    reason: str
    payload: bytes
    counter: str | None = None  # a telemetry counter of its own, beside bridge_messages_rejected


@dataclass(slots=True)
class Intake:
    """Samples accepted from one message, or why it was rejected."""

    tenant: str | None
    samples: list[Sample] = field(default_factory=list)
    rejection: Rejection | None = None


class MessageDecoder:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.validator = SampleValidator(settings)
        self._tenants_by_topic: dict[str, str | None] = {}  # a device publishes to the same few topics

    def decode(self, topic: str, payload: bytes, *, now_ms: int | None = None) -> Intake:
        tenant = self._tenant_of_topic(topic)
        if tenant is None:
            return self._reject(None, topic, "topic outside the tenant prefixes", payload)
        if len(payload) > self.settings.bridge_max_payload_bytes:
            return self._reject(tenant, topic, f"payload larger than {self.settings.bridge_max_payload_bytes} bytes",
                                payload)
        now_ms = now_ms or int(time.time() * 1000)
        # The fast road (msgspec, label sets cached by their text) for the plainly valid; any other
        # payload is decoded again below, so that every rejection says what the slow road says.
        plainly_valid = self.validator.accept_json(payload, single=payload[:1] == b"{", now_ms=now_ms)
        if plainly_valid is not None:
            return Intake(tenant, plainly_valid)
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return self._reject(tenant, topic, f"malformed JSON: {exc}", payload)
        items = body if isinstance(body, list) else [body]
        samples, errors = self.validator.validate_many(items, now_ms=now_ms)
        if errors:
            first = errors[0]
            reason = f"{len(errors)} invalid field(s), first: item {first.index} {first.field}: {first.error}"
            return self._reject(tenant, topic, reason, payload)
        return Intake(tenant, samples)

    def _tenant_of_topic(self, topic: str) -> str | None:
        try:
            return self._tenants_by_topic[topic]
        except KeyError:
            tenant = tenant_of_topic(self.settings, topic)
        if len(topic) <= CACHED_TOPIC_CHARS:
            if len(self._tenants_by_topic) >= CACHED_TOPICS:
                self._tenants_by_topic.clear()
            self._tenants_by_topic[topic] = tenant
        return tenant

    @staticmethod
    def _reject(tenant: str | None, topic: str, reason: str, payload: bytes) -> Intake:
        return Intake(tenant, rejection=Rejection(tenant, topic, reason, payload[:1024]))
