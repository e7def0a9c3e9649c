"""Dashboard users and their roles in tenants (the `users` and `memberships` tables)."""

from dataclasses import dataclass
from typing import Literal

import pymysql
from pymysql.cursors import Cursor

from ..errors import AlreadyExists, InvalidInput, NotFound
from ..users import hash_password
from .directory import Tenant
from .queries import Query, all_rows, first_row, first_value

Role = Literal["admin", "viewer"]


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


_MEMBER_TENANTS = ("SELECT t.id, t.name, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id"
                   " WHERE m.user_id = %s")


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


def user_by_email(email: str) -> Query[tuple[int, str, str] | None]:
    """(id, email, password_hash)."""
    return Query("SELECT id, email, password_hash FROM users WHERE email = %s", (email,), first_row)


def find_user(cursor: Cursor, *, email: str) -> tuple[User, str] | None:
    """The user and their password hash."""
    row = user_by_email(email).run(cursor)
    return (User(row[0], row[1]), row[2]) if row else None


def get_user(cursor: Cursor, *, email: str) -> User:
    found = find_user(cursor, email=email)
    if found is None:
        raise NotFound(f"user {email!r} does not exist")
    return found[0]


def role_in(cursor: Cursor, *, user: User, tenant: Tenant) -> Role | None:
    return Query("SELECT role FROM memberships WHERE user_id = %s AND tenant_id = %s", (user.id, tenant.id),
                 first_value).run(cursor)


def memberships_of(cursor: Cursor, *, user: User) -> list[tuple[int, str, Role]]:
    """(tenant id, tenant name, role) of every tenant the user belongs to."""
    return Query(_MEMBER_TENANTS + " ORDER BY t.name", (user.id,), all_rows).run(cursor)


def member_tenant(user_id: int, *, tenant_name: str | None = None,
                  tenant_id: int | None = None) -> Query[tuple[int, str, Role] | None]:
    """(tenant id, tenant name, role) of the tenant named, or of that id (or, without either, the
    user's first by name); None when the user is not a member of it."""
    sql = _MEMBER_TENANTS
    params: tuple = (user_id,)
    if tenant_name is not None:
        sql += " AND t.name = %s"
        params += (tenant_name,)
    if tenant_id is not None:
        sql += " AND t.id = %s"
        params += (tenant_id,)
    return Query(sql + " ORDER BY t.name LIMIT 1", params, first_row)


def member_tenants_for_display(user_id: int) -> Query[list[tuple[str, str, Role]]]:
    """(tenant name, display name, role) of every tenant the user belongs to, by name."""
    return Query("SELECT t.name, t.display_name, m.role FROM memberships m JOIN tenants t"
                 " ON t.id = m.tenant_id WHERE m.user_id = %s ORDER BY t.name", (user_id,), all_rows)


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
