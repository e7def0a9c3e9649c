"""Alert evaluation. The scheduled job fans out one RQ job per tenant, so evaluation scales with
the number of workers. A tenant's rules are evaluated in one transaction that starts by locking
their rows, so two evaluators of the same tenant take turns and the second sees the first one's
states: a transition is never recorded (or notified) twice."""

import logging
import math
import os
import socket
import time
from contextlib import closing

import redis
from rq import Queue

from microdash_core import db
from microdash_core.alerting.payloads import alert_labels
from microdash_core.alerting.rules import Rule
from microdash_core.alerting.silences import Silence, is_muted
from microdash_core.alerting.state_machine import Outcome, evaluate_rule
from microdash_core.queues import ALERT_EVAL_JOB, FAILURE_TTL_SECONDS, enqueue_delivery, notify_queue
from microdash_core.settings import Settings, get_settings

from . import alert_store
from .alert_expressions import expression_values
from .alert_grouping import Group, collect_group, notify_group

log = logging.getLogger(__name__)


def schedule_evaluations(settings: Settings | None = None) -> int:
    """RQ job (scheduled every ALERT_EVAL_INTERVAL_SECONDS). Enqueues one evaluation per tenant with rules."""
    settings = settings or get_settings()
    with db.transaction(settings) as cursor:
        tenants = alert_store.tenants_with_rules(cursor)
    queue = Queue(settings.scheduled_queue, connection=redis.Redis.from_url(settings.redis_url))
    for tenant_id, expression_rules in tenants.items():
        queue.enqueue(ALERT_EVAL_JOB, tenant_id, job_timeout=evaluation_timeout(settings, expression_rules),
                      result_ttl=settings.alert_eval_interval_seconds * 2, failure_ttl=FAILURE_TTL_SECONDS,
                      description=f"alert evaluation of tenant {tenant_id}")
    return len(tenants)


def evaluation_timeout(settings: Settings, expression_rules: int) -> int:
    """Seconds a tenant's evaluation job may run: a killed job rolls back every rule of the tenant,
    so each PromQL rule adds the time its query may take."""
    return max(30, settings.alert_eval_interval_seconds * 4) + expression_rules * math.ceil(
        settings.alert_expr_timeout_seconds)


def evaluate_tenant(tenant_id: int, *, now_ms: int | None = None, settings: Settings | None = None,
                    evaluator: str | None = None) -> dict[str, int]:
    """RQ job. Evaluates every enabled rule of the tenant; returns counts of rules, transitions, notifications."""
    settings = settings or get_settings()
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    evaluator = evaluator or f"{socket.gethostname()}:{os.getpid()}"
    with closing(db.connect(settings)) as database:
        totals = evaluate_rules(database, settings, tenant_id=tenant_id, now_ms=now_ms, evaluator=evaluator)
    _enqueue_deliveries(settings, totals.pop("notification_ids"))
    if totals["transitions"]:
        log.info("alert transitions recorded", extra={"tenant_id": tenant_id, **totals})
    return totals


def evaluate_rules(database, settings: Settings, *, tenant_id: int, now_ms: int, evaluator: str) -> dict:
    """All of a tenant's rules in one transaction. Returns counts and the notification ids to deliver."""
    try:
        with database.cursor() as cursor:
            rules = alert_store.lock_rules(cursor, tenant_id)
            values = _read_values(cursor, settings, tenant_id, rules, now_ms)
            rules = [rule for rule in rules if rule.id in values]  # an expression that failed waits
            states = alert_store.load_states(cursor, tenant_id)
            silences = alert_store.active_silences(cursor, tenant_id, now_ms)
            transitions, notification_ids, to_save = 0, [], []
            for rule in rules:
                outcomes = evaluate_rule(rule, values[rule.id], states.get(rule.id, {}), now_ms)
                transitions += sum(1 for outcome in outcomes if outcome.step.transition)
                group = _record(cursor, settings, rule, outcomes, silences, to_save, now_ms=now_ms, evaluator=evaluator)
                notification_ids += notify_group(cursor, group, now_ms=now_ms)
            alert_store.save_states(cursor, to_save)
        database.commit()
    except BaseException:
        database.rollback()
        raise
    return {"rules": len(rules), "transitions": transitions, "notifications": len(notification_ids),
            "notification_ids": notification_ids}


def _read_values(cursor, settings: Settings, tenant_id: int, rules: list[Rule], now_ms: int) -> dict:
    by_metric = [rule for rule in rules if rule.expr is None]
    by_expr = [rule for rule in rules if rule.expr is not None]
    by_expr_values, errors = expression_values(cursor, settings, by_expr, now_ms)
    alert_store.save_eval_errors(cursor, tenant_id, errors)
    return {**alert_store.read_values(cursor, tenant_id, by_metric, now_ms), **by_expr_values}


def _record(cursor, settings: Settings, rule: Rule, outcomes: list[Outcome], silences: list[Silence],
            to_save: list, *, now_ms: int, evaluator: str) -> Group:
    """Record the rule's transitions (muted when silenced), queue its states for saving and
    collect the alerts due a notification."""
    group = Group(rule)
    for outcome in outcomes:
        state, transition = outcome.step.state, outcome.step.transition
        muted = is_muted(silences, rule_id=rule.id, labels=alert_labels(rule, state.labels), now_ms=now_ms)
        transition_id = None
        if transition is not None:
            transition_id = alert_store.record_transition(cursor, rule, outcome.fingerprint, state.labels,
                                                          transition, evaluator=evaluator, muted=muted)
        if not muted:
            state = collect_group(group, settings, outcome.fingerprint, state, transition, transition_id, now_ms)
        to_save.append((rule, outcome.fingerprint, state))
    return group


def _enqueue_deliveries(settings: Settings, notification_ids: list[int]) -> None:
    """After the commit, so the delivery job always finds its row; delivery runs on its own queue,
    so a slow receiver never holds up evaluation."""
    if not notification_ids:
        return
    queue = notify_queue(redis.Redis.from_url(settings.redis_url), settings)
    for notification_id in notification_ids:
        enqueue_delivery(queue, notification_id, settings)
