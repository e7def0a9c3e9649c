"""`microdash user ...`: dashboard users, their roles per tenant, and ending their sessions.

Every change is written to the audit log of each tenant it concerns, in the same transaction.
"""

from enum import Enum
from typing import Annotated, Optional

import redis
import typer

from microdash_core import audit, db, users
from microdash_core.audit import Change
from microdash_core.errors import MicrodashError
from microdash_core.settings import get_settings
from microdash_core.tenants import directory, memberships

app = typer.Typer(help="Manage dashboard users", no_args_is_help=True)


class RoleChoice(str, Enum):
    admin = "admin"
    viewer = "viewer"


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg="red", err=True)
    raise typer.Exit(1)


@app.command("create")
def create(email: str, tenant: Annotated[str, typer.Option(help="tenant name")],
           role: Annotated[RoleChoice, typer.Option(help="admin or viewer")] = RoleChoice.viewer,
           password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                                 envvar="MICRODASH_NEW_USER_PASSWORD")] = ...) -> None:
    """Create a dashboard user with a role in one tenant."""
    try:
        with db.transaction(get_settings()) as cursor:
            found = directory.get_tenant(cursor, name=tenant)
            user = memberships.create_user(cursor, email=email, password=password)
            memberships.grant(cursor, user=user, tenant=found, role=role.value)
            _audit(cursor, found.id, found.name, Change("user.create", email, after={"email": email, "role": role.value}))
    except MicrodashError as exc:
        _fail(exc)
    typer.echo(f"user {email} created ({role.value} of {tenant})")


@app.command("set-role")
def set_role(email: str, tenant: Annotated[str, typer.Option(help="tenant name")],
             role: Annotated[RoleChoice, typer.Option(help="admin or viewer")]) -> None:
    """Give a user a role in a tenant (adding the user to it if needed); open sessions follow within
    TOKEN_CACHE_SECONDS."""
    try:
        with db.transaction(get_settings()) as cursor:
            user = memberships.get_user(cursor, email=email)
            found = directory.get_tenant(cursor, name=tenant)
            before = memberships.role_in(cursor, user=user, tenant=found)
            memberships.grant(cursor, user=user, tenant=found, role=role.value)
            _audit(cursor, found.id, found.name, Change("user.set_role", email,
                                                       before=None if before is None else {"email": email, "role": before},
                                                       after={"email": email, "role": role.value}))
    except MicrodashError as exc:
        _fail(exc)
    typer.echo(f"user {email} is {role.value} of {tenant}")


@app.command("delete")
def delete(email: str, tenant: Annotated[Optional[str], typer.Option(
        help="only remove the user from this tenant")] = None) -> None:
    """Delete a user and end all their sessions, or (with --tenant) only remove them from one tenant,
    which ends their sessions there within TOKEN_CACHE_SECONDS."""
    settings = get_settings()
    try:
        with db.transaction(settings) as cursor:
            user = memberships.get_user(cursor, email=email)
            if tenant is None:
                for tenant_id, tenant_name, role in memberships.memberships_of(cursor, user=user):
                    _audit(cursor, tenant_id, tenant_name, Change("user.delete", email,
                                                                  before={"email": email, "role": role}))
                memberships.delete_user(cursor, user=user)
            else:
                found = directory.get_tenant(cursor, name=tenant)
                role = memberships.role_in(cursor, user=user, tenant=found)
                memberships.remove_membership(cursor, user=user, tenant=found)
                _audit(cursor, found.id, found.name, Change("user.remove", email, before={"email": email, "role": role}))
    except MicrodashError as exc:
        _fail(exc)
    if tenant is not None:
        typer.echo(f"user {email} removed from {tenant}")
        return
    typer.echo(f"user {email} deleted")
    _revoke_sessions(settings, user, already_refused=True)


@app.command("list")
def list_users(tenant: Annotated[Optional[str], typer.Option(help="only this tenant's members")] = None) -> None:
    """Users with their role in each tenant, one line per membership: email, tenant, role."""
    try:
        with db.transaction(get_settings()) as cursor:
            found = None if tenant is None else directory.get_tenant(cursor, name=tenant)
            rows = memberships.list_memberships(cursor, tenant=found)
    except MicrodashError as exc:
        _fail(exc)
    for row in rows:
        typer.echo(f"{row.email}\t{row.tenant or '-'}\t{row.role or '-'}")


@app.command("revoke-sessions")
def revoke_sessions(email: str) -> None:
    """End every dashboard session of the user at once (the user may sign in again)."""
    settings = get_settings()
    try:
        with db.transaction(settings) as cursor:
            user = memberships.get_user(cursor, email=email)
            for tenant_id, tenant_name, _role in memberships.memberships_of(cursor, user=user):
                _audit(cursor, tenant_id, tenant_name, Change("user.revoke_sessions", email))
            _revoke_sessions(settings, user, already_refused=False)  # inside: no entry unless it happened
    except MicrodashError as exc:
        _fail(exc)


def _revoke_sessions(settings, user: memberships.User, *, already_refused: bool) -> None:
    try:
        users.revoke_sessions(redis.Redis.from_url(settings.redis_url), user=user)
    except redis.exceptions.RedisError as exc:
        if already_refused:  # without memberships its sessions are refused anyway, within the cache time
            typer.secho(f"warning: sessions not revoked at once (Redis: {exc}); they end within "
                        "TOKEN_CACHE_SECONDS", fg="yellow", err=True)
            return
        _fail(exc)
    typer.echo(f"every session of {user.email} ended")


def _audit(cursor, tenant_id: int, tenant_name: str, change: Change) -> None:
    audit.record_for(cursor, tenant_id=tenant_id, tenant_name=tenant_name, actor=audit.command_line_actor(),
                     change=change)
