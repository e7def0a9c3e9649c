"""Database access of the alert evaluator: rules, series values over a window, states,
transitions and silences. Every statement is scoped by tenant. A tenant's rules are evaluated
with a handful of statements whatever their number: one per kind of read, one for all states."""

import math
from collections import defaultdict

import orjson
from pymysql.cursors import Cursor

from microdash_core.alerting.fingerprints import fingerprint
from microdash_core.alerting.rule_rows import RULE_COLUMNS, rule_from_row
from microdash_core.alerting.rules import Rule
from microdash_core.alerting.silences import Silence
from microdash_core.alerting.state_machine import SeriesState, Transition
from microdash_core.matchers import all_match

Values = dict[bytes, tuple[dict[str, str], float | None]]

_AGGREGATES = {"avg": "AVG(value)", "min": "MIN(value)", "max": "MAX(value)", "sum": "SUM(value)",
               "count": "COUNT(*)"}
_STATE_COLUMNS = ("rule_id, fingerprint, labels, state, since, last_value, last_evaluated, last_active,"
                  " missing_evaluations, fired_at, resolved_at, last_notified")


def storable(value: float | None) -> float | None:
    """MariaDB's DOUBLE holds no NaN or infinity, which a PromQL rule's value may be: kept as NULL."""
    return value if value is None or math.isfinite(value) else None


def tenants_with_rules(cursor: Cursor) -> dict[int, int]:
    """Per tenant with enabled rules: how many of them are PromQL expressions."""
    cursor.execute("SELECT tenant_id, SUM(expr IS NOT NULL) FROM alert_rules WHERE enabled = 1"
                   " GROUP BY tenant_id ORDER BY tenant_id")
    return {tenant_id: int(expressions) for tenant_id, expressions in cursor.fetchall()}


def lock_rules(cursor: Cursor, tenant_id: int) -> list[Rule]:
    """The tenant's enabled rules, their rows locked until the transaction ends: two evaluators of
    one tenant take turns, and the second reads the states the first committed."""
    cursor.execute(f"SELECT {RULE_COLUMNS} FROM alert_rules WHERE tenant_id = %s AND enabled = 1 ORDER BY id"
                   " FOR UPDATE", (tenant_id,))
    return [rule_from_row(row) for row in cursor.fetchall()]


def read_values(cursor: Cursor, tenant_id: int, rules: list[Rule], now_ms: int) -> dict[int, Values]:
    """Per metric rule: its aggregation over (now - window, now] for each series matching metric and
    matchers. (Expression rules are evaluated by alert_expressions.)"""
    series = _tenant_series(cursor, tenant_id, {rule.metric for rule in rules})
    by_metric: dict[str, list[int]] = defaultdict(list)
    for series_id, (metric, _labels) in series.items():
        by_metric[metric].append(series_id)
    matched: dict[int, list[int]] = {}
    for rule in rules:
        matchers = rule.parsed_matchers()
        matched[rule.id] = [series_id for series_id in by_metric[rule.metric]
                            if all_match(matchers, series[series_id][1])]
    by_query: dict[tuple[str, int], set[int]] = defaultdict(set)
    for rule in rules:
        by_query[(rule.aggregation, rule.window_seconds)].update(matched[rule.id])
    aggregated = {key: dict(_aggregate(cursor, tenant_id, *key, sorted(ids), now_ms)) if ids else {}
                  for key, ids in by_query.items()}
    values = {}
    for rule in rules:
        found = aggregated[(rule.aggregation, rule.window_seconds)]
        values[rule.id] = {fingerprint(series[sid][1]): (series[sid][1], float(found[sid]))
                           for sid in matched[rule.id] if sid in found}
    return values


def _tenant_series(cursor: Cursor, tenant_id: int, metrics: set[str]) -> dict[int, tuple[str, dict]]:
    if not metrics:
        return {}
    placeholders = ",".join(["%s"] * len(metrics))
    cursor.execute(f"SELECT id, metric, labels FROM series WHERE tenant_id = %s AND metric IN ({placeholders})",
                   [tenant_id, *sorted(metrics)])
    return {series_id: (metric, orjson.loads(labels)) for series_id, metric, labels in cursor.fetchall()}


def _aggregate(cursor: Cursor, tenant_id: int, aggregation: str, window_seconds: int, series_ids: list[int],
               now_ms: int):
    placeholders = ",".join(["%s"] * len(series_ids))
    where = f"tenant_id = %s AND series_id IN ({placeholders}) AND ts > %s AND ts <= %s"
    params = [tenant_id, *series_ids, now_ms - window_seconds * 1000, now_ms]
    if aggregation == "last":
        cursor.execute(f"SELECT s.series_id, s.value FROM samples s JOIN (SELECT series_id, MAX(ts) AS ts FROM samples"
                       f" WHERE {where} GROUP BY series_id) newest ON s.tenant_id = %s"
                       " AND s.series_id = newest.series_id AND s.ts = newest.ts", [*params, tenant_id])
    else:
        cursor.execute(f"SELECT series_id, {_AGGREGATES[aggregation]} FROM samples WHERE {where}"
                       " GROUP BY series_id", params)
    return cursor.fetchall()


def save_eval_errors(cursor: Cursor, tenant_id: int, errors: dict[int, str | None]) -> None:
    """Each expression rule's last failure (None: it evaluated), in one statement; a row whose
    error did not change is not touched (its updated_at stays)."""
    if not errors:
        return
    ids = sorted(errors)
    cases = " ".join(["WHEN %s THEN %s"] * len(ids))
    cursor.execute(f"UPDATE alert_rules SET eval_error = CASE id {cases} END WHERE tenant_id = %s"
                   f" AND id IN ({','.join(['%s'] * len(ids))})",
                   [*(value for rule_id in ids for value in (rule_id, errors[rule_id])), tenant_id, *ids])


def load_states(cursor: Cursor, tenant_id: int) -> dict[int, dict[bytes, SeriesState]]:
    """Per rule id: its series' states."""
    cursor.execute(f"SELECT {_STATE_COLUMNS} FROM alert_states WHERE tenant_id = %s", (tenant_id,))
    states: dict[int, dict[bytes, SeriesState]] = defaultdict(dict)
    for row in cursor.fetchall():
        states[row[0]][bytes(row[1])] = SeriesState(orjson.loads(row[2]), *row[3:])
    return states


def save_states(cursor: Cursor, states: list[tuple[Rule, bytes, SeriesState]]) -> None:
    """Every evaluated series, in one multi-row statement."""
    if not states:
        return
    cursor.executemany(
        "INSERT INTO alert_states (rule_id, fingerprint, tenant_id, labels, state, since, last_value, last_evaluated,"
        " last_active, missing_evaluations, fired_at, resolved_at, last_notified)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON DUPLICATE KEY UPDATE state = VALUE(state), since = VALUE(since), last_value = VALUE(last_value),"
        " last_evaluated = VALUE(last_evaluated), last_active = VALUE(last_active),"
        " missing_evaluations = VALUE(missing_evaluations), fired_at = VALUE(fired_at),"
        " resolved_at = VALUE(resolved_at), last_notified = VALUE(last_notified)",
        [(rule.id, fp, rule.tenant_id, orjson.dumps(state.labels, option=orjson.OPT_SORT_KEYS).decode(), state.state,
          state.since, storable(state.last_value), state.last_evaluated, state.last_active, state.missing_evaluations,
          state.fired_at, state.resolved_at, state.last_notified) for rule, fp, state in states],
    )


def record_transition(cursor: Cursor, rule: Rule, fp: bytes, labels: dict[str, str], transition: Transition, *,
                      evaluator: str, muted: bool) -> int:
    cursor.execute(
        "INSERT INTO alert_transitions (tenant_id, rule_id, fingerprint, labels, from_state, to_state, value, at,"
        " evaluator, muted) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (rule.tenant_id, rule.id, fp, orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode(),
         transition.from_state, transition.to_state, storable(transition.value), transition.at, evaluator, int(muted)),
    )
    return cursor.lastrowid


def active_silences(cursor: Cursor, tenant_id: int, now_ms: int) -> list[Silence]:
    cursor.execute("SELECT id, rule_id, matchers, starts_at, ends_at FROM silences"
                   " WHERE tenant_id = %s AND starts_at <= %s AND ends_at > %s", (tenant_id, now_ms, now_ms))
    return [Silence(row[0], row[1], tuple(orjson.loads(row[2])), row[3], row[4]) for row in cursor.fetchall()]


def tenant_name(cursor: Cursor, tenant_id: int) -> str:
    cursor.execute("SELECT name FROM tenants WHERE id = %s", (tenant_id,))
    row = cursor.fetchone()
    return row[0] if row else ""
