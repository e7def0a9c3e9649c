"""Dashboard users: argon2id password hashes and per-tenant roles."""

from dataclasses import dataclass
from typing import Literal

import pymysql
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymysql.cursors import Cursor

from .errors import AlreadyExists, InvalidInput
from .tenancy import Tenant

Role = Literal["admin", "viewer"]
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    id: int
    email: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(cursor: Cursor, *, email: str, password: str) -> User:
    if "@" not in email or len(email) > 254:
        raise InvalidInput("email must look like name@domain")
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters")
    try:
        cursor.execute("INSERT INTO users (email, password_hash) VALUES (%s, %s)", (email, hash_password(password)))
    except pymysql.err.IntegrityError as exc:
        raise AlreadyExists(f"user {email!r} already exists") from exc
    return User(id=cursor.lastrowid, email=email)


def grant(cursor: Cursor, *, user: User, tenant: Tenant, role: Role) -> None:
    if role not in ("admin", "viewer"):
        raise InvalidInput("role must be admin or viewer")
    cursor.execute(
        "INSERT INTO memberships (user_id, tenant_id, role) VALUES (%s, %s, %s)"
        " ON DUPLICATE KEY UPDATE role = VALUE(role)",
        (user.id, tenant.id, role),
    )


def find_user(cursor: Cursor, *, email: str) -> tuple[User, str] | None:
    cursor.execute("SELECT id, email, password_hash FROM users WHERE email = %s", (email,))
    row = cursor.fetchone()
    return (User(row[0], row[1]), row[2]) if row else None
