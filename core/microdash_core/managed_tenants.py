"""Tenants managed declaratively (by the Kubernetes operator): make the database match a desired
spec (the broker then follows with TenantService.sync_tenant). Every function is idempotent, so a reconcile interrupted anywhere converges
when it is run again.

The database comes first (it is the source of truth), the broker follows from it. A tenant
belongs to one owner: a spec never adopts a tenant created by the CLI or by another owner.
"""

from dataclasses import asdict, dataclass

from pymysql.cursors import Cursor

from . import audit, db, tokens
from .broker import BrokerAdmin
from .errors import AlreadyExists, MicrodashError
from .settings import Settings
from .tenants import api_tokens, deletion, directory, limits

MANAGED_TOKEN_NAME = "kubernetes"


class OwnedByOther(MicrodashError):
    """The tenant name is taken by a tenant this owner does not manage."""


@dataclass(frozen=True)
class TenantSpec:
    name: str
    owner: str
    display_name: str | None = None
    ingest_rate_limit: int | None = None
    max_series: int | None = None
    retention_raw_days: int | None = None
    retention_1m_days: int | None = None
    retention_5m_days: int | None = None
    mqtt_enabled: bool = True


@dataclass(frozen=True)
class ManagedToken:
    public_id: str
    token: str | None  # the plaintext, only when a new token was issued (to be stored by the caller)
    rotated: bool


def ensure_tenant(settings: Settings, spec: TenantSpec) -> int:
    """Create the tenant or bring its settings to the spec. Returns the tenant id."""
    with db.transaction(settings) as cursor:
        row = directory.id_and_owner(cursor, name=spec.name)
        created = False
        if row is None:
            # No locking read before the INSERT: a gap lock on the missing name would deadlock
            # concurrent creations of different tenants.
            try:
                row = (directory.create_tenant(cursor, name=spec.name).id, spec.owner)
                created = True
            except AlreadyExists:  # created meanwhile by someone else
                row = directory.id_and_owner(cursor, name=spec.name)
        tenant_id, owner = row
        if owner != spec.owner:
            raise OwnedByOther(f"tenant {spec.name!r} already exists and is managed by "
                               f"{owner or 'the CLI or API'}, not {spec.owner}")
        before = None if created else limits.managed_settings(cursor, tenant_id=tenant_id)
        values = [spec.display_name or spec.name, spec.ingest_rate_limit, spec.max_series, spec.retention_raw_days,
                  spec.retention_1m_days, spec.retention_5m_days, spec.mqtt_enabled]
        limits.apply_managed_settings(cursor, tenant_id=tenant_id, values=values, owner=spec.owner)
        after = limits.managed_settings(cursor, tenant_id=tenant_id)
        if before != after:  # a resync that changed nothing is not an action
            audit.record_for(cursor, tenant_id=tenant_id, tenant_name=spec.name, actor=_actor(spec.owner),
                             change=audit.Change("tenant.create" if before is None else "tenant.update", spec.name,
                                                 before=before, after=after))
    return tenant_id


def _actor(owner: str) -> audit.Actor:
    return audit.operator_actor(f"Tenant {owner.partition(':')[2]}")


def series_count(settings: Settings, tenant_id: int) -> int:
    """Distinct series the tenant has stored (what `max_series` caps)."""
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT COUNT(*) FROM series WHERE tenant_id = %s", (tenant_id,))
        return cursor.fetchone()[0]


def owned_tenant_id(settings: Settings, name: str, owner: str) -> int | None:
    """The tenant's id if `owner` manages it, else None."""
    with db.transaction(settings) as cursor:
        return directory.owned_tenant_id(cursor, name=name, owner=owner)


def ensure_token(settings: Settings, name: str, current: str | None, *, rotate: bool) -> ManagedToken:
    """Keep the managed token `current` if it is still active and no rotation is asked for;
    otherwise revoke the tenant's managed tokens and issue a new one. Managed tokens issued by an
    interrupted earlier run (never stored by the caller) are revoked too. Tokens made by people
    (dashboard, CLI) are left alone."""
    with db.transaction(settings) as cursor:
        tenant = directory.get_tenant(cursor, name=name)
        active = _active_managed_tokens(cursor, tenant)
        keep = None if rotate or current is None else _matching(cursor, active, current)
        for public_id in active:
            if public_id != keep:
                api_tokens.revoke_tokens(cursor, tenant=tenant, public_id=public_id)
        if keep is not None:
            return ManagedToken(keep, None, rotated=False)
        token = api_tokens.issue_token(cursor, tenant=tenant, name=MANAGED_TOKEN_NAME)
        audit.record(cursor, tenant=tenant, actor=_actor(directory.owner_of(cursor, tenant_id=tenant.id) or ""), change=audit.Change(
            "token.rotate" if active else "token.create", tokens.public_id_of(token),
            before={"active": active} if active else None, after={"active": [tokens.public_id_of(token)]}))
    return ManagedToken(tokens.public_id_of(token), token, rotated=current is not None)


def _active_managed_tokens(cursor: Cursor, tenant: directory.Tenant) -> list[str]:
    return [info.public_id for info in api_tokens.list_tokens(cursor, tenant=tenant)
            if info.name == MANAGED_TOKEN_NAME and not info.revoked]


def _matching(cursor: Cursor, active: list[str], token: str) -> str | None:
    public_id = tokens.public_id_of(token)
    if public_id not in active:
        return None
    return public_id if tokens.matches(token, api_tokens.stored_hash(cursor, public_id=public_id)) else None


def retire_tenant(settings: Settings, name: str, owner: str, *, delete_data: bool,
                  broker_factory=BrokerAdmin) -> int:
    """The owner lets go of its tenant: every token revoked, MQTT access removed, and the data
    deleted or kept. Returns the samples deleted. A tenant already gone, or owned by someone
    else, is left alone."""
    with db.transaction(settings) as cursor:
        if directory.owned_tenant_id(cursor, name=name, owner=owner) is None:
            return 0
        tenant = directory.get_tenant(cursor, name=name)
        public_ids = [info.public_id for info in api_tokens.list_tokens(cursor, tenant=tenant)]
        if api_tokens.revoke_tokens(cursor, tenant=tenant):  # a retry after the revocation records nothing again
            audit.record(cursor, tenant=tenant, actor=_actor(owner), change=audit.Change(
                "tenant.retire", name, before=asdict(tenant), after={"tokens": "revoked", "delete_data": delete_data}))
    with broker_factory(settings) as broker:
        broker.remove_tenant(name, public_ids)
    if not delete_data:
        return 0
    with db.transaction(settings) as cursor:
        tenant = directory.get_tenant(cursor, name=name)
        audit.record(cursor, tenant=tenant, actor=_actor(owner), change=audit.Change("tenant.delete", name,
                                                                                     before=asdict(tenant)))
        return deletion.delete_tenant(cursor, tenant=tenant)
