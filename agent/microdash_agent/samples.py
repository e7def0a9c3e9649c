"""Encode points as samples of the bulk API's JSON: {"metric", "labels", "ts", "value"}.

Each sample is encoded on its own, once: the buffer, the spool and every transport then move
ready-made JSON text, and a batch is those texts joined into an array. A host reports the same
series every cycle, so the JSON of each series' metric and labels is built once and reused; only
the timestamp and the value are new text each cycle.
"""

import json
import math
from collections.abc import Iterable

from .collectors import Point

_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# A bound on remembered series, for hosts whose devices keep changing names (containers' veths).
MAX_REMEMBERED_SERIES = 20_000


class SampleEncoder:
    def __init__(self, common_labels: dict[str, str]):
        self.common_labels = dict(common_labels)
        self._series_prefix: dict[tuple, str] = {}

    def encode(self, points: Iterable[Point], *, ts_ms: int) -> list[str]:
        """One JSON object per point, with the common labels too.

        A non-finite value would make the server reject the whole batch it travels in, so it is
        dropped here instead.
        """
        encoded = []
        for metric, value, labels in points:
            if not math.isfinite(value):
                continue
            prefix = self._prefix(metric, labels)
            # repr() of a finite float is valid JSON ("0.25", "1e-05", "3.0").
            encoded.append(f"{prefix}{ts_ms},\"value\":{float(value)!r}}}")
        return encoded

    def _prefix(self, metric: str, labels: dict[str, str]) -> str:
        key = (metric, *labels.items())
        prefix = self._series_prefix.get(key)
        if prefix is None:
            if len(self._series_prefix) >= MAX_REMEMBERED_SERIES:
                self._series_prefix.clear()
            labels_json = _to_json({**self.common_labels, **labels})
            prefix = self._series_prefix[key] = f'{{"metric":{_to_json(metric)},"labels":{labels_json},"ts":'
        return prefix


def encode_batch(samples: list[str]) -> bytes:
    return f"[{','.join(samples)}]".encode()
