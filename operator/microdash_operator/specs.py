"""Custom resource specs -> domain values: Tenant -> TenantSpec, AlertRule -> Rule."""

import re

from microdash_core.alerting.rules import Rule
from microdash_core.managed_tenants import TenantSpec

GROUP = "microdash.io"
VERSION = "v1alpha1"
DURATION = re.compile(r"(\d+)(s|m|h|d)")
SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def owner_of(namespace: str, name: str) -> str:
    """How the database records which resource manages a tenant."""
    return f"kubernetes:{namespace}/{name}"


def secret_name(name: str, spec: dict) -> str:
    return spec.get("secretName") or f"{name}-microdash-token"


def tenant_spec(namespace: str, name: str, spec: dict) -> TenantSpec:
    retention = spec.get("retention") or {}
    limits = spec.get("limits") or {}
    return TenantSpec(
        name=name, owner=owner_of(namespace, name), display_name=spec.get("displayName"),
        ingest_rate_limit=limits.get("ingestSamplesPerSecond"), max_series=limits.get("maxSeries"),
        retention_raw_days=retention.get("rawDays"), retention_1m_days=retention.get("oneMinuteDays"),
        retention_5m_days=retention.get("fiveMinuteDays"),
        mqtt_enabled=(spec.get("mqtt") or {}).get("enabled", True),
    )


def seconds(duration: str) -> int:
    match = DURATION.fullmatch(duration)
    if match is None:
        raise ValueError(f"bad duration {duration!r}: use a number and one of s, m, h, d")
    return int(match.group(1)) * SECONDS_PER_UNIT[match.group(2)]


def alert_rule(name: str, spec: dict, tenant_id: int) -> Rule:
    """The rule the AlertRule describes (the schema's defaults are applied by the API server)."""
    no_data = spec.get("noData") or {}
    return Rule(
        id=0, tenant_id=tenant_id, name=name, metric=spec.get("metric", ""), expr=spec.get("expr"),
        matchers=tuple(spec.get("matchers") or ()),
        aggregation=spec.get("aggregation", "avg"), window_seconds=seconds(spec.get("window", "1m")),
        comparison=spec["comparison"], threshold=float(spec["threshold"]),
        recovery_threshold=None if spec.get("recoveryThreshold") is None else float(spec["recoveryThreshold"]),
        for_seconds=seconds(spec.get("for", "0s")), keep_firing_for_seconds=seconds(spec.get("keepFiringFor", "0s")),
        nodata_policy=no_data.get("policy", "nodata"), nodata_after=no_data.get("after", 1),
        severity=spec.get("severity", "warning"), labels=dict(spec.get("labels") or {}),
        annotations=dict(spec.get("annotations") or {}),
        channels=tuple(ref["name"] for ref in spec.get("channelRefs") or ()),
    )
