"""Alert rules managed by Kubernetes AlertRule resources: written by the operator, read-only in the
API. A rule is identified by (tenant, name); writes are idempotent upserts."""

from dataclasses import dataclass

from pymysql.cursors import Cursor

from ..errors import AlreadyExists
from .rule_rows import WRITABLE_COLUMNS, row_values
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


def upsert_rule(cursor: Cursor, rule: Rule, *, enabled: bool) -> int:
    """Create or update the managed rule `rule.name` of `rule.tenant_id`; returns its id. A rule of
    that name made through the API is not taken over (AlreadyExists)."""
    cursor.execute("SELECT id, managed_by FROM alert_rules WHERE tenant_id = %s AND name = %s FOR UPDATE",
                   (rule.tenant_id, rule.name))
    row = cursor.fetchone()
    values = [*row_values(rule), enabled]
    if row is None:
        columns = ", ".join((*WRITABLE_COLUMNS, "enabled"))
        placeholders = ", ".join(["%s"] * len(values))
        cursor.execute(f"INSERT INTO alert_rules (tenant_id, managed_by, {columns}) VALUES (%s, %s, {placeholders})",
                       (rule.tenant_id, MANAGER, *values))
        return cursor.lastrowid
    if row[1] != MANAGER:
        raise AlreadyExists(f"a rule named {rule.name!r} was made through the API; rename the AlertRule or delete that rule")
    assignments = ", ".join(f"{column} = %s" for column in (*WRITABLE_COLUMNS, "enabled"))
    cursor.execute(f"UPDATE alert_rules SET {assignments} WHERE id = %s", (*values, row[0]))
    return row[0]


def find_rule(cursor: Cursor, *, tenant_name: str, owner: str, name: str) -> int | None:
    """The managed rule `name` of the tenant that `owner` manages, if it exists."""
    cursor.execute("SELECT r.id FROM alert_rules r JOIN tenants t ON t.id = r.tenant_id"
                   " WHERE t.name = %s AND t.owner = %s AND r.name = %s AND r.managed_by = %s",
                   (tenant_name, owner, name, MANAGER))
    row = cursor.fetchone()
    return None if row is None else row[0]


def delete_rule(cursor: Cursor, *, rule_id: int) -> int:
    cursor.execute("DELETE FROM alert_rules WHERE id = %s AND managed_by = %s", (rule_id, MANAGER))
    return cursor.rowcount


def missing_channels(cursor: Cursor, *, tenant_id: int, names: tuple[str, ...]) -> list[str]:
    if not names:
        return []
    cursor.execute("SELECT name FROM notification_channels WHERE tenant_id = %s", (tenant_id,))
    existing = {row[0] for row in cursor.fetchall()}
    return [name for name in names if name not in existing]


def summarize(cursor: Cursor, *, rule_id: int) -> RuleSummary:
    cursor.execute("SELECT state, COUNT(*), MAX(last_evaluated) FROM alert_states WHERE rule_id = %s GROUP BY state",
                   (rule_id,))
    rows = cursor.fetchall()
    if not rows:
        return RuleSummary("Unknown", 0, 0, None)
    counts = {state: count for state, count, _ in rows}
    worst = max(counts, key=STATE_SEVERITY.index)
    return RuleSummary(worst, counts.get("FIRING", 0), sum(counts.values()), max(int(row[2]) for row in rows))
