"""The raw-JSON fast path (SampleValidator.accept_json) accepts only what decoding with orjson and
validate_many accepts, and yields the very same samples; anything else it leaves to them."""

import random

import orjson
import pytest

from microdash_core.samples import SampleValidator
from microdash_core.settings import Settings

NOW = 1_800_000_000_000
GOOD = b'{"metric":"cpu.usage","value":1.5,"ts":%d,"labels":{"host":"a","zone":"z1"}}' % NOW


def reference(validator: SampleValidator, body: bytes, *, single: bool = False):
    """What the endpoints did before the fast path: orjson, then validate_many; None if not JSON."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return validator.validate_many([decoded] if single else decoded, now_ms=NOW)


def assert_agrees(body: bytes, *, single: bool = False, settings: Settings | None = None) -> bool:
    """Both on a fresh validator and on one that knows the names already; True if accepted."""
    accepted = False
    for warm in (False, True):
        validator = SampleValidator(settings or Settings(max_labels=3, max_label_value_length=8))
        if warm:
            reference(validator, b"[" + GOOD + b"]")
        fast = validator.accept_json(body, single=single, now_ms=NOW)
        expected = reference(SampleValidator(validator.settings), body, single=single)
        if fast is not None:
            assert expected is not None and expected[1] == [], (body, expected)
            assert list(fast) == expected[0], body
            assert [type(value) for *_, value in fast] == [float] * len(fast)
            assert validator.validate_many(fast, now_ms=NOW) == (fast, [])
            accepted = True
    return accepted


CASES = [
    b"[" + GOOD + b"]",
    b'[{"metric":"m","value":1}]', b'[{"metric":"m","value":-0}]', b'[{"metric":"m","value":-0.0}]',
    b'[{"metric":"m","value":1,"metric":"n"}]', b'[{"metric":"m","value":1,"labels":{"a":"b","a":"c"}}]',
    b'[{"metric":"m","value":1e400}]', b'[{"metric":"m","value":' + b"9" * 30 + b"}]",
    b'[{"metric":"m","value":' + b"9" * 400 + b"}]", b'[{"metric":"m","value":18446744073709551616}]',
    b'[{"metric":"m","value":9007199254740993}]', b'[{"metric":"m","value":1e291}]', b'[{"metric":"m","value":1e290}]',
    b'[{"metric":"m","value":true}]', b'[{"metric":"m","value":"1"}]', b'[{"metric":"m","value":null}]',
    b'[{"metric":"m"}]', b'[{"value":1}]', b'[{"metric":"m","value":1,"extra":1}]',
    b'[{"metric":"m","value":1,"ts":1.0}]', b'[{"metric":"m","value":1,"ts":%d}]' % (NOW + 10**9),
    b'[{"metric":"m","value":1,"ts":' + b"9" * 30 + b"}]", b'[{"metric":"m","value":1,"ts":null}]',
    b'[{"metric":"m","value":1,"labels":null}]', b'[{"metric":"m","value":1,"labels":{}}]',
    b'[{"metric":"m","value":1,"labels":[]}]', b'[{"metric":"m","value":1,"labels":{"a":1}}]',
    b'[{"metric":"m","value":1,"labels":{"__a":"b"}}]', b'[{"metric":"m","value":1,"labels":{"a":"123456789"}}]',
    b'[{"metric":"m","value":1,"labels":{"a":"1","b":"2","c":"3","d":"4"}}]',
    b'[{"metric":"m","value":1,"labels":{"a":"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"}}]',
    b'[{"metric":"m","value":1,"labels":{"a":"\\ud800"}}]', b'[{"metric":"m","value":1,"labels":{"a":"\xff"}}]',
    b'[{"metric":"m","value":1,"labels":{"a":"\\u0001"}}]', b'[{"metric":"m\\u00e9","value":1}]',
    b'[{"metric":"\xff","value":1}]', b'[{"metric":"1m","value":1}]', b'[{"metric":"","value":1}]',
    b'[{"metric":"' + b"m" * 201 + b'","value":1}]', b'[{"metric":"m","value":NaN}]', b'[{"metric":"m","value":1,}]',
    b'[{"metric":"m","value":1}] x', b' [ {"metric":"m","value":1} ] \n', b'\xef\xbb\xbf[{"metric":"m","value":1}]',
    b'[\x0c{"metric":"m","value":1}]', b'[{"metric":"m","value":01}]', b'[{"metric":"m","value":1,"labels":{"a":"x\ty"}}]',
    b"[]", b"{}", b"null", b"", b"[1]", b"[null]", b'["m"]', b'[[]]', b'[{"metric":"m","value":1}, 5]',
    b'[{"metric":"m","value":1,"labels":' + b"[" * 2000 + b"]" * 2000 + b"}]",
]


@pytest.mark.parametrize("body", CASES, ids=lambda body: repr(body[:60]))
def test_edge_cases_agree_with_orjson_and_validate_many(body):
    assert_agrees(body)


@pytest.mark.parametrize("body", [GOOD, b'{"metric":"m","value":2}', b'{"metric":"m"}', b"[" + GOOD + b"]", b"{", b"5"])
def test_single_bodies_agree(body):
    assert_agrees(body, single=True)


def test_plain_bodies_take_the_fast_path():
    validator = SampleValidator(Settings())
    assert validator.accept_json(b"[" + GOOD + b"," + GOOD + b"]", now_ms=NOW) is not None
    assert validator.accept_json(GOOD, single=True, now_ms=NOW) is not None


def test_too_many_samples_are_left_to_validate_many():
    body = b"[" + b",".join([GOOD] * 3) + b"]"
    settings = Settings(max_bulk_samples=2)
    assert SampleValidator(settings).accept_json(body, now_ms=NOW) is None
    assert assert_agrees(b"[" + GOOD + b"]", settings=settings)


def test_random_mutations_of_a_valid_body_agree():
    """Bytes flipped, dropped and repeated: whatever the fast path accepts, the reference accepts alike."""
    rng = random.Random(13)
    base = b"[" + GOOD + b',{"metric":"m2","value":-3,"labels":{"k":"v"}},{"metric":"m","value":2.5e3}]'
    alphabet = b'{}[]",:0123456789.-+eE \\uabcnrtl_\x00\xff\xc3\xa9'
    accepted = 0
    for _ in range(3000):
        body = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(body))
            choice = rng.random()
            if choice < 0.4:
                body[position] = rng.choice(alphabet)
            elif choice < 0.7:
                del body[position]
            else:
                body[position:position] = bytes([rng.choice(alphabet)])
        accepted += assert_agrees(bytes(body))
    assert accepted > 100  # the mutations must also exercise the accepting side


def test_the_label_set_cache_is_bounded_by_count_and_by_text(monkeypatch):
    import microdash_core.samples as samples_module

    monkeypatch.setattr(samples_module, "KNOWN_LABEL_SETS_LIMIT", 10)
    monkeypatch.setattr(samples_module, "KNOWN_LABEL_TEXT_LIMIT", 400)
    validator = SampleValidator(Settings())
    for n in range(100):
        body = b'[{"metric":"m","value":1,"labels":{"k":"%d"}}]' % n
        assert validator.accept_json(body, now_ms=NOW)[0][1] == {"k": str(n)}
        assert len(validator._known_label_sets) <= 10
    for n in range(20):
        body = b'[{"metric":"m","value":1,"labels":{"k":"%s"}}]' % (b"%03d" % n * 30)
        assert validator.accept_json(body, now_ms=NOW) is not None
        assert validator._known_label_text <= 400
