"""The identity of one alert: its rule plus the series labels."""

import hashlib

from ..series import canonical_labels


def fingerprint(labels: dict[str, str]) -> bytes:
    return hashlib.blake2b(canonical_labels(labels).encode(), digest_size=16).digest()
