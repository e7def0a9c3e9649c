"""Series identity: a metric plus its canonical label set, hashed for the unique key."""

import hashlib

import orjson


class LabelSet(dict):
    """A validated label set that carries its canonical text, made once per distinct label set
    by the ingest validator's cache instead of once per sample."""

    __slots__ = ("canonical",)

    def __init__(self, labels: dict[str, str]):
        super().__init__(labels)
        self.canonical = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


def canonical_labels(labels: dict[str, str]) -> str:
    if type(labels) is LabelSet:
        return labels.canonical
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


def series_hash(metric: str, labels_json: str) -> bytes:
    return hashlib.blake2b(f"{metric}\x00{labels_json}".encode(), digest_size=16).digest()
