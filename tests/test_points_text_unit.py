"""One series' points JSON written from its two arrays is, byte for byte, what orjson writes for
the Python pairs (the API's definition of the body), whatever the arrays hold: random and edge
values, every path of the writer (plain join, float text, integral text, values of very different
widths placed in groups), starts of one width or of several, negative starts."""

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microdash_api import points_text
from microdash_api.points_text import points_json

DAY_START = 1_764_000_000_000
# Starts are drawn as hundreds of integers: on a loaded CI machine generating them can trip the
# health checks about slow or large data, which say nothing about the writer.
GENEROUS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                          HealthCheck.large_base_example])
PLACED = points_text.SMALL + 88  # enough points for the numpy writer
EDGE_VALUES = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e300,
                        1.7976931348623157e308, -1.7976931348623157e308, 1e16, -1e16, 9999999999999998.0,
                        -9999999999999998.0, 2.0**53, 2.0**53 + 2, 1e15, 1e-7, 0.1, -1.5, 123456789.123, 1e21, 1e22,
                        3.14159e-300, 1.2345678901234567e-5, 42.0, -7.0])


def _reference(starts: np.ndarray, values: np.ndarray) -> bytes:
    return orjson.dumps(list(zip(starts.tolist(), values.tolist())))


def _written(starts: np.ndarray, values: np.ndarray) -> bytes:
    text = points_json(starts, values)
    assert isinstance(text, bytes | memoryview)
    return bytes(text)


def _regular_starts(count: int, spacing: int = 10_000, first: int = DAY_START) -> np.ndarray:
    return first + np.arange(count, dtype=np.int64) * spacing


def _placed(starts: np.ndarray) -> bool:
    """Whether the writer places these starts as fixed-width rows (else it joins)."""
    return len(starts) >= points_text.SMALL and points_text._common_width(starts) is not None


def _check(starts: np.ndarray, values: np.ndarray) -> None:
    assert _written(starts, values) == _reference(starts, values)


@pytest.mark.parametrize("count", [0, 1, 2, 3, points_text.SMALL - 1, points_text.SMALL, points_text.SMALL + 1, 1000,
                                   8640])
def test_random_floats_and_integral_values_at_every_size(count):
    rng = np.random.default_rng(count)
    starts = _regular_starts(count)
    for values in (rng.standard_normal(count), rng.standard_normal(count) * 10.0 ** rng.integers(-30, 30, count),
                   (np.arange(count) % 97).astype(np.float64), np.round(rng.standard_normal(count) * 1e6),
                   np.round(rng.standard_normal(count) * 100, 1), np.full(count, 42.0), np.zeros(count)):
        _check(starts, values)


def test_edge_values_in_every_position_and_mixed_with_integral_ones():
    rng = np.random.default_rng(13)
    for repeat in range(20):
        values = rng.permutation(np.concatenate((EDGE_VALUES, (np.arange(100) % 7).astype(np.float64))))
        _check(_regular_starts(len(values)), values)
    for value in EDGE_VALUES:  # one odd value among integral ones: not written as integers
        values = np.arange(PLACED, dtype=np.float64)
        values[137] = value
        _check(_regular_starts(PLACED), values)
        values[0], values[-1] = value, value
        _check(_regular_starts(PLACED), values)


def test_nan_payloads_and_every_float_width_one_after_another():
    payloads = np.array([0x7FF8_0000_0000_0001, 0xFFF0_0000_0000_0001, 0x7FF0_0000_0000_0001], np.uint64)
    values = np.tile(np.concatenate((payloads.view(np.float64), [1.0, -1.2345678901234567e-300, 0.0])), 50)
    _check(_regular_starts(len(values)), values)


def test_integral_values_up_to_where_orjson_writes_an_exponent():
    rng = np.random.default_rng(16)
    bound = 10**16
    values = rng.integers(-bound + 1, bound, 5000).astype(np.float64)
    values[:8] = [bound - 2, -(bound - 2), 2**53, 2**53 + 2, -(2**53), 1e15, -1e15, 0]
    _check(_regular_starts(5000), values)
    values[100] = 1e16  # "1e+16": the values are written as floats
    _check(_regular_starts(5000), values)
    values[100] = -0.0  # "-0.0": likewise
    _check(_regular_starts(5000), values)


def test_starts_of_several_widths_negative_and_extreme():
    rng = np.random.default_rng(7)
    values = rng.standard_normal(PLACED)
    row = np.arange(PLACED, dtype=np.int64)
    for starts in (row - PLACED // 2,                                 # mixed signs and widths
                   row * 7 + 999_000,                                 # 6 then 7 digits
                   -DAY_START - row,                                  # negative, one width
                   row % 10,                                          # one digit (the narrowest rows)
                   np.full(PLACED, 2**63 - 1, dtype=np.int64), np.full(PLACED, -(2**63), dtype=np.int64),
                   np.sort(rng.integers(DAY_START, DAY_START + 86_400_000, PLACED))):
        _check(starts, values)
        _check(starts, np.round(values * 1000))


def test_arrays_of_other_layouts_and_dtypes():
    starts = _regular_starts(2 * PLACED)
    values = np.linspace(-5, 5, 2 * PLACED)
    _check(starts[::2], values[::2])  # strided views
    _check(starts[::-1].copy()[::-1], values[::-1])
    _check((starts // 1000).astype(np.int32), values.astype(np.float32))  # seconds, single precision


def test_fixed_width_starts_take_the_placed_rows_and_others_the_join():
    """The cases above reach both writers (else a broken placement could hide behind the join)."""
    assert _placed(_regular_starts(points_text.SMALL))
    assert isinstance(points_json(_regular_starts(PLACED), np.zeros(PLACED)), memoryview)
    assert isinstance(points_json(_regular_starts(PLACED), np.full(PLACED, 0.5)), memoryview)
    assert not _placed(np.arange(PLACED, dtype=np.int64) - PLACED // 2)
    assert not _placed(_regular_starts(points_text.SMALL - 1))


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
INTEGRAL = st.integers(min_value=-(10**16), max_value=10**16).map(float)
SHORT = st.sampled_from([0.0, -0.0, 1.0, 0.5, -2.0, 96.0, 1e-300, 12345.678])
VALUES = st.lists(st.one_of(FLOATS, INTEGRAL, SHORT), min_size=1, max_size=60)
COUNTS = st.integers(min_value=0, max_value=2 * points_text.SMALL)


@settings(GENEROUS, max_examples=300)
@given(VALUES, COUNTS, st.integers(min_value=-(10**15), max_value=10**15), st.integers(min_value=1, max_value=10**9))
def test_any_values_any_regular_starts(values, count, first, spacing):
    _check(_regular_starts(count, spacing, first), np.resize(np.array(values, dtype=np.float64), count))


@st.composite
def _starts(draw, count: int) -> np.ndarray:
    """Starts of one width (digits and sign), or of any int64."""
    digits = draw(st.integers(min_value=0, max_value=19))
    if not digits:
        return np.array(draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=count, max_size=count)), np.int64)
    low, high = (0 if digits == 1 else 10 ** (digits - 1)), min(10**digits - 1, 2**63 - 1)
    sign = draw(st.sampled_from([1, -1]))
    return sign * np.array(draw(st.lists(st.integers(low, high), min_size=count, max_size=count)), np.int64)


@settings(GENEROUS, max_examples=200)
@given(st.data(), st.lists(st.one_of(INTEGRAL, SHORT, FLOATS), min_size=1, max_size=30),
       st.integers(min_value=points_text.SMALL, max_value=points_text.SMALL + 300))
def test_any_starts_with_any_values(data, values, count):
    _check(data.draw(_starts(count)), np.resize(np.array(values, dtype=np.float64), count))
