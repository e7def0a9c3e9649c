"""Database access of the alert evaluator: rules, series values over a window, states,
transitions and silences. Every statement is scoped by tenant. A tenant's rules are evaluated
with a handful of statements whatever their number: one per kind of read, one for all states.

A metric rule's value (avg, min, max, sum, count or last over its window) is computed from the raw
samples as store.reads returns them (sealed chunks plus the head): one read per window length
serves every rule with that window. Reads go by at most SERIES_PER_READ series and SLICE_MS of
time, so a week-long window over many series never holds more than one slice in memory; the
aggregates carry over from slice to slice. The sum adds the samples one by one in time order, as
MariaDB's SUM and AVG did when these were SQL aggregates, so the values are the same to the bit.
"""

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import orjson
from pymysql.cursors import Cursor

from microdash_core import chunks, series_lookup
from microdash_core.alerting.fingerprints import fingerprint
from microdash_core.alerting.rule_rows import RULE_COLUMNS, rule_from_row
from microdash_core.alerting.rules import Rule
from microdash_core.alerting.silences import Silence
from microdash_core.alerting.state_machine import SeriesState, Transition
from microdash_core.matchers import all_match
from microdash_core.store import reads

Values = dict[bytes, tuple[dict[str, str], float | None]]

SERIES_PER_READ = 500
SLICE_MS = 6 * chunks.WINDOW_MS  # 12 h: 4,320 samples a series at 10 s; whole chunks per slice
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
    series = series_lookup.find_series(cursor, tenant_id=tenant_id, metrics={rule.metric for rule in rules})
    by_metric: dict[str, list[int]] = defaultdict(list)
    for series_id, (metric, _labels) in series.items():
        by_metric[metric].append(series_id)
    matched: dict[int, list[int]] = {}
    for rule in rules:
        matchers = rule.parsed_matchers()
        matched[rule.id] = [series_id for series_id in by_metric[rule.metric]
                            if all_match(matchers, series[series_id][1])]
    by_window: dict[int, set[int]] = defaultdict(set)
    for rule in rules:
        by_window[rule.window_seconds].update(matched[rule.id])
    summaries = {window: _summaries(cursor, tenant_id, sorted(ids), reads.Span.left_open(now_ms - window * 1000,
                                                                                         now_ms))
                 for window, ids in by_window.items() if ids}
    values = {}
    for rule in rules:
        found = summaries.get(rule.window_seconds, {})
        values[rule.id] = {fingerprint(series[sid][1]): (series[sid][1], found[sid].value(rule.aggregation))
                           for sid in matched[rule.id] if sid in found}
    return values


@dataclass
class _Summary:
    """A series' samples in a window, folded slice by slice in time order."""
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    last: float = math.nan

    def add(self, values: np.ndarray) -> None:
        self.count += len(values)
        # cumsum adds one by one (np.sum adds pairwise, which rounds differently)
        self.total = float(np.cumsum(np.concatenate(([self.total], values)))[-1])
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        self.last = float(values[-1])

    def value(self, aggregation: str) -> float:
        if aggregation == "avg":
            return self.total / self.count
        return {"min": self.low, "max": self.high, "sum": self.total, "count": float(self.count),
                "last": self.last}[aggregation]


def _summaries(cursor: Cursor, tenant_id: int, series_ids: list[int], span: reads.Span) -> dict[int, _Summary]:
    """Per series with samples in the span."""
    found: dict[int, _Summary] = {}
    for offset in range(0, len(series_ids), SERIES_PER_READ):
        batch = series_ids[offset:offset + SERIES_PER_READ]
        for piece in _slices(span):
            for series_id, (_timestamps, values) in reads.read_series(cursor, tenant_id=tenant_id, series_ids=batch,
                                                                       span=piece).items():
                found.setdefault(series_id, _Summary()).add(values)
    return found


def _slices(span: reads.Span) -> list[reads.Span]:
    """The span cut at multiples of SLICE_MS (chunk windows never straddle a cut), in time order."""
    cuts = range(span.first_ms - span.first_ms % SLICE_MS + SLICE_MS, span.last_ms + 1, SLICE_MS)
    starts, ends = [span.first_ms, *cuts], [*(cut - 1 for cut in cuts), span.last_ms]
    return [reads.Span(first, last) for first, last in zip(starts, ends)]


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
