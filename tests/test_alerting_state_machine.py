"""The alert state machine driven through time with a controllable clock (pure, no services)."""

import pytest

from microdash_core.alerting.rules import Rule, check_rule
from microdash_core.alerting.silences import Silence, is_muted
from microdash_core.alerting.signing import signature, verify
from microdash_core.alerting.fingerprints import fingerprint
from microdash_core.alerting.state_machine import (FIRING, NODATA, OK, PENDING, RULE_LEVEL, SeriesState,
                                                  evaluate_rule, step)
from microdash_core.alerting.templates import render
from microdash_core.errors import InvalidInput

S = 1000


def rule(**overrides) -> Rule:
    fields = dict(id=1, tenant_id=1, name="cpu-high", metric="cpu", matchers=(), aggregation="avg",
                  window_seconds=60, comparison=">", threshold=90.0)
    return Rule(**{**fields, **overrides})


class Clock:
    """Feeds values to one series every 15 s and records the states and transitions."""

    def __init__(self, alert_rule: Rule):
        self.rule = alert_rule
        self.now = 1_000_000
        self.state = SeriesState(labels={"host": "n1"}, since=self.now)
        self.transitions = []

    def feed(self, *values):
        for value in values:
            self.now += 15 * S
            result = step(self.rule, self.state, value, self.now)
            self.state = result.state
            if result.transition:
                self.transitions.append((result.transition.from_state, result.transition.to_state))
        return self.state.state


def test_pending_that_recovers_before_for_never_fires():
    clock = Clock(rule(for_seconds=60))
    assert clock.feed(95) == PENDING
    assert clock.feed(96, 97) == PENDING
    assert clock.feed(50) == OK
    assert clock.transitions == [(OK, PENDING), (PENDING, OK)]


def test_fires_once_the_condition_held_for_the_whole_for_duration():
    clock = Clock(rule(for_seconds=30))
    clock.feed(95, 95)
    assert clock.state.state == PENDING
    assert clock.feed(95) == FIRING and clock.state.fired_at == clock.now
    assert clock.feed(99, 99) == FIRING
    assert clock.feed(10) == OK and clock.state.resolved_at == clock.now
    assert clock.transitions == [(OK, PENDING), (PENDING, FIRING), (FIRING, OK)]


def test_for_zero_fires_at_once_with_one_transition():
    clock = Clock(rule())
    assert clock.feed(91) == FIRING
    assert clock.transitions == [(OK, FIRING)]


def test_keep_firing_for_holds_the_alert_after_the_condition_stops():
    clock = Clock(rule(keep_firing_for_seconds=40))
    clock.feed(95)
    assert clock.feed(10, 10) == FIRING  # 15 s and 30 s after the condition last held
    assert clock.feed(10) == OK  # 45 s
    assert clock.transitions == [(OK, FIRING), (FIRING, OK)]


def test_recovery_threshold_gives_hysteresis():
    clock = Clock(rule(recovery_threshold=80.0))
    assert clock.feed(91) == FIRING
    assert clock.feed(85, 81, 89) == FIRING  # below the threshold but above the recovery threshold
    assert clock.feed(79) == OK
    assert clock.feed(85) == OK  # back above recovery, but not above the threshold: no new alert
    assert clock.feed(91) == FIRING


def test_flapping_around_the_threshold_with_for_never_fires():
    clock = Clock(rule(for_seconds=30))
    for _ in range(5):
        clock.feed(95, 50)
    assert clock.state.state == OK
    assert FIRING not in {to for _, to in clock.transitions}


@pytest.mark.parametrize(("policy", "expected"), [("nodata", NODATA), ("firing", FIRING), ("ok", OK)])
def test_no_data_policy_applies_after_n_evaluations(policy, expected):
    clock = Clock(rule(nodata_policy=policy, nodata_after=3))
    clock.feed(10)
    assert clock.feed(None, None) == OK  # a short gap changes nothing
    assert clock.feed(None) == expected
    assert clock.feed(10) == OK  # data is back, below the threshold


def test_no_data_with_policy_ok_resolves_a_firing_alert_after_keep_firing_for():
    clock = Clock(rule(nodata_policy="ok", keep_firing_for_seconds=20))
    clock.feed(95)
    assert clock.feed(None) == FIRING
    assert clock.feed(None) == OK


def test_late_data_after_a_gap_is_evaluated_like_any_other():
    clock = Clock(rule(nodata_after=2))
    clock.feed(10, None, None)
    assert clock.state.state == NODATA
    assert clock.feed(99) == FIRING  # samples that arrived late fall inside the window
    assert clock.transitions == [(OK, NODATA), (NODATA, FIRING)]
    assert clock.state.missing_evaluations == 0


def test_each_series_of_a_rule_alerts_on_its_own():
    alert_rule = rule()
    values = {b"a": ({"host": "a"}, 95.0), b"b": ({"host": "b"}, 10.0)}
    outcomes = {o.fingerprint: o.step for o in evaluate_rule(alert_rule, values, {}, 5_000)}
    assert outcomes[b"a"].state.state == FIRING and outcomes[b"b"].state.state == OK
    assert outcomes[b"b"].transition is None
    # A series that stops reporting is still evaluated, by the no-data policy.
    later = {o.fingerprint: o.step for o in evaluate_rule(alert_rule, {}, {f: s.state for f, s in outcomes.items()},
                                                          20_000)}
    assert later[b"a"].state.state == NODATA and later[b"a"].state.labels == {"host": "a"}


def test_silences_match_by_rule_and_labels_until_their_end():
    by_labels = Silence(id=1, rule_id=None, matchers=("host=~n.*",), starts_at=0, ends_at=100)
    by_rule = Silence(id=2, rule_id=7, matchers=(), starts_at=0, ends_at=100)
    assert is_muted([by_labels], rule_id=1, labels={"host": "n1"}, now_ms=50)
    assert not is_muted([by_labels], rule_id=1, labels={"host": "x1"}, now_ms=50)
    assert not is_muted([by_labels], rule_id=1, labels={"host": "n1"}, now_ms=100)
    assert is_muted([by_rule], rule_id=7, labels={}, now_ms=99) and not is_muted([by_rule], rule_id=8, labels={},
                                                                                   now_ms=99)


def test_templates_substitute_value_and_labels_and_nothing_else():
    text = "{{ $value }} on {{$labels.host}} {{ $labels.missing }}{{ $labels.__class__ }} {{ 1+1 }} {{ $other }}"
    assert render(text, value=93.5, labels={"host": "n1"}) == "93.5 on n1  {{ 1+1 }} {{ $other }}"
    assert render("{{ $value }}", value=None, labels={}) == "no data"


def test_rule_checks_refuse_what_cannot_work():
    check_rule(rule(recovery_threshold=80.0, matchers=("host=~n.*",)))
    for bad in (dict(recovery_threshold=95.0), dict(comparison="<", threshold=10.0, recovery_threshold=5.0),
                dict(matchers=("host=~(",)), dict(metric="a b"), dict(window_seconds=0), dict(nodata_after=0),
                dict(comparison="==", recovery_threshold=1.0)):
        with pytest.raises(InvalidInput):
            check_rule(rule(**bad))


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"123.{}", hashlib.sha256).hexdigest()
    assert signature("k", "123", b"{}") == expected
    assert verify("k", "123", b"{}", expected) and not verify("k", "124", b"{}", expected)


def test_a_rule_without_any_series_goes_no_data_as_a_whole_and_recovers_when_series_appear():
    alert_rule = rule(nodata_after=2)
    states = {}
    for now in (15_000, 30_000):
        outcomes = evaluate_rule(alert_rule, {}, states, now)
        states = {o.fingerprint: o.step.state for o in outcomes}
    assert list(states) == [RULE_LEVEL] and states[RULE_LEVEL].state == NODATA and states[RULE_LEVEL].labels == {}
    host = fingerprint({"host": "a"})
    outcomes = {o.fingerprint: o.step for o in evaluate_rule(alert_rule, {host: ({"host": "a"}, 10.0)}, states, 45_000)}
    assert outcomes[RULE_LEVEL].state.state == OK and outcomes[RULE_LEVEL].transition.from_state == NODATA
    assert outcomes[host].state.state == OK
    states = {fp: result.state for fp, result in outcomes.items()}
    later = evaluate_rule(alert_rule, {host: ({"host": "a"}, 10.0)}, states, 60_000)
    assert [o.fingerprint for o in later] == [host]  # the settled rule-level state is left alone
