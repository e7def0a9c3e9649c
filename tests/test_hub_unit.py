"""The SSE fan-out's per-client buffer: ordering across replay and live, bounded memory."""

import asyncio

from microdash_api.hub import LiveHub, Subscriber, parse_id
from microdash_core import live
from microdash_core.batches import Batch
from microdash_core.settings import Settings


def make(cursor="0-0", size=10, transform=None):
    return Subscriber(tenant_id=1, cursor=parse_id(cursor), queue=asyncio.Queue(size), transform=transform)


def drain(subscriber):
    items = []
    while not subscriber.queue.empty():
        items.append(subscriber.queue.get_nowait())
    return items


def test_live_entries_during_replay_are_delivered_after_it_without_duplicates():
    subscriber = make("5-0")
    subscriber.offer("7-0", b"live-7")  # arrives while the replay query runs
    subscriber.offer("8-0", b"live-8")
    subscriber.finish_replay([("6-0", b"r6"), ("7-0", b"r7")])
    subscriber.offer("8-0", b"again-8")
    subscriber.offer("9-0", b"live-9")
    assert drain(subscriber) == [("6-0", b"r6"), ("7-0", b"r7"), ("8-0", b"live-8"), ("9-0", b"live-9")]


def test_entries_at_or_before_the_cursor_are_skipped():
    subscriber = make("10-3")
    subscriber.finish_replay([])
    for entry in ("10-2", "10-3", "9-9", "10-4"):
        subscriber.offer(entry, entry.encode())
    assert drain(subscriber) == [("10-4", b"10-4")]


def test_a_slow_client_is_dropped_and_its_backlog_freed():
    subscriber = make(size=3)
    subscriber.finish_replay([])
    for n in range(1, 10):
        subscriber.offer(f"{n}-0", b"x" * 1000)
    assert subscriber.dropped
    assert drain(subscriber) == [None]  # only the end-of-stream marker is kept


def test_transform_filters_entries():
    subscriber = make(transform=lambda data: None if data == b"skip" else data.upper())
    subscriber.finish_replay([("1-0", b"skip"), ("2-0", b"keep")])
    assert drain(subscriber) == [("2-0", b"KEEP")]


def test_each_entry_is_encoded_once_for_all_clients_and_an_unreadable_one_is_skipped():
    hub = LiveHub(redis=None, settings=Settings())
    first, second = make(), make()
    hub.positions[1] = "0-0"
    hub.subscribers[1] = {first, second}
    for subscriber in (first, second):
        subscriber.finish_replay([])
    batch = Batch(1, "b" * 32, 1_000, [("cpu", '{"host":"a"}', 1_001, 0.5)]).encode()
    hub._dispatch(1, [(b"1-0", {live.BATCH_FIELD: batch}), (b"2-0", {live.BATCH_FIELD: b"\x99not a batch"}),
                      (b"3-0", {b"other": b"x"}), (b"4-0", {live.POINTS_FIELD: b'[{"metric":"old"}]'})])
    delivered = [drain(subscriber) for subscriber in (first, second)]
    assert delivered[0] == delivered[1] == [
        ("1-0", b'[{"metric":"cpu","labels":{"host":"a"},"ts":1001,"value":0.5}]'),
        ("4-0", b'[{"metric":"old"}]')]
    assert delivered[0][0][1] is delivered[1][0][1]  # one encoding shared by the clients
    assert hub.positions[1] == "4-0"
