"""Status conditions in the Kubernetes convention: a transition time changes only with the status."""

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Condition:
    type: str
    ok: bool
    reason: str
    message: str = ""


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(previous: list[dict] | None, updates: list[Condition], generation: int | None) -> list[dict]:
    """The previous conditions with `updates` applied; untouched types are kept as they were."""
    merged = {condition["type"]: dict(condition) for condition in previous or []}
    for update in updates:
        status = "True" if update.ok else "False"
        old = merged.get(update.type, {})
        since = old.get("lastTransitionTime") if old.get("status") == status else now_iso()
        merged[update.type] = {"type": update.type, "status": status, "reason": update.reason,
                               "message": update.message, "lastTransitionTime": since or now_iso(),
                               "observedGeneration": generation}
    return list(merged.values())


def reason_of(conditions: list[dict] | None, condition_type: str) -> str | None:
    return next((c.get("reason") for c in conditions or [] if c.get("type") == condition_type), None)
