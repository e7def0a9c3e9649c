"""Webhook signatures: receivers recompute HMAC-SHA256(secret, timestamp + "." + body) to verify."""

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Microdash-Timestamp"
SIGNATURE_HEADER = "X-Microdash-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, received: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), received)
