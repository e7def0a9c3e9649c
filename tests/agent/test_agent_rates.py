"""Counter deltas and rates: first reading, counter resets, devices that come and go."""

import pytest

from microdash_agent.rates import CounterDeltas


def test_first_reading_has_no_rate(clock):
    counters = CounterDeltas(clock)
    assert counters.rates({"eth0": (100, 5)}) == {}


def test_rate_is_the_increase_per_second(clock):
    counters = CounterDeltas(clock)
    counters.rates({"eth0": (100, 5)})
    clock.advance(10)
    assert counters.rates({"eth0": (1100, 25)}) == {"eth0": (100.0, 2.0)}


def test_a_counter_going_down_is_skipped_for_that_cycle_only(clock):
    counters = CounterDeltas(clock)
    counters.rates({"eth0": (1000, 50), "eth1": (10, 10)})
    clock.advance(10)
    assert counters.rates({"eth0": (20, 60), "eth1": (110, 10)}) == {"eth1": (10.0, 0.0)}
    clock.advance(5)
    assert counters.rates({"eth0": (70, 60), "eth1": (110, 10)}) == {"eth0": (10.0, 0.0), "eth1": (0.0, 0.0)}


def test_new_and_vanished_keys(clock):
    counters = CounterDeltas(clock)
    counters.rates({"a": (1,)})
    clock.advance(1)
    assert counters.rates({"b": (5,)}) == {}
    clock.advance(1)
    # "a" was forgotten when it was missing from a snapshot, so it starts over.
    assert counters.rates({"a": (9,), "b": (7,)}) == {"b": (2.0,)}


def test_no_time_elapsed_gives_no_rate(clock):
    counters = CounterDeltas(clock)
    counters.rates({"a": (1,)})
    assert counters.rates({"a": (2,)}) == {}


def test_deltas_report_the_elapsed_time(clock):
    counters = CounterDeltas(clock)
    counters.deltas({"cpu": (1.0, 2.0)})
    clock.advance(2.5)
    elapsed, increases = counters.deltas({"cpu": (1.5, 4.0)})
    assert elapsed == 2.5 and increases == {"cpu": pytest.approx((0.5, 2.0))}
