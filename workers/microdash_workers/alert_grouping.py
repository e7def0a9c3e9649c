"""Grouping: the firing, repeated and resolved alerts of one rule evaluation become one
notification per channel."""

from dataclasses import dataclass, field, replace

from pymysql.cursors import Cursor

from microdash_core.alerting.payloads import AlertItem, group_payload
from microdash_core.alerting.rules import Rule
from microdash_core.alerting.state_machine import FIRING, OK, SeriesState, Transition
from microdash_core.settings import Settings
from microdash_core.tenants import directory

from . import notification_store


@dataclass
class Group:
    rule: Rule
    items: list[AlertItem] = field(default_factory=list)
    transition_ids: list[int] = field(default_factory=list)


def collect_group(group: Group, settings: Settings, fp: bytes, state: SeriesState, transition: Transition | None,
                  transition_id: int | None, now_ms: int) -> SeriesState:
    """Adds the series to the group when it is due a notification; returns the state to store."""
    if state.state == FIRING and _firing_is_due(state, settings, now_ms):
        group.items.append(AlertItem(fp, state.labels, "firing", state.last_value, state.fired_at, None))
        state = replace(state, last_notified=now_ms)
    elif transition is not None and transition.from_state == FIRING and transition.to_state == OK:
        if state.last_notified is None:
            return state  # it fired while silenced: nobody heard of it, so no "resolved" either
        group.items.append(AlertItem(fp, state.labels, "resolved", state.last_value, state.fired_at,
                                     state.resolved_at))
    else:
        return state
    if transition_id is not None:
        group.transition_ids.append(transition_id)
    return state


def _firing_is_due(state: SeriesState, settings: Settings, now_ms: int) -> bool:
    """Never announced yet (new, or its silence ended), or the repeat interval has passed."""
    return state.last_notified is None or now_ms - state.last_notified >= settings.alert_repeat_interval_seconds * 1000


def notify_group(cursor: Cursor, group: Group, *, now_ms: int) -> list[int]:
    if not group.items:
        return []
    tenant = directory.tenant_name_or_blank(cursor, tenant_id=group.rule.tenant_id)
    payload = group_payload(group.rule, group.items, tenant=tenant, now_ms=now_ms)
    return [notification_store.create_notification(cursor, group.rule, channel, transition_ids=group.transition_ids,
                                                    payload=payload, now_ms=now_ms)
            for channel in notification_store.channels_for(cursor, group.rule)]
