"""Alert rules managed by Kubernetes AlertRule resources: written by the operator, read-only in the
API. A rule is identified by (tenant, name); writes are idempotent upserts."""

from dataclasses import asdict, dataclass

from pymysql.cursors import Cursor

from .. import audit
from ..errors import AlreadyExists
from ..tenants import directory
from .rule_rows import RULE_COLUMNS, WRITABLE_COLUMNS, row_values, rule_from_row
from .rules import Rule

MANAGER = "kubernetes"
# The most severe state a rule's series are in decides the rule's state.
STATE_SEVERITY = ("OK", "NODATA", "PENDING", "FIRING")


@dataclass(frozen=True)
class RuleSummary:
    state: str  # OK, NODATA, PENDING, FIRING, or Unknown before the first evaluation
    active_alerts: int
    series: int
    last_evaluated_ms: int | None
    eval_error: str | None = None  # an expression rule whose last evaluation failed


def upsert_rule(cursor: Cursor, rule: Rule, *, enabled: bool, actor: audit.Actor | None = None) -> int:
    """Create or update the managed rule `rule.name` of `rule.tenant_id`; returns its id. A rule of
    that name made through the API is not taken over (AlreadyExists). With an actor, a creation or
    an actual change (not a resync that changed nothing) goes to the audit log."""
    cursor.execute("SELECT id, managed_by FROM alert_rules WHERE tenant_id = %s AND name = %s FOR UPDATE",
                   (rule.tenant_id, rule.name))
    row = cursor.fetchone()
    if row is not None and row[1] != MANAGER:
        raise AlreadyExists(f"a rule named {rule.name!r} was made through the API; rename the AlertRule or delete that rule")
    before = None if row is None else snapshot(cursor, rule_id=row[0])
    values = [*row_values(rule), enabled]
    if row is None:
        columns = ", ".join((*WRITABLE_COLUMNS, "enabled"))
        placeholders = ", ".join(["%s"] * len(values))
        cursor.execute(f"INSERT INTO alert_rules (tenant_id, managed_by, {columns}) VALUES (%s, %s, {placeholders})",
                       (rule.tenant_id, MANAGER, *values))
        rule_id = cursor.lastrowid
    else:
        rule_id = row[0]
        assignments = ", ".join(f"{column} = %s" for column in (*WRITABLE_COLUMNS, "enabled"))
        cursor.execute(f"UPDATE alert_rules SET {assignments} WHERE id = %s", (*values, rule_id))
    if actor is not None:
        _audit_change(cursor, actor, rule.tenant_id, rule_id, before)
    return rule_id


def _audit_change(cursor: Cursor, actor: audit.Actor, tenant_id: int, rule_id: int, before: dict | None) -> None:
    after = snapshot(cursor, rule_id=rule_id)
    if before == after:
        return
    action = "rule.create" if before is None else "rule.update"
    audit.record_for(cursor, tenant_id=tenant_id, tenant_name=None, actor=actor,
                     change=audit.Change(action, rule_id, before=before, after=after))


def snapshot(cursor: Cursor, *, rule_id: int) -> dict | None:
    """The stored rule as the audit log shows it."""
    cursor.execute(f"SELECT {RULE_COLUMNS}, enabled FROM alert_rules WHERE id = %s", (rule_id,))
    row = cursor.fetchone()
    if row is None:
        return None
    return {**asdict(rule_from_row(row[:-1])), "enabled": bool(row[-1])}


def find_rule(cursor: Cursor, *, tenant_name: str, owner: str, name: str) -> int | None:
    """The managed rule `name` of the tenant that `owner` manages, if it exists."""
    tenant_id = directory.owned_tenant_id(cursor, name=tenant_name, owner=owner)
    if tenant_id is None:
        return None
    cursor.execute("SELECT id FROM alert_rules WHERE tenant_id = %s AND name = %s AND managed_by = %s",
                   (tenant_id, name, MANAGER))
    row = cursor.fetchone()
    return None if row is None else row[0]


def delete_rule(cursor: Cursor, *, rule_id: int, actor: audit.Actor | None = None) -> int:
    before = None if actor is None else snapshot(cursor, rule_id=rule_id)
    cursor.execute("DELETE FROM alert_rules WHERE id = %s AND managed_by = %s", (rule_id, MANAGER))
    deleted = cursor.rowcount
    if actor is not None and before is not None and deleted:
        audit.record_for(cursor, tenant_id=before["tenant_id"], tenant_name=None, actor=actor,
                         change=audit.Change("rule.delete", rule_id, before=before))
    return deleted


def missing_channels(cursor: Cursor, *, tenant_id: int, names: tuple[str, ...]) -> list[str]:
    if not names:
        return []
    cursor.execute("SELECT name FROM notification_channels WHERE tenant_id = %s", (tenant_id,))
    existing = {row[0] for row in cursor.fetchall()}
    return [name for name in names if name not in existing]


def summarize(cursor: Cursor, *, rule_id: int) -> RuleSummary:
    cursor.execute("SELECT eval_error FROM alert_rules WHERE id = %s", (rule_id,))
    found = cursor.fetchone()
    eval_error = found[0] if found else None
    cursor.execute("SELECT state, COUNT(*), MAX(last_evaluated) FROM alert_states WHERE rule_id = %s GROUP BY state",
                   (rule_id,))
    rows = cursor.fetchall()
    if not rows:
        return RuleSummary("Unknown", 0, 0, None, eval_error)
    counts = {state: count for state, count, _ in rows}
    worst = max(counts, key=STATE_SEVERITY.index)
    return RuleSummary(worst, counts.get("FIRING", 0), sum(counts.values()), max(int(row[2]) for row in rows),
                       eval_error)
