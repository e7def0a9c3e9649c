"""What a notification says: one JSON document per rule group, and its Slack and email forms."""

import re
from dataclasses import dataclass

import orjson

from .rules import Rule
from .templates import format_value, render_all


@dataclass(frozen=True)
class AlertItem:
    """One series of the group: firing (new or repeated) or resolved."""
    fingerprint: bytes
    labels: dict[str, str]
    status: str
    value: float | None
    fired_at: int | None
    resolved_at: int | None


def group_payload(rule: Rule, items: list[AlertItem], *, tenant: str, now_ms: int) -> dict:
    firing = [item for item in items if item.status == "firing"]
    return {
        "version": 1,
        "tenant": tenant,
        "status": "firing" if firing else "resolved",
        "rule": {"id": rule.id, "name": rule.name, "severity": rule.severity, "metric": rule.metric,
                 "expr": rule.expr},
        "alerts": [_alert(rule, item) for item in items],
        "created_at": now_ms,
    }


def alert_labels(rule: Rule, series_labels: dict[str, str]) -> dict[str, str]:
    """What receivers and silences see: the series labels, the rule's labels, alertname and severity."""
    return {**series_labels, **rule.labels, "alertname": rule.name, "severity": rule.severity}


def _alert(rule: Rule, item: AlertItem) -> dict:
    labels = alert_labels(rule, item.labels)
    return {
        "status": item.status,
        "fingerprint": item.fingerprint.hex(),
        "labels": labels,
        "annotations": render_all(rule.annotations, value=item.value, labels=labels),
        "value": item.value,
        "starts_at": item.fired_at,
        "ends_at": item.resolved_at,
    }


def summary_line(payload: dict) -> str:
    counts = {}
    for alert in payload["alerts"]:
        counts[alert["status"]] = counts.get(alert["status"], 0) + 1
    parts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    return f"[{payload['status'].upper()}] {payload['rule']['name']} ({payload['rule']['severity']}): {parts}"


def alert_lines(payload: dict) -> list[str]:
    lines = []
    for alert in payload["alerts"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        text = alert["annotations"].get("summary") or alert["annotations"].get("description") or ""
        lines.append(f"- {alert['status']}: value {format_value(alert['value'])} {{{labels}}} {text}".rstrip())
    return lines


def slack_message(payload: dict) -> dict:
    """Slack-compatible incoming-webhook body (also understood by Mattermost and Rocket.Chat)."""
    return {"text": "\n".join([summary_line(payload), *alert_lines(payload)])}


def email_text(payload: dict) -> tuple[str, str]:
    """(subject, plain-text body)."""
    return summary_line(payload), "\n".join([summary_line(payload), "", *alert_lines(payload), ""])


_GROUP_PLACEHOLDER = re.compile(r"\{\{\s*\$(status|rule|severity|tenant|text)\s*\}\}")


def render_body(template: str, payload: dict, *, json_escape: bool) -> bytes:
    """A channel's own body: {{ $status }}, {{ $rule }}, {{ $severity }}, {{ $tenant }} and
    {{ $text }} (the summary and one line per alert). Values are JSON-escaped for a JSON body, so
    a template like {"msg": "{{ $text }}"} stays valid JSON whatever the labels contain."""
    values = {"status": payload["status"], "rule": payload["rule"]["name"], "severity": payload["rule"]["severity"],
              "tenant": payload["tenant"], "text": "\n".join([summary_line(payload), *alert_lines(payload)])}

    def substitute(match: re.Match) -> str:
        value = values[match.group(1)]
        return orjson.dumps(value).decode()[1:-1] if json_escape else value

    return _GROUP_PLACEHOLDER.sub(substitute, template).encode()
