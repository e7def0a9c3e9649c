"""The log row's format (microdash_core.chunks.batch): a batch's columns round-trip exactly and in
input order; anything truncated, padded, bit-flipped, of another version or declaring more
samples than allowed is refused with ChunkError before anything is allocated for it."""

import struct
import zlib

import numpy as np
import pytest

from microdash_core.chunks import ChunkError, ChunkVersionError, batch


def _columns(count: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    series = rng.integers(1, 10_000, count).astype(np.int64)
    ts = (1_765_000_000_000 + rng.integers(-10**6, 10**6, count)).astype(np.int64)
    values = rng.normal(0, 1e6, count)
    return series, ts, values


def _with_crc(blob: bytearray) -> bytes:
    """The blob with its checksum recomputed, so that a later check is the one that refuses it."""
    fixed = bytes(blob[:32])
    crc = zlib.crc32(bytes(blob[batch.HEADER_SIZE:]), zlib.crc32(fixed))
    blob[32:36] = struct.pack("<I", crc)
    return bytes(blob)


@pytest.mark.parametrize("count", [1, 2, 5_000, batch.MAX_BATCH_SAMPLES])
def test_columns_round_trip_exactly_in_input_order(count):
    series, ts, values = _columns(count)
    decoded = batch.decode(batch.encode(series, ts, values))
    assert [column.dtype for column in decoded] == [np.int64, np.int64, np.float64]
    assert np.array_equal(decoded[0], series) and np.array_equal(decoded[1], ts)
    assert np.array_equal(decoded[2].view(np.uint64), values.view(np.uint64))


def test_awkward_values_and_extreme_ids_and_timestamps_round_trip_to_the_bit():
    values = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 0.1], dtype=np.float64)
    values[0] = np.frombuffer(struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF), dtype=np.float64)[0]  # a NaN payload
    series = np.array([0, 2**63 - 1, 1, 1, 1, 1, 1], dtype=np.int64)
    ts = np.array([-(2**63), 2**63 - 1, 0, 0, 0, -1, 1], dtype=np.int64)  # duplicates kept, in order
    decoded = batch.decode(batch.encode(series, ts, values))
    assert np.array_equal(decoded[0], series) and np.array_equal(decoded[1], ts)
    assert np.array_equal(decoded[2].view(np.uint64), values.view(np.uint64))


def test_regular_data_compresses():
    series = np.repeat(np.arange(1, 1001, dtype=np.int64), 5)
    ts = np.tile(1_765_000_000_000 + np.arange(5, dtype=np.int64) * 10_000, 1000)
    blob = batch.encode(series, ts, np.ones(5000))
    assert len(blob) < 5000 * 24 / 10


@pytest.mark.parametrize("columns, reason", [
    ((np.array([], np.int64),) * 2 + (np.array([]),), "1 to"),
    ((np.zeros(2, np.int64), np.zeros(3, np.int64), np.zeros(2)), "one length"),
    ((np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64), np.zeros((2, 2))), "1-D"),
    ((np.zeros(batch.MAX_BATCH_SAMPLES + 1, np.int64),) * 2 + (np.zeros(batch.MAX_BATCH_SAMPLES + 1),), "1 to"),
])
def test_bad_columns_are_refused(columns, reason):
    with pytest.raises(ChunkError, match=reason):
        batch.encode(*columns)


def test_truncated_padded_and_flipped_blobs_are_refused():
    blob = batch.encode(*_columns(300))
    for cut in (0, 3, batch.HEADER_SIZE - 1, batch.HEADER_SIZE, len(blob) - 1):
        with pytest.raises(ChunkError):
            batch.decode(blob[:cut])
    with pytest.raises(ChunkError, match="truncated or padded"):
        batch.decode(blob + b"\0")
    for position in (0, 5, 9, 14, 22, 29, 33, batch.HEADER_SIZE + 3, len(blob) - 1):
        flipped = bytearray(blob)
        flipped[position] ^= 0x10
        with pytest.raises(ChunkError):
            batch.decode(bytes(flipped))


def test_another_version_is_refused_as_such():
    blob = bytearray(batch.encode(*_columns(10)))
    blob[4] = 2
    with pytest.raises(ChunkVersionError):
        batch.decode(_with_crc(blob))


def test_a_declared_count_beyond_the_bound_is_refused_before_allocating():
    blob = bytearray(batch.encode(*_columns(10)))
    blob[8:12] = struct.pack("<I", 2**32 - 1)  # ~100 GB if it were believed
    with pytest.raises(ChunkError, match="1 to"):
        batch.decode(_with_crc(blob))


def test_a_payload_that_decompresses_to_another_size_is_refused():
    blob = bytearray(batch.encode(*_columns(10)))
    blob[8:12] = struct.pack("<I", 11)  # one row more than the payload holds
    with pytest.raises(ChunkError, match="holds"):
        batch.decode(_with_crc(blob))


def test_bounds_that_disagree_with_the_timestamps_are_refused():
    blob = bytearray(batch.encode(*_columns(10)))
    first, last = struct.unpack_from("<qq", blob, 12)
    blob[12:20] = struct.pack("<q", first - 1)
    with pytest.raises(ChunkError, match="declared first and last"):
        batch.decode(_with_crc(blob))
    blob[12:28] = struct.pack("<qq", last, first)
    with pytest.raises(ChunkError, match="first timestamp after its last"):
        batch.decode(_with_crc(blob))
