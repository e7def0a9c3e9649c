"""The ingest batch envelope passed from the edges (HTTP, MQTT) to the storage worker through Redis.

On the wire a batch is MessagePack in columns, each distinct metric name and label set once:

    [tenant id, batch id, received ms, [metric names], [label texts],
     [name index per sample], [label index per sample], [ts delta per sample], [value per sample]]

A label text is the label set's canonical JSON, the very text the series table keys on: the edge
knows it once per label set (the validator caches it), so the worker neither decodes a dict per
sample nor serialises it again to find the series. Each timestamp is stored as its difference to
the previous sample's (the first one's to received ms): samples of a batch are close in time, so
most deltas take one to three bytes instead of nine. Nothing is compressed (RQ saves the job
without zlib, queues.UncompressedJob), so a waiting sample costs what these columns take in Redis
(docs/decisions.md). The columns are built and read back by C loops (zip, map, dict.fromkeys,
itertools.accumulate), none per sample in Python.

A decoded batch holds queued samples (metric, canonical labels JSON, ts, value). A batch with
samples the columns cannot carry (not a 4-tuple, labels that are not a dict, a timestamp that is
not a number...) is encoded in the row format of the previous version, for the worker to refuse
those samples one by one (poison.malformation). Batches queued by earlier versions still decode:
row MessagePack [tenant id, batch id, received ms, [[metric, labels, ts, value], ...]] and JSON.
"""

from dataclasses import dataclass
from itertools import accumulate, chain, count, islice
from operator import attrgetter, itemgetter, sub

import msgspec
import orjson

from .series import LabelSet, canonical_labels

# A sample as queued: (metric, canonical labels JSON, ts_ms, value).
QueuedSample = tuple[str, str, int, float]

_encode = msgspec.msgpack.Encoder().encode
_decode_columns = msgspec.msgpack.Decoder(
    tuple[int, str, int, list[str], list[str], list[int], list[int], list[int], list[float]]).decode
_decode_rows = msgspec.msgpack.Decoder(tuple[int, str, int, list[tuple[str, str, int, float]]]).decode
_decode_any = msgspec.msgpack.Decoder().decode
_MSGPACK_ARRAY_OF_9 = b"\x99"  # how a batch in columns starts
_MSGPACK_ARRAY_OF_4 = b"\x94"  # a batch in rows (the previous version); a JSON one starts with "["
_CANONICAL = attrgetter("canonical")
_FIELDS = [itemgetter(n) for n in range(4)]


@dataclass(frozen=True, slots=True)
class Batch:
    tenant_id: int
    batch_id: str
    received_ms: int
    samples: list  # Sample (label dicts) when built at an edge; QueuedSample once decoded
    typed: bool = False  # decoded, and every sample is (str, str, int, float) (its values may not be finite)

    def encode(self) -> bytes:
        try:
            columns = _columns(self.samples, self.received_ms)
        except (TypeError, ValueError, OverflowError):
            return self.encode_rows()
        return _encode([self.tenant_id, self.batch_id, self.received_ms, *columns])

    def encode_rows(self) -> bytes:
        """The previous version's format: a row per sample, its label text repeated in each."""
        texts: dict[int, object] = {}  # label sets repeat within a batch: serialised once per object

        def text_of(labels) -> object:
            key = id(labels)
            text = texts.get(key)
            if text is None:
                text = texts[key] = _label_text(labels)
            return text

        return _encode([self.tenant_id, self.batch_id, self.received_ms,
                        [(metric, labels.canonical if type(labels) is LabelSet else text_of(labels), ts, value)
                         for metric, labels, ts, value in self.samples]])

    @classmethod
    def decode(cls, payload: bytes) -> "Batch":
        """A batch from its encoded form. Samples of the wrong shape are kept as they are, for the
        worker to refuse one by one (poison.malformation); a payload that is no batch raises."""
        start = payload[:1]
        if start == _MSGPACK_ARRAY_OF_9:
            return cls.decode_columns(payload)
        if start != _MSGPACK_ARRAY_OF_4:
            return cls.decode_json(payload)
        try:
            return cls(*_decode_rows(payload), typed=True)
        except msgspec.ValidationError:
            envelope = _decode_any(payload)
        return cls(*_checked_envelope(envelope))

    @classmethod
    def decode_columns(cls, payload: bytes) -> "Batch":
        try:
            tenant_id, batch_id, received_ms, *columns = _decode_columns(payload)
            typed = True
        except msgspec.ValidationError:
            tenant_id, batch_id, received_ms, *columns = _checked_columns(_decode_any(payload))
            typed = False
        return cls(tenant_id, batch_id, received_ms, _rows(received_ms, *columns), typed=typed)

    @classmethod
    def decode_json(cls, payload: bytes) -> "Batch":
        """A batch as an earlier version queued it: JSON, with label objects."""
        tenant_id, batch_id, received_ms, samples = _checked_envelope(orjson.loads(payload))
        return cls(tenant_id, batch_id, received_ms, [_with_label_text(sample) for sample in samples])


def column_fields(payload: bytes) -> tuple | None:
    """The nine fields of a batch in columns as decoded (tenant id, batch id, received ms, names,
    label texts, name refs, label refs, ts deltas, values), or None for any other payload."""
    if payload[:1] != _MSGPACK_ARRAY_OF_9:
        return None
    try:
        return _decode_columns(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _columns(samples: list, received_ms: int) -> tuple[list, list, list, list, list, list]:
    """(names, label texts, name refs, label refs, ts deltas, values); raises if a sample does not fit."""
    if set(map(len, samples)) != {4}:
        raise ValueError("not every sample is (metric, labels, ts, value)")
    metrics, label_sets, timestamps, values = (list(map(field, samples)) for field in _FIELDS)
    if set(map(type, timestamps)) != {int}:
        raise TypeError("not every timestamp is an integer")
    names, name_refs = _indexed(metrics)  # hashing refuses what cannot be a name
    texts, label_refs = _indexed(_label_texts(label_sets))
    deltas = list(map(sub, timestamps, chain((received_ms,), timestamps)))
    return names, texts, name_refs, label_refs, deltas, values


def _indexed(items: list) -> tuple[list, list[int]]:
    """The distinct items in first-seen order, and each item's index among them."""
    index = dict(zip(dict.fromkeys(items), count()))
    return list(index), list(map(index.__getitem__, items))


def _label_texts(label_sets: list) -> list[str]:
    kinds = set(map(type, label_sets))
    if kinds == {LabelSet}:  # from the validator's cache: the text is made already
        return list(map(_CANONICAL, label_sets))
    if not kinds <= {LabelSet, dict}:
        raise TypeError("labels are not a label set")
    ids = list(map(id, label_sets))  # a label set object usually repeats: serialised once
    text_of = {key: _label_text(label_set) for key, label_set in dict(zip(ids, label_sets)).items()}
    return list(map(text_of.__getitem__, ids))


def _rows(received_ms: int, names: list, texts: list, name_refs: list, label_refs: list,
          deltas: list, values: list) -> list:
    if not len(name_refs) == len(label_refs) == len(deltas) == len(values):
        raise ValueError("the batch's columns differ in length")
    if name_refs and not (0 <= min(name_refs) and max(name_refs) < len(names)
                          and 0 <= min(label_refs) and max(label_refs) < len(texts)):
        raise ValueError("a sample refers to a name or label set the batch does not hold")
    return list(zip(map(names.__getitem__, name_refs), map(texts.__getitem__, label_refs),
                    islice(accumulate(deltas, initial=received_ms), 1, None), values))


def _checked_columns(envelope: object) -> tuple:
    """A columns batch whose names, texts or values are not all of their type (poison.malformation
    refuses those samples); the indexes and deltas must be integers, or it is no batch."""
    if not (type(envelope) is list and len(envelope) == 9 and all(type(column) is list for column in envelope[3:])):
        raise ValueError("expected a batch in columns")
    tenant_id, batch_id, received_ms, *columns = envelope
    if not (type(tenant_id) is int and type(batch_id) is str and type(received_ms) is int
            and all(type(item) is int for column in columns[2:5] for item in column)):
        raise ValueError("expected a batch in columns")
    return tenant_id, batch_id, received_ms, *columns


def _label_text(labels: object) -> object:
    if type(labels) is LabelSet:
        return labels.canonical
    if type(labels) is dict:
        return canonical_labels(labels)
    return labels  # not a label set: left for the worker to refuse (poison.malformation)


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
