"""The remote-write fast path (decode given the validator) answers exactly as decoding into sample
items and validate_many do: the same samples, drops, errors and decoding errors, on random mutations
of a plain request, with the validator fresh and with it knowing the series already."""

import math
import random

import pytest

from microdash_api.protocols.prometheus_remote_write import (LabelSetCache, UndecodableWrite, decode)
from microdash_core.samples import PlainlyValid, SampleValidator
from microdash_core.settings import Settings
from remote_write_payloads import STALE_MARKER, snappy, with_raw_label, write_request

NOW = 1_800_000_000_000
SETTINGS = Settings(max_labels=3, max_label_value_length=8)
PLAIN = ({"__name__": "up", "job": "node", "host": "a"}, [(NOW - 1_000, 1.0)])


def outcome(body: bytes, validator: SampleValidator, *, fast: bool):
    """(what decode raised) or (samples, errors, drops, series of each item, label sets, fast path taken)."""
    options = {"validator": validator, "now_ms": NOW} if fast else {}
    try:
        decoded = decode(snappy(body), label_sets=LabelSetCache(100), max_decompressed_bytes=1 << 20,
                         max_samples=1000, max_labels=SETTINGS.max_labels, **options)
    except UndecodableWrite as exc:
        return (type(exc), str(exc)), False
    samples, errors = validator.validate_many(decoded.items, now_ms=NOW) if decoded.items else ([], [])
    return ((samples, errors, dict(decoded.dropped), decoded.series_of_item, decoded.label_sets),
            type(decoded.items) is PlainlyValid)


def assert_agrees(body: bytes, known: bytes = b"") -> bool:
    """True if the fast path took the request (it then matches the reference exactly)."""
    validator = SampleValidator(SETTINGS)
    if known:
        outcome(known, validator, fast=True)
    expected, _ = outcome(body, SampleValidator(SETTINGS), fast=False)
    got, took_fast_path = outcome(body, validator, fast=True)
    assert got == expected, body
    if took_fast_path:
        assert all(type(value) is float and math.isfinite(value) for *_, value in got[0])
    return took_fast_path


LABEL_MUTATIONS = [
    lambda labels: labels, lambda labels: {**labels, "__name__": "1up"}, lambda labels: {**labels, "__name__": ""},
    lambda labels: {k: v for k, v in labels.items() if k != "__name__"}, lambda labels: {**labels, "__meta": "x"},
    lambda labels: {**labels, "zone": "z"}, lambda labels: {**labels, "zone": "z", "rack": "r"},
    lambda labels: {**labels, "host": "123456789"}, lambda labels: {**labels, "host": "éééé"},
    lambda labels: {**labels, "host": "ééééé"}, lambda labels: {**labels, "__name__": "m" * 201},
    lambda labels: {**labels, "__name__": "a.b:c"}, lambda labels: {**labels, "9x": "y"},
    lambda labels: {**labels, "n" * 101: "y"}, lambda labels: {**labels, "host": ""},
]
VALUES = [1.0, -0.0, 1e290, -1e290, 1e291, -1e300, math.nan, STALE_MARKER, math.inf, -math.inf, 5e-324]
STAMPS = [NOW - 1_000, NOW, NOW + 10**9, NOW - 10**12, 0, -1, NOW + 300_000, NOW - 3_600_000 * 24 * 366]


def random_request(rng: random.Random) -> list:
    series = []
    for _ in range(rng.randint(1, 4)):
        mutation = rng.choice(LABEL_MUTATIONS) if rng.random() < 0.3 else LABEL_MUTATIONS[0]
        labels = mutation(dict(PLAIN[0], host=rng.choice("ab")))
        count = rng.choice([0, 1, 1, 2, 3])
        plain = rng.random() < 0.7
        samples = [(NOW - 1_000 - n, float(n)) if plain else (rng.choice(STAMPS), rng.choice(VALUES))
                   for n in range(count)]
        series.append((labels, samples))
    return series


@pytest.mark.parametrize("seed", range(40))
def test_random_mutations_agree(seed):
    rng = random.Random(seed)
    taken = 0
    for _ in range(50):
        body = write_request(random_request(rng))
        taken += assert_agrees(body) + assert_agrees(body, known=body)
    assert taken  # the fast path is exercised, not only its fallback


def test_plain_requests_take_the_fast_path():
    body = write_request([PLAIN, ({"__name__": "up", "job": "x"}, [(NOW - 5, 2.0), (NOW - 4, 3.0)])])
    assert assert_agrees(body) and assert_agrees(body, known=body)


def test_drops_alone_still_take_the_fast_path():
    body = write_request([(PLAIN[0], [(NOW - 2, STALE_MARKER), (NOW - 1, 1.0), (NOW, math.nan)]),
                          (PLAIN[0], [(NOW, math.inf)])])
    assert assert_agrees(body)


@pytest.mark.parametrize("raw_label", [b"\x0a\x01a\x12\x02\xff\xfe", b"\xff\xff", b"\x0a\x05a"])
def test_undecodable_labels_agree(raw_label):
    body = with_raw_label({"__name__": "up"}, raw_label, (NOW, 1.0))
    assert not assert_agrees(body)
    assert not assert_agrees(write_request([PLAIN]) + body, known=write_request([PLAIN]))


def test_too_many_labels_agree_after_valid_series():
    many = {"__name__": "up", "a": "1", "b": "2", "c": "3", "d": "4"}
    assert not assert_agrees(write_request([PLAIN, (many, [(NOW, 1.0)])]), known=write_request([PLAIN]))
