"""Series identity: a metric plus its canonical label set, hashed for the unique key."""

import hashlib

import orjson


def canonical_labels(labels: dict[str, str]) -> str:
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


def series_hash(metric: str, labels_json: str) -> bytes:
    return hashlib.blake2b(f"{metric}\x00{labels_json}".encode(), digest_size=16).digest()
