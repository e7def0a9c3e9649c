"""Dashboard users: argon2id password hashes, per-tenant roles, and ending a user's sessions."""

from dataclasses import dataclass
from typing import Literal

import pymysql
import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymysql.cursors import Cursor

from . import keys
from .errors import AlreadyExists, InvalidInput, NotFound
from .tenancy import Tenant

Role = Literal["admin", "viewer"]
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    id: int
    email: str


@dataclass(frozen=True)
class MembershipRow:
    """One line of `microdash user list`: tenant and role are None for a user without any membership."""

    email: str
    tenant: str | None
    role: Role | None


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
    """Add the user to the tenant, or change the user's role there."""
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


def get_user(cursor: Cursor, *, email: str) -> User:
    found = find_user(cursor, email=email)
    if found is None:
        raise NotFound(f"user {email!r} does not exist")
    return found[0]


def role_in(cursor: Cursor, *, user: User, tenant: Tenant) -> Role | None:
    cursor.execute("SELECT role FROM memberships WHERE user_id = %s AND tenant_id = %s", (user.id, tenant.id))
    row = cursor.fetchone()
    return row[0] if row else None


def memberships_of(cursor: Cursor, *, user: User) -> list[tuple[int, str, Role]]:
    """(tenant id, tenant name, role) of every tenant the user belongs to."""
    cursor.execute("SELECT t.id, t.name, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id"
                   " WHERE m.user_id = %s ORDER BY t.name", (user.id,))
    return [tuple(row) for row in cursor.fetchall()]


def remove_membership(cursor: Cursor, *, user: User, tenant: Tenant) -> None:
    cursor.execute("DELETE FROM memberships WHERE user_id = %s AND tenant_id = %s", (user.id, tenant.id))
    if cursor.rowcount == 0:
        raise NotFound(f"user {user.email!r} is not a member of tenant {tenant.name!r}")


def delete_user(cursor: Cursor, *, user: User) -> None:
    """The user's memberships go with it (ON DELETE CASCADE)."""
    cursor.execute("DELETE FROM users WHERE id = %s", (user.id,))


def list_memberships(cursor: Cursor, *, tenant: Tenant | None = None) -> list[MembershipRow]:
    """Every user with each of their roles; with a tenant, only that tenant's members."""
    if tenant is None:
        cursor.execute("SELECT u.email, t.name, m.role FROM users u LEFT JOIN memberships m ON m.user_id = u.id"
                       " LEFT JOIN tenants t ON t.id = m.tenant_id ORDER BY u.email, t.name")
    else:
        cursor.execute("SELECT u.email, t.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id"
                       " JOIN tenants t ON t.id = m.tenant_id WHERE t.id = %s ORDER BY u.email", (tenant.id,))
    return [MembershipRow(*row) for row in cursor.fetchall()]


def revoke_sessions(client: redis.Redis, *, user: User) -> None:
    """End every dashboard session of the user: the api refuses a session whose generation is not
    the user's current one."""
    client.incr(keys.user_session_generation(user.id))
