"""The tenant service shared by the CLI and the operator: database and broker kept in step.

The database is changed first (it is the source of truth); the broker follows. If the broker
cannot be reached the change still stands and `sync_broker()` (`microdash broker sync`) repairs
the broker later, since every broker call is idempotent.
"""

from dataclasses import asdict, dataclass, replace

from . import audit, db, tokens
from .audit import Actor, Change
from .broker import BrokerAdmin, BrokerCommandFailed, BrokerUnavailable, mqtt_password, tenant_prefix
from .errors import NotFound
from .settings import Settings
from .tenants import api_tokens, deletion, directory


@dataclass(frozen=True)
class Credentials:
    """Shown once: the API token, and the MQTT identity derived from it."""

    tenant: str
    token: str
    mqtt_username: str
    mqtt_password: str
    topic_prefix: str
    broker_error: str | None = None


@dataclass(frozen=True)
class SyncReport:
    tenants: int
    clients: int
    removed_clients: int


class TenantService:
    def __init__(self, settings: Settings, broker_factory=BrokerAdmin):
        self.settings = settings
        self.broker_factory = broker_factory

    def credentials(self, tenant_name: str, token: str) -> Credentials:
        public_id = tokens.public_id_of(token) or ""
        return Credentials(tenant_name, token, public_id, mqtt_password(self.settings, public_id),
                           tenant_prefix(self.settings, tenant_name))

    def create(self, name: str, *, display_name: str | None = None, ingest_rate_limit: int | None = None,
               max_series: int | None = None, actor: Actor | None = None) -> Credentials:
        """`actor`, when given, is recorded in the tenant's audit log with the change."""
        with db.transaction(self.settings) as cursor:
            tenant = directory.create_tenant(cursor, name=name, display_name=display_name,
                                           ingest_rate_limit=ingest_rate_limit, max_series=max_series)
            token = api_tokens.issue_token(cursor, tenant=tenant)
            if actor is not None:
                audit.record(cursor, tenant=tenant, actor=actor, change=Change("tenant.create", name, after=asdict(tenant)))
        return replace(self.credentials(name, token), broker_error=self._follow(lambda: self.sync_tenant(name)))

    def rotate_token(self, name: str, *, actor: Actor | None = None) -> Credentials:
        with db.transaction(self.settings) as cursor:
            tenant = directory.get_tenant(cursor, name=name)
            before = [info.public_id for info in api_tokens.list_tokens(cursor, tenant=tenant) if not info.revoked]
            token = api_tokens.rotate_token(cursor, tenant=tenant)
            if actor is not None:
                audit.record(cursor, tenant=tenant, actor=actor, change=Change(
                    "token.rotate", None, before={"active": before}, after={"active": [tokens.public_id_of(token)]}))
        return replace(self.credentials(name, token), broker_error=self._follow(lambda: self.sync_tenant(name)))

    def issue_token(self, tenant_id: int, *, token_name: str, actor: Actor | None = None) -> tuple[str, str | None]:
        """Another token for the tenant, with its MQTT client. Returns the token and the broker error, if any.
        The tenant is named by id: a tenant re-created under an old name is another tenant. With an
        actor, the audit entry is written in the same transaction."""
        with db.transaction(self.settings) as cursor:
            tenant = directory.tenant_by_id(cursor, tenant_id=tenant_id)
            token = api_tokens.issue_token(cursor, tenant=tenant, name=token_name)
            if actor is not None:
                public_id = tokens.public_id_of(token)
                audit.record(cursor, tenant=tenant, actor=actor, change=Change(
                    "token.create", public_id, after=api_tokens.token_view(cursor, tenant_id=tenant.id,
                                                                           public_id=public_id)))

        def follow() -> None:
            if not tenant.mqtt_enabled:
                return
            with self.broker_factory(self.settings) as broker:
                broker.ensure_tenant(tenant.name, [tokens.public_id_of(token)])

        return token, self._follow(follow)

    def revoke_token(self, tenant_id: int, public_id: str, *, actor: Actor | None = None) -> str | None:
        """Revoke one token (NotFound if the tenant has no such token) and delete its MQTT client,
        which disconnects it. Returns the broker error, if any. With an actor, a revocation that
        changes something is audited in the same transaction."""
        with db.transaction(self.settings) as cursor:
            tenant = directory.tenant_by_id(cursor, tenant_id=tenant_id)
            if public_id not in {info.public_id for info in api_tokens.list_tokens(cursor, tenant=tenant)}:
                raise NotFound(f"tenant {tenant.name!r} has no token {public_id!r}")
            before = api_tokens.token_view(cursor, tenant_id=tenant.id, public_id=public_id)
            api_tokens.revoke_tokens(cursor, tenant=tenant, public_id=public_id)
            if actor is not None and before["revoked_at"] is None:  # revoking again changes nothing
                audit.record(cursor, tenant=tenant, actor=actor, change=Change(
                    "token.revoke", public_id, before=before,
                    after=api_tokens.token_view(cursor, tenant_id=tenant.id, public_id=public_id)))

        def follow() -> None:
            with self.broker_factory(self.settings) as broker:
                broker.remove_token_client(public_id)

        return self._follow(follow)

    def delete(self, name: str, *, actor: Actor | None = None) -> tuple[int, str | None]:
        """Returns the number of samples deleted and the broker error, if any."""
        with db.transaction(self.settings) as cursor:
            tenant = directory.get_tenant(cursor, name=name)
            public_ids = [info.public_id for info in api_tokens.list_tokens(cursor, tenant=tenant)]
            if actor is not None:  # committed before the data goes: a deletion cut short is still on record
                audit.record(cursor, tenant=tenant, actor=actor, change=Change("tenant.delete", name,
                                                                               before=asdict(tenant)))
            deleted = deletion.delete_tenant(cursor, tenant=tenant)

        def follow() -> None:
            with self.broker_factory(self.settings) as broker:
                broker.remove_tenant(name, public_ids)

        return deleted, self._follow(follow)

    @staticmethod
    def _follow(update) -> str | None:
        try:
            update()
        except (BrokerUnavailable, BrokerCommandFailed) as exc:
            return f"{exc}; run `microdash broker sync` once the broker is back"
        return None

    def sync_tenant(self, name: str) -> None:
        """Make the broker match one tenant: its role and a client per active token when MQTT is
        enabled, no clients at all when it is not, and none for revoked tokens (deleting a client
        disconnects it). A revoked token's client is deleted until the broker confirms it once, so
        the cost does not grow with past rotations (`sync_broker` still compares everything).
        Idempotent; raises BrokerUnavailable / BrokerCommandFailed."""
        with db.transaction(self.settings) as cursor:
            tenant = directory.get_tenant(cursor, name=name)
            infos = api_tokens.list_tokens(cursor, tenant=tenant)
        active = [info.public_id for info in infos if not info.revoked]
        newly_revoked = [info.public_id for info in infos if info.revoked and not info.broker_cleared]
        with self.broker_factory(self.settings) as broker:
            if tenant.mqtt_enabled:
                broker.ensure_tenant(name, active)
            else:
                broker.remove_tenant(name, active)
            for public_id in newly_revoked:
                broker.remove_token_client(public_id)
        with db.transaction(self.settings) as cursor:
            api_tokens.mark_broker_cleared(cursor, public_ids=newly_revoked)

    def sync_broker(self) -> SyncReport:
        """Make the broker match the database: bridge identity, every tenant with MQTT enabled, every
        active token of those; clients of revoked tokens, of tenants without MQTT or of deleted
        tenants are removed (which disconnects them)."""
        with db.transaction(self.settings) as cursor:
            wanted = {tenant.name: [info.public_id for info in api_tokens.list_tokens(cursor, tenant=tenant)
                                    if not info.revoked]
                      for tenant in directory.list_tenants(cursor) if tenant.mqtt_enabled}
        active = {public_id for ids in wanted.values() for public_id in ids}
        with self.broker_factory(self.settings) as broker:
            broker.ensure_bridge()
            for name, public_ids in wanted.items():
                broker.ensure_tenant(name, public_ids)
            stale = [username for username in broker.token_clients() if username not in active]
            for username in stale:
                broker.remove_token_client(username)
        return SyncReport(tenants=len(wanted), clients=len(active), removed_clients=len(stale))
