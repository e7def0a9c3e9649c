"""Dashboard users' passwords (argon2id) and ending a user's sessions; the users and their roles
are stored by tenants.memberships."""

from typing import TYPE_CHECKING

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import keys

if TYPE_CHECKING:  # tenants.memberships hashes passwords with this module
    from .tenants.memberships import User

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def revoke_sessions(client: redis.Redis, *, user: "User") -> None:
    """End every dashboard session of the user: the api refuses a session whose generation is not
    the user's current one."""
    client.incr(keys.user_session_generation(user.id))
