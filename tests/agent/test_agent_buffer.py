"""The bounded buffer and its on-disk spool."""

import json

import pytest

from microdash_agent.buffer import SampleBuffer
from microdash_agent.spool import Spool


def samples(start: int, stop: int) -> list[str]:
    return [json.dumps({"metric": "seq", "value": float(n), "labels": {}}) for n in range(start, stop)]


def test_samples_leave_only_when_consumed_and_in_order():
    buffer = SampleBuffer(100)
    buffer.extend(samples(0, 5))
    assert buffer.peek(3) == samples(0, 3)
    assert buffer.peek(3) == samples(0, 3)  # peeking twice sends the same batch again
    buffer.consume(3)
    assert buffer.peek(10) == samples(3, 5) and len(buffer) == 2


def test_when_full_the_oldest_are_dropped_and_counted():
    buffer = SampleBuffer(10)
    buffer.extend(samples(0, 8))
    buffer.extend(samples(8, 15))
    assert buffer.peek(100) == samples(5, 15)
    assert buffer.dropped_total == 5


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        SampleBuffer(0)


def test_spool_survives_a_restart_without_resending_acknowledged_samples(tmp_path):
    buffer = SampleBuffer(100, Spool(tmp_path))
    buffer.extend(samples(0, 10))
    buffer.consume(4)
    buffer.extend(samples(10, 12))
    buffer.close()

    restarted = SampleBuffer(100, Spool(tmp_path))
    assert restarted.peek(100) == samples(4, 12)
    restarted.consume(5)
    restarted.extend(samples(12, 13))
    restarted.close()

    assert SampleBuffer(100, Spool(tmp_path)).peek(100) == samples(9, 13)


def test_spool_segments_rotate_and_sent_ones_are_deleted(tmp_path):
    spool = Spool(tmp_path, segment_lines=3)
    buffer = SampleBuffer(100, spool)
    for start in range(0, 9, 3):
        buffer.extend(samples(start, start + 3))
    assert len(list(tmp_path.glob("segment-*.jsonl"))) == 3
    buffer.consume(7)
    assert len(list(tmp_path.glob("segment-*.jsonl"))) == 1
    buffer.consume(2)
    buffer.extend(samples(9, 10))
    buffer.close()
    assert SampleBuffer(100, Spool(tmp_path, segment_lines=3)).peek(100) == samples(9, 10)


def test_a_line_torn_by_a_crash_is_skipped(tmp_path):
    buffer = SampleBuffer(100, Spool(tmp_path))
    buffer.extend(samples(0, 3))
    buffer.close()
    segment = next(tmp_path.glob("segment-*.jsonl"))
    with open(segment, "a") as torn:
        torn.write('{"metric": "seq", "val')

    restarted = SampleBuffer(100, Spool(tmp_path))
    assert restarted.peek(100) == samples(0, 3)
    restarted.consume(2)
    restarted.close()
    assert SampleBuffer(100, Spool(tmp_path)).peek(100) == samples(2, 3)


def test_a_spool_larger_than_the_buffer_loses_its_oldest_samples(tmp_path):
    buffer = SampleBuffer(100, Spool(tmp_path))
    buffer.extend(samples(0, 50))
    buffer.close()
    smaller = SampleBuffer(20, Spool(tmp_path))
    assert smaller.peek(100) == samples(30, 50) and smaller.dropped_total == 30
    smaller.close()
    assert SampleBuffer(100, Spool(tmp_path)).peek(100) == samples(30, 50)


def test_a_fully_sent_spool_leaves_nothing_to_resend(tmp_path):
    buffer = SampleBuffer(100, Spool(tmp_path))
    buffer.extend(samples(0, 5))
    buffer.consume(5)
    buffer.close()
    restarted = SampleBuffer(100, Spool(tmp_path))
    assert len(restarted) == 0
    restarted.extend(samples(5, 6))
    restarted.close()
    assert SampleBuffer(100, Spool(tmp_path)).peek(10) == samples(5, 6)
