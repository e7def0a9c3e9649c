"""A queued batch in columns as the worker stores it (microdash_core.batches has the format):
numpy arrays instead of a tuple per sample. Here rather than in the core so that the edges, which
only encode batches, do not load numpy."""

from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from microdash_core.batches import column_fields


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """A batch in columns as the worker stores it, without a tuple per sample: its series as
    (name index, label text index) pairs, its timestamps and values as numpy arrays. Only a batch
    every sample of which the plain path would store whole decodes so (see decode)."""

    tenant_id: int
    batch_id: str
    received_ms: int
    names: list[str]
    texts: list[str]
    name_refs: np.ndarray  # int64, an index into names per sample
    label_refs: np.ndarray  # int64, an index into texts per sample
    timestamps: np.ndarray  # int64
    values: np.ndarray  # float64, all finite

    @classmethod
    def decode(cls, payload: bytes) -> "ColumnBatch | None":
        """The batch in columns, or None for any payload that is not a well-formed batch in columns
        with finite values, every name and label text used and every timestamp an int64: the
        caller then takes the row path (Batch.decode), which refuses or isolates what it must."""
        fields = column_fields(payload)
        if fields is None:
            return None
        tenant_id, batch_id, received_ms, names, texts, name_refs, label_refs, deltas, values = fields
        rows = len(deltas)
        if not rows or not len(name_refs) == len(label_refs) == len(values) == rows:
            return None
        try:
            timestamps = np.fromiter(accumulate(deltas, initial=received_ms), dtype=np.int64, count=rows + 1)[1:]
            name_index = np.array(name_refs, dtype=np.int64)
            label_index = np.array(label_refs, dtype=np.int64)
        except OverflowError:
            return None
        value_array = np.array(values, dtype=np.float64)
        if not (_each_used_once_or_more(name_index, len(names)) and _each_used_once_or_more(label_index, len(texts))
                and np.isfinite(value_array).all()):
            return None
        return cls(tenant_id, batch_id, received_ms, names, texts, name_index, label_index, timestamps, value_array)

    def __len__(self) -> int:
        return self.timestamps.size


def _each_used_once_or_more(refs: np.ndarray, size: int) -> bool:
    """True if refs index a list of `size` items and use every one of them."""
    return bool(size and refs.min() >= 0 and refs.max() < size and np.bincount(refs, minlength=size).all())
