"""The kopf handlers: every Tenant and AlertRule change, a periodic re-check that repairs drift
and recovers from outages, and the finalizers that clean up on deletion."""

import logging

import kopf

from microdash_core.settings import Settings

from .alertrules import AlertRuleReconciler
from .tenants import TenantReconciler
from .specs import GROUP

TENANTS = f"tenants.{GROUP}"
ALERT_RULES = f"alertrules.{GROUP}"


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    tenants = TenantReconciler(settings)
    rules = AlertRuleReconciler(settings)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_) -> None:
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration")
        # Events are the reconcilers' own, one per transition; kopf would post one per failed retry.
        settings.posting.level = logging.CRITICAL
        settings.execution.max_workers = 16
        settings.watching.server_timeout = 300
        settings.background.instant_exit_timeout = 1.0  # let waiting timers end at shutdown, not be orphaned

    @kopf.on.login(registry=registry)
    def login(**kwargs):
        return kopf.login_via_client(**kwargs)

    _reconcile_and_retire(TENANTS, tenants.reconcile, tenants.retire, registry, settings)
    _reconcile_and_retire(ALERT_RULES, rules.reconcile, rules.remove, registry, settings)

    @kopf.timer(ALERT_RULES, id="status", interval=settings.operator_status_seconds, registry=registry)
    def rule_status(body, patch, **_) -> None:
        rules.refresh_status(body, patch)


def _reconcile_and_retire(resource: str, reconcile, retire, registry: kopf.OperatorRegistry,
                          settings: Settings) -> None:
    """Reconcile on every change and every resync (drift repair, recovery); retire behind a finalizer."""
    retry, resync = settings.operator_retry_seconds, settings.operator_resync_seconds

    @kopf.on.resume(resource, id="reconcile", registry=registry, backoff=retry)
    @kopf.on.create(resource, id="reconcile", registry=registry, backoff=retry)
    @kopf.on.update(resource, id="reconcile", field="spec", registry=registry, backoff=retry)
    def changed(body, patch, **_) -> None:
        reconcile(body, patch)

    @kopf.timer(resource, id="resync", interval=resync, initial_delay=resync, registry=registry)
    def resynced(body, patch, **_) -> None:
        reconcile(body, patch)

    @kopf.on.delete(resource, id="retire", registry=registry, backoff=retry)
    def deleted(body, **_) -> None:
        retire(body)
