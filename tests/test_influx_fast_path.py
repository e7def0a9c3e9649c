"""The line-protocol fast path (decode given the validator) answers exactly as decoding into sample
items and validate_many do: the same samples, lines, skipped fields, errors and decoding errors, on
random mutations of plain lines, with the validator fresh and with it knowing the series already."""

import math
import random

import pytest

from microdash_api.protocols import influx_line_protocol
from microdash_core.samples import PlainlyValid, SampleValidator
from microdash_core.settings import Settings

NOW = 1_800_000_000_000
SETTINGS = Settings(max_labels=3, max_label_value_length=8)
PLAIN = f"cpu,host=a,zone=z1 usage=1.5,idle=2i {NOW - 1_000}"


def outcome(body: bytes, validator: SampleValidator, *, fast: bool, max_samples: int = 1000):
    options = {"validator": validator, "now_ms": NOW} if fast else {}
    try:
        decoded = influx_line_protocol.decode(body, precision="ms", max_samples=max_samples, **options)
    except (influx_line_protocol.LineError, influx_line_protocol.TooManySamples) as exc:
        return (type(exc), str(exc)), False
    samples, errors = validator.validate_many(decoded.items, now_ms=NOW) if decoded.items else ([], [])
    return ((samples, errors, decoded.lines, decoded.skipped_string_fields),
            type(decoded.items) is PlainlyValid)


def assert_agrees(body: bytes, known: bytes = b"", max_samples: int = 1000) -> bool:
    """True if the fast path took the body (it then matches the reference exactly)."""
    validator = SampleValidator(SETTINGS)
    if known:
        outcome(known, validator, fast=True)
    expected, _ = outcome(body, SampleValidator(SETTINGS), fast=False, max_samples=max_samples)
    got, took_fast_path = outcome(body, validator, fast=True, max_samples=max_samples)
    assert got == expected, body
    if took_fast_path:
        assert all(type(value) is float and math.isfinite(value) for *_, value in got[0])
    return took_fast_path


MUTATIONS = [
    lambda line: line, lambda line: line.replace("host=a", "__host=a"), lambda line: line.replace("host=a", "host-x=a"),
    lambda line: line.replace("host=a", "host=a,host_x=b"), lambda line: line.replace("host=a", "host-x=a,host_x=b"),
    lambda line: line.replace("host=a", "host=123456789"), lambda line: line.replace("host=a", "host=éééé"),
    lambda line: line.replace("host=a", "host=ééééé"), lambda line: line.replace("host=a", "host=a,b=1,c=2"),
    lambda line: line.replace("cpu", "1cpu"), lambda line: line.replace("cpu", "c" * 201),
    lambda line: line.replace("cpu", "cpu\\ x"), lambda line: line.replace("usage=1.5", "usage=1e291"),
    lambda line: line.replace("usage=1.5", "usage=-1e290"), lambda line: line.replace("usage=1.5", 'usage="s"'),
    lambda line: line.replace("usage=1.5", "usage=t"), lambda line: line.replace("usage=1.5", "usage=9223372036854775807i"),
    lambda line: line.replace("usage=1.5", "usage=1e309"), lambda line: line.replace("usage=1.5", "usage=nan"),
    lambda line: line.replace(f" {NOW - 1_000}", ""), lambda line: line.replace(f"{NOW - 1_000}", f"{NOW + 10**9}"),
    lambda line: line.replace(f"{NOW - 1_000}", "0"), lambda line: line.replace(f"{NOW - 1_000}", "x"),
    lambda line: line.replace("usage=1.5,idle=2i", 'note="a b"'), lambda line: "# comment",
    lambda line: line.replace("host=a", "host=a\\,b"), lambda line: line.replace(" usage", "usage"),
]


@pytest.mark.parametrize("seed", range(40))
def test_random_mutations_agree(seed):
    rng = random.Random(seed)
    taken = 0
    for _ in range(40):
        lines = [(rng.choice(MUTATIONS) if rng.random() < 0.3 else MUTATIONS[0])(PLAIN.replace("host=a", f"host={h}"))
                 for h in rng.choices("ab", k=rng.randint(1, 4))]
        body = "\n".join(lines).encode()
        taken += assert_agrees(body) + assert_agrees(body, known=body) + assert_agrees(body, max_samples=3)
    assert taken  # the fast path is exercised, not only its fallback


def test_plain_bodies_take_the_fast_path():
    body = f"{PLAIN}\n\n# c\n{PLAIN.replace('host=a', 'host=b')}\n".encode()
    assert assert_agrees(body) and assert_agrees(body, known=body)


@pytest.mark.parametrize("body", [b"\xff", b"cpu", f"{PLAIN}\ncpu x=".encode(), b"cpu,a=b x=1 1\n\xfe"])
def test_undecodable_bodies_agree(body):
    assert not assert_agrees(body)
