"""API tokens: ``mdt_<public id>_<secret>``. Only the SHA-256 of the whole token is stored."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "mdt"
TOKEN_FORMAT = re.compile(r"mdt_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})")
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class NewToken:
    public_id: str
    token: str
    token_hash: bytes


def generate() -> NewToken:
    public_id = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(12))
    token = f"{PREFIX}_{public_id}_{secrets.token_urlsafe(32)}"
    return NewToken(public_id=public_id, token=token, token_hash=hash_token(token))


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def public_id_of(token: str) -> str | None:
    match = TOKEN_FORMAT.fullmatch(token)
    return match.group(1) if match else None


def matches(token: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)
