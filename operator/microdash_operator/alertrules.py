"""AlertRule resources -> alert rule rows, and the alerting engine's state back into their status."""

import time
from datetime import datetime, timezone

import kopf

from microdash_core import audit, db, managed_tenants
from microdash_core.alerting import managed_rules
from microdash_core.alerting.rules import check_rule
from microdash_core.errors import AlreadyExists, InvalidInput
from microdash_core.settings import Settings

from . import kube, specs
from .conditions import Condition, merge, reason_of
from .outcomes import DATABASE_OUTAGES, KUBERNETES_OUTAGES

# A rule's status is patched when its state or counts change, and otherwise no more often than
# this: thousands of rules must not turn every evaluation into an API write.
STATUS_REFRESH_SECONDS = 300


class AlertRuleReconciler:
    def __init__(self, settings: Settings):
        self.settings = settings

    def reconcile(self, body, patch: kopf.Patch) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        spec, status = body["spec"], body.get("status") or {}
        tenant_id = self._tenant_id(body, patch, namespace, spec["tenantRef"]["name"])
        rule = specs.alert_rule(name, spec, tenant_id)
        try:
            check_rule(rule)
            with db.transaction(self.settings) as cursor:
                rule_id = managed_rules.upsert_rule(cursor, rule, enabled=spec.get("enabled", True),
                                                    actor=_actor(namespace, name))
                missing = managed_rules.missing_channels(cursor, tenant_id=tenant_id, names=rule.channels)
        except (InvalidInput, AlreadyExists) as exc:
            reason = "InvalidRule" if isinstance(exc, InvalidInput) else "NameConflict"
            self._write(body, patch, [Condition("Ready", False, reason, str(exc))])
            raise kopf.PermanentError(str(exc)) from exc
        except DATABASE_OUTAGES as exc:
            self._write(body, patch, [Condition("Ready", False, "DatabaseUnavailable", str(exc))])
            raise kopf.TemporaryError(str(exc), delay=self.settings.operator_retry_seconds) from exc
        if status.get("ruleId") != rule_id:
            kopf.event(body, type="Normal", reason="RuleStored", message=f"alert rule {rule_id} of tenant {tenant_id}")
        channels = (Condition("ChannelsResolved", False, "ChannelNotFound", "no such channel: " + ", ".join(missing))
                    if missing else Condition("ChannelsResolved", True, "Resolved", "every channel exists"))
        patch.status.update(ruleId=rule_id, tenantId=tenant_id)
        self._write(body, patch, [channels, Condition("Ready", True, "Stored", "the rule is evaluated")])

    def _tenant_id(self, body, patch: kopf.Patch, namespace: str, tenant_name: str) -> int:
        """The id of the tenant that the Tenant of this namespace owns. Looked up by owner in the
        database, never taken from the Tenant's status (anyone who may patch a status could point
        it at another tenant)."""
        try:
            tenant = kube.read_tenant(namespace, tenant_name)
            tenant_id = None if tenant is None else managed_tenants.owned_tenant_id(
                self.settings, tenant_name, specs.owner_of(namespace, tenant_name))
        except KUBERNETES_OUTAGES as exc:
            raise kopf.TemporaryError(f"cannot read Tenant {tenant_name}: {exc}",
                                      delay=self.settings.operator_retry_seconds) from exc
        except DATABASE_OUTAGES as exc:
            self._write(body, patch, [Condition("Ready", False, "DatabaseUnavailable", str(exc))])
            raise kopf.TemporaryError(str(exc), delay=self.settings.operator_retry_seconds) from exc
        if tenant_id is None:
            reason = "TenantNotFound" if tenant is None else "TenantNotReady"
            message = f"Tenant {tenant_name} {'does not exist' if tenant is None else 'is not reconciled yet'} in {namespace}"
            self._write(body, patch, [Condition("Ready", False, reason, message)])
            # A missing Tenant may never come back: look again at the resync pace, not the retry pace.
            delay = self.settings.operator_resync_seconds if tenant is None else self.settings.operator_retry_seconds
            raise kopf.TemporaryError(message, delay=delay)
        return tenant_id

    def remove(self, body) -> None:
        try:
            rule_id = self._own_rule_id(body)
            if rule_id is not None:
                with db.transaction(self.settings) as cursor:
                    managed_rules.delete_rule(cursor, rule_id=rule_id,
                                              actor=_actor(body["metadata"]["namespace"], body["metadata"]["name"]))
        except DATABASE_OUTAGES as exc:
            raise kopf.TemporaryError(str(exc), delay=self.settings.operator_retry_seconds) from exc

    def refresh_status(self, body, patch: kopf.Patch) -> None:
        """Write the engine's view of the rule into the status, only when it changed (or went stale)."""
        status = body.get("status") or {}
        rule_id = self._own_rule_id(body)
        if rule_id is None:
            return
        with db.transaction(self.settings) as cursor:
            summary = managed_rules.summarize(cursor, rule_id=rule_id)
        observed = {"state": summary.state, "activeAlerts": summary.active_alerts, "series": summary.series,
                    "evaluationError": summary.eval_error}  # None removes it from the status
        changed = any(status.get(key) != value for key, value in observed.items())
        evaluated_again = summary.last_evaluated_ms is not None and _stale(status.get("lastEvaluation"))
        if not changed and not evaluated_again:
            return
        if status.get("state") != summary.state:
            kopf.event(body, type="Normal", reason=f"State{summary.state.title()}", message=f"{summary.active_alerts} firing of {summary.series} series")
        patch.status.update(observed)
        if summary.last_evaluated_ms is not None:
            patch.status["lastEvaluation"] = _iso(summary.last_evaluated_ms)

    def _own_rule_id(self, body) -> int | None:
        """The row this AlertRule manages, found through its Tenant's owner, never through its own
        (forgeable) status."""
        namespace, tenant_name = body["metadata"]["namespace"], body["spec"]["tenantRef"]["name"]
        with db.transaction(self.settings) as cursor:
            return managed_rules.find_rule(cursor, tenant_name=tenant_name, owner=specs.owner_of(namespace, tenant_name),
                                           name=body["metadata"]["name"])

    @staticmethod
    def _write(body, patch: kopf.Patch, conditions: list[Condition]) -> None:
        """Conditions into the status; a Ready that turns false, or fails for a new reason, is also an event."""
        generation = body["metadata"].get("generation")
        previous = (body.get("status") or {}).get("conditions")
        ready = next((c for c in conditions if c.type == "Ready"), None)
        if ready is not None and not ready.ok and reason_of(previous, "Ready") != ready.reason:
            kopf.event(body, type="Warning", reason=ready.reason, message=ready.message)
        patch.status.update(observedGeneration=generation, conditions=merge(previous, conditions, generation))


def _actor(namespace: str, name: str) -> audit.Actor:
    return audit.operator_actor(f"AlertRule {namespace}/{name}")


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stale(last_evaluation: str | None) -> bool:
    if last_evaluation is None:
        return True
    seen = datetime.strptime(last_evaluation, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    return time.time() - seen > STATUS_REFRESH_SECONDS
