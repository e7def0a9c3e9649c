"""Tenant resources -> tenant row, token Secret and broker identity, and back on deletion."""

import logging
import threading
from collections import defaultdict

import kopf

from microdash_core import managed_tenants
from microdash_core.broker import BrokerAdmin, tenant_prefix
from microdash_core.settings import Settings
from microdash_core.tenant_service import TenantService

from . import kube, specs
from .conditions import Condition, merge, reason_of
from .outcomes import BROKER_OUTAGES, DATABASE_OUTAGES, KUBERNETES_OUTAGES

log = logging.getLogger(__name__)


class TenantReconciler:
    def __init__(self, settings: Settings, broker_factory=BrokerAdmin):
        self.settings = settings
        self.broker_factory = broker_factory
        # A timer and a change handler may run at once for one Tenant; they take turns.
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def reconcile(self, body, patch: kopf.Patch) -> None:
        with self._locks[body["metadata"]["uid"]]:
            _Run(self, body, patch).reconcile()

    def retire(self, body) -> None:
        """The Tenant is being deleted: revoke, disconnect, keep or delete the data, drop the Secret."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        spec = body.get("spec") or {}
        delete_data = spec.get("deletionPolicy", "Retain") == "Delete"
        with self._locks[body["metadata"]["uid"]]:
            try:
                deleted = managed_tenants.retire_tenant(self.settings, name, specs.owner_of(namespace, name),
                                                        delete_data=delete_data, broker_factory=self.broker_factory)
                kube.delete_secret(namespace, specs.secret_name(name, spec), owner_uid=body["metadata"]["uid"])
            except (*DATABASE_OUTAGES, *BROKER_OUTAGES, *KUBERNETES_OUTAGES) as exc:
                raise kopf.TemporaryError(f"cannot retire the tenant yet: {exc}", delay=self.settings.operator_retry_seconds)
        self._locks.pop(body["metadata"]["uid"], None)
        outcome = f"data deleted ({deleted} samples)" if delete_data else "data retained"
        kopf.event(body, type="Normal", reason="TenantRetired", message=f"tokens revoked, MQTT access removed, {outcome}")


class _Run:
    """One reconcile of one Tenant: database, Secret, broker; status written whatever happens."""

    def __init__(self, owner: TenantReconciler, body, patch: kopf.Patch):
        self.settings, self.broker_factory = owner.settings, owner.broker_factory
        self.body, self.patch = body, patch
        self.namespace, self.name = body["metadata"]["namespace"], body["metadata"]["name"]
        self.spec = body.get("spec") or {}
        self.status = body.get("status") or {}
        self.secret = specs.secret_name(self.name, self.spec)

    def reconcile(self) -> None:
        try:
            tenant_id = managed_tenants.ensure_tenant(self.settings, specs.tenant_spec(self.namespace, self.name, self.spec))
            series = managed_tenants.series_count(self.settings, tenant_id)
        except managed_tenants.OwnedByOther as exc:
            self._fail("DatabaseSynced", "NameConflict", str(exc), phase="Failed")
            raise kopf.PermanentError(str(exc)) from exc
        except DATABASE_OUTAGES as exc:
            self._fail("DatabaseSynced", "DatabaseUnavailable", f"database unreachable: {exc}")
            raise self._retry(exc) from exc
        self.patch.status.update(tenantId=tenant_id, series=series)
        try:
            public_id = self._ensure_token()
        except DATABASE_OUTAGES as exc:
            self._fail("DatabaseSynced", "DatabaseUnavailable", f"database unreachable: {exc}")
            raise self._retry(exc) from exc
        except kube.ForeignSecret as exc:
            self._fail("DatabaseSynced", "SecretConflict", f"{exc}; set spec.secretName", phase="Failed")
            raise kopf.PermanentError(str(exc)) from exc
        except KUBERNETES_OUTAGES as exc:
            self._fail("DatabaseSynced", "SecretNotWritten", f"cannot write Secret {self.secret}: {exc}")
            raise self._retry(exc) from exc
        synced = Condition("DatabaseSynced", True, "Synced", "tenant row and token match the spec")
        try:
            TenantService(self.settings, self.broker_factory).sync_tenant(self.name)
        except (*BROKER_OUTAGES, *DATABASE_OUTAGES) as exc:
            self._fail("BrokerSynced", "BrokerUnavailable", f"MQTT broker not updated: {exc}", also=[synced])
            raise self._retry(exc) from exc
        mqtt = (self.spec.get("mqtt") or {}).get("enabled", True)
        self._write_status("Ready", [
            synced,
            Condition("BrokerSynced", True, "Synced" if mqtt else "MQTTDisabled",
                      "MQTT identity and ACL in place" if mqtt else "MQTT access removed"),
            Condition("Ready", True, "Reconciled", f"token in Secret {self.secret}"),
        ], tokenId=public_id, topicPrefix=tenant_prefix(self.settings, self.name))

    def _ensure_token(self) -> str:
        wanted_rotation = self.spec.get("tokenRotation", 0)
        stored = kube.read_secret(self.namespace, self.secret)
        if stored is not None and stored.owner_uid != self.body["metadata"]["uid"]:
            raise kube.ForeignSecret(f"Secret {self.secret} exists and is not owned by this Tenant")
        current = stored.token if stored else None
        rotate = current is not None and stored.rotation != wanted_rotation
        token = managed_tenants.ensure_token(self.settings, self.name, current, rotate=rotate)
        if token.token is not None:
            kube.write_secret(self.namespace, self.secret, self._credentials(token.token),
                              owner=kube.owner_reference(self.body),
                              annotations={kube.ROTATION_ANNOTATION: str(wanted_rotation)})
            reason = "TokenRotated" if rotate else ("TokenReissued" if current else "TokenIssued")
            kopf.event(self.body, type="Normal", reason=reason, message=f"API token {token.public_id} written to Secret {self.secret}")
        self.patch.status["tokenRotation"] = wanted_rotation
        return token.public_id

    def _credentials(self, token: str) -> dict[str, str]:
        credentials = TenantService(self.settings).credentials(self.name, token)
        return {"token": token, "tenant": self.name, "mqtt-username": credentials.mqtt_username,
                "mqtt-password": credentials.mqtt_password, "mqtt-topic-prefix": credentials.topic_prefix}

    def _retry(self, exc: Exception) -> kopf.TemporaryError:
        return kopf.TemporaryError(str(exc), delay=self.settings.operator_retry_seconds)

    def _fail(self, condition: str, reason: str, message: str, *, phase: str | None = None,
              also: list[Condition] = ()) -> None:
        was_ready = self.status.get("phase") in ("Ready", "Degraded")
        phase = phase or ("Degraded" if was_ready else "Pending")
        if self.status.get("phase") != phase or reason != reason_of(self.status.get("conditions"), "Ready"):
            kopf.event(self.body, type="Warning", reason=reason, message=message)
        self._write_status(phase, [*also, Condition(condition, False, reason, message),
                                   Condition("Ready", False, reason, message)])

    def _write_status(self, phase: str, conditions: list[Condition], **fields) -> None:
        generation = self.body["metadata"].get("generation")
        if phase == "Ready" and self.status.get("phase") != "Ready":
            kopf.event(self.body, type="Normal", reason="Ready", message="tenant reconciled")
        self.patch.status.update(phase=phase, secretName=self.secret, observedGeneration=generation,
                                 conditions=merge(self.status.get("conditions"), conditions, generation), **fields)
