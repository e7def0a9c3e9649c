"""The race scaffolding of the sealing and reclaim tests (seal_support) can fail: a mover that
raises in its thread fails the test, and the writes' newest value of a key is its largest."""

import random
import time

import pytest

from seal_support import Rewrites, repeated_in_background


def test_what_the_background_step_raises_is_raised_when_the_block_ends(stack):
    steps = []

    def step(connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        steps.append(1)
        if len(steps) == 3:
            raise LookupError("the mover failed")

    with pytest.raises(LookupError, match="the mover failed"):
        with repeated_in_background(stack.settings, step):
            while len(steps) < 3:
                time.sleep(0.01)
    assert len(steps) == 3  # it stopped at its failure


def test_the_blocks_own_failure_comes_first_and_the_step_is_stopped(stack):
    steps = []
    with pytest.raises(KeyError):
        with repeated_in_background(stack.settings, lambda connection: steps.append(connection.ping())):
            while not steps:
                time.sleep(0.01)
            raise KeyError("the test's own")
    count = len(steps)
    assert count and len(steps) == count


def test_rewrites_keep_each_keys_last_and_largest_value():
    writes = Rewrites(random.Random(1), metric="m", label="k", series=3, timestamp=lambda rng: rng.randrange(4))
    batch = writes.batch(50) + [(metric, labels, sample["ts"], sample["value"]) for sample in writes.body(50)
                                for metric, labels in [(sample["metric"], sample["labels"])]]
    last: dict = {}
    for metric, labels, ts, value in batch:
        assert metric == "m" and list(labels) == ["k"]
        assert value > last.get((labels["k"], ts), 0)
        last[(labels["k"], ts)] = value
    assert writes.written == last and len(last) == 12  # every key re-written
