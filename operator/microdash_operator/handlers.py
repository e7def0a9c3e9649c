"""The kopf handlers: every Tenant and AlertRule change, a periodic re-check that repairs drift
and recovers from outages, and the finalizers that clean up on deletion."""

import logging

import kopf

from microdash_core.settings import Settings

from .alertrules import AlertRuleReconciler
from .specs import GROUP

TENANTS = f"tenants.{GROUP}"
ALERT_RULES = f"alertrules.{GROUP}"


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    from .tenants import TenantReconciler

    tenants = TenantReconciler(settings)
    rules = AlertRuleReconciler(settings)
    retry = settings.operator_retry_seconds
    on = dict(registry=registry, backoff=retry)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_) -> None:
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration")
        settings.posting.level = logging.WARNING  # events: the explicit ones below, and warnings
        settings.execution.max_workers = 16
        settings.watching.server_timeout = 300
        settings.background.instant_exit_timeout = 1.0  # let waiting timers end at shutdown, not be orphaned

    @kopf.on.login(registry=registry)
    def login(**kwargs):
        return kopf.login_via_client(**kwargs)

    @kopf.on.resume(TENANTS, **on)
    @kopf.on.create(TENANTS, **on)
    @kopf.on.update(TENANTS, field="spec", **on)
    def tenant_changed(body, patch, **_) -> None:
        tenants.reconcile(body, patch)

    @kopf.timer(TENANTS, interval=settings.operator_resync_seconds, initial_delay=settings.operator_resync_seconds,
                registry=registry)
    def tenant_resync(body, patch, **_) -> None:
        tenants.reconcile(body, patch)

    @kopf.on.delete(TENANTS, **on)
    def tenant_deleted(body, **_) -> None:
        tenants.retire(body)

    @kopf.on.resume(ALERT_RULES, **on)
    @kopf.on.create(ALERT_RULES, **on)
    @kopf.on.update(ALERT_RULES, field="spec", **on)
    def rule_changed(body, patch, **_) -> None:
        rules.reconcile(body, patch)

    @kopf.timer(ALERT_RULES, interval=settings.operator_resync_seconds, initial_delay=settings.operator_resync_seconds,
                registry=registry)
    def rule_resync(body, patch, **_) -> None:
        rules.reconcile(body, patch)

    @kopf.timer(ALERT_RULES, interval=settings.operator_status_seconds, registry=registry)
    def rule_status(body, patch, **_) -> None:
        rules.refresh_status(body, patch)

    @kopf.on.delete(ALERT_RULES, **on)
    def rule_deleted(body, **_) -> None:
        rules.remove(body)
