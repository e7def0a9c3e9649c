"""The alert state machine, one instance per (rule, series): OK -> PENDING -> FIRING -> OK.

Pure functions: the previous state, the series' aggregated value (None = no data in the window)
and `now` go in; the next state and the transition, if any, come out.
"""

from dataclasses import dataclass, replace

from .fingerprints import fingerprint
from .rules import Rule

OK, PENDING, FIRING, NODATA = "OK", "PENDING", "FIRING", "NODATA"


@dataclass(frozen=True)
class SeriesState:
    labels: dict[str, str]
    state: str = OK
    since: int = 0
    last_value: float | None = None
    last_evaluated: int = 0
    last_active: int | None = None
    missing_evaluations: int = 0
    fired_at: int | None = None
    resolved_at: int | None = None
    last_notified: int | None = None


@dataclass(frozen=True)
class Transition:
    from_state: str
    to_state: str
    value: float | None
    at: int

    @property
    def notifies(self) -> bool:
        """Firing and resolved are announced; pending, and pending that recovered, are not."""
        return self.to_state == FIRING or (self.from_state == FIRING and self.to_state == OK)


@dataclass(frozen=True)
class Step:
    state: SeriesState
    transition: Transition | None


def step(rule: Rule, previous: SeriesState, value: float | None, now_ms: int) -> Step:
    """One evaluation of one series."""
    evaluated = replace(previous, last_evaluated=now_ms, last_value=value)
    if value is None:
        return _without_data(rule, evaluated, now_ms)
    evaluated = replace(evaluated, missing_evaluations=0)
    if previous.state == FIRING:
        return _while_firing(rule, evaluated, rule.still_holds(value), now_ms)
    if rule.holds(value):
        return _while_holding(rule, replace(evaluated, last_active=now_ms), now_ms)
    return _move(evaluated, OK, now_ms)


def _while_holding(rule: Rule, current: SeriesState, now_ms: int) -> Step:
    if current.state == PENDING:
        if now_ms - current.since >= rule.for_seconds * 1000:
            return _move(current, FIRING, now_ms)
        return Step(current, None)
    return _move(current, FIRING if rule.for_seconds == 0 else PENDING, now_ms)


def _while_firing(rule: Rule, current: SeriesState, holds: bool, now_ms: int) -> Step:
    if holds:
        return Step(replace(current, last_active=now_ms), None)
    last_active = current.last_active if current.last_active is not None else current.since
    if now_ms - last_active < rule.keep_firing_for_seconds * 1000:
        return Step(current, None)
    return _move(current, OK, now_ms)


def _without_data(rule: Rule, current: SeriesState, now_ms: int) -> Step:
    current = replace(current, missing_evaluations=current.missing_evaluations + 1)
    if current.missing_evaluations < rule.nodata_after:
        return Step(current, None)  # a short gap changes nothing
    if rule.nodata_policy == "firing":
        return _move(replace(current, last_active=now_ms), FIRING, now_ms)
    if rule.nodata_policy == "nodata":
        return _move(current, NODATA, now_ms)
    if current.state == FIRING:
        return _while_firing(rule, current, False, now_ms)
    return _move(current, OK, now_ms)


def _move(current: SeriesState, to_state: str, now_ms: int) -> Step:
    if current.state == to_state:
        return Step(current, None)
    moved = replace(current, state=to_state, since=now_ms)
    if to_state == FIRING:
        moved = replace(moved, fired_at=now_ms, resolved_at=None, last_notified=None)
    elif current.state == FIRING:
        moved = replace(moved, resolved_at=now_ms)
    return Step(moved, Transition(current.state, to_state, current.last_value, now_ms))


@dataclass(frozen=True)
class Outcome:
    fingerprint: bytes
    step: Step


# The rule as a whole: a rule whose metric has no series with data at all still gets a state
# (labels {}), so the no-data policy applies to it too. It is the identity of an unlabeled series.
RULE_LEVEL = fingerprint({})


def evaluate_rule(rule: Rule, values: dict[bytes, tuple[dict[str, str], float | None]],
                  states: dict[bytes, SeriesState], now_ms: int) -> list[Outcome]:
    """Fan-out: every series with data in the window, and every series that had a state before
    (it may have stopped reporting), is evaluated on its own."""
    series = values.keys() | (states.keys() - {RULE_LEVEL})
    outcomes = []
    if not series:
        series = {RULE_LEVEL}
    elif RULE_LEVEL in states and RULE_LEVEL not in values and states[RULE_LEVEL].state != OK:
        outcomes.append(Outcome(RULE_LEVEL, _move(states[RULE_LEVEL], OK, now_ms)))  # series have appeared
    for fp in sorted(series):
        labels, value = values.get(fp, (None, None))
        previous = states.get(fp) or SeriesState(labels=labels or {}, since=now_ms)
        outcomes.append(Outcome(fp, step(rule, previous, value, now_ms)))
    return outcomes
