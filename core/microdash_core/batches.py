"""The ingest batch envelope passed from the edges (HTTP, MQTT) to the storage worker through Redis.

On the wire a batch is MessagePack: [tenant id, batch id, received ms, [[metric, labels, ts, value],
...]], where labels is the label set's canonical JSON text, the very text the series table keys on:
the edge knows it once per label set (the validator caches it), so the worker neither decodes a
dict per sample nor serialises it again to find the series. A decoded batch therefore holds
queued samples (metric, canonical labels JSON, ts, value).

A batch queued by an earlier version is JSON with label objects; decode reads it as well.
"""

from dataclasses import dataclass

import msgspec
import orjson

from .series import LabelSet, canonical_labels

# A sample as queued: (metric, canonical labels JSON, ts_ms, value).
QueuedSample = tuple[str, str, int, float]

_encode = msgspec.msgpack.Encoder().encode
_decode_typed = msgspec.msgpack.Decoder(tuple[int, str, int, list[tuple[str, str, int, float]]]).decode
_decode_any = msgspec.msgpack.Decoder().decode
_MSGPACK_ARRAY_OF_4 = b"\x94"  # how every MessagePack batch starts; a JSON one starts with "["


@dataclass(frozen=True, slots=True)
class Batch:
    tenant_id: int
    batch_id: str
    received_ms: int
    samples: list  # Sample (label dicts) when built at an edge; QueuedSample once decoded
    typed: bool = False  # decoded, and every sample is (str, str, int, float) (its values may not be finite)

    def encode(self) -> bytes:
        texts: dict[int, str] = {}  # label sets repeat within a batch: serialised once per object

        def text_of(labels) -> object:
            if type(labels) is not dict:
                return labels  # not a label set: left for the worker to refuse (poison.malformation)
            key = id(labels)
            text = texts.get(key)
            if text is None:
                text = texts[key] = canonical_labels(labels)
            return text

        return _encode([self.tenant_id, self.batch_id, self.received_ms,
                        [(metric, labels.canonical if type(labels) is LabelSet else text_of(labels), ts, value)
                         for metric, labels, ts, value in self.samples]])

    @classmethod
    def decode(cls, payload: bytes) -> "Batch":
        """A batch from its encoded form. Samples of the wrong shape are kept as they are, for the
        worker to refuse one by one (poison.malformation); a payload that is no batch raises."""
        if payload[:1] != _MSGPACK_ARRAY_OF_4:
            return cls.decode_json(payload)
        try:
            return cls(*_decode_typed(payload), typed=True)
        except msgspec.ValidationError:
            envelope = _decode_any(payload)
        return cls(*_checked_envelope(envelope))

    @classmethod
    def decode_json(cls, payload: bytes) -> "Batch":
        """A batch as an earlier version queued it: JSON, with label objects."""
        tenant_id, batch_id, received_ms, samples = _checked_envelope(orjson.loads(payload))
        return cls(tenant_id, batch_id, received_ms, [_with_label_text(sample) for sample in samples])


def _checked_envelope(envelope: object) -> tuple[int, str, int, list]:
    if not (type(envelope) is list and len(envelope) == 4):
        raise ValueError("expected [tenant id, batch id, received ms, [samples]]")
    tenant_id, batch_id, received_ms, samples = envelope
    if not (type(tenant_id) is int and type(batch_id) is str and type(received_ms) is int
            and type(samples) is list):
        raise ValueError("expected [tenant id, batch id, received ms, [samples]]")
    return tenant_id, batch_id, received_ms, samples


def _with_label_text(sample: object) -> object:
    if type(sample) is list and len(sample) == 4 and type(sample[1]) is dict:
        metric, labels, ts, value = sample
        return metric, canonical_labels(labels), ts, value
    return sample

