"""The level-0 part's format (microdash_core.chunks.level0): samples round-trip to the bit,
chunks.decode reads level-0 and canonical blobs alike, and anything unsorted, truncated, padded,
bit-flipped, of another version or declaring more samples than allowed is refused with ChunkError."""

import struct
import zlib

import numpy as np
import pytest

from microdash_core import chunks
from microdash_core.chunks import ChunkError, ChunkVersionError, level0

TS = 1_765_000_000_000 + np.arange(720, dtype=np.int64) * 10_000


def _with_crc(blob: bytearray) -> bytes:
    fixed = bytes(blob[:32])
    blob[32:36] = struct.pack("<I", zlib.crc32(bytes(blob[level0.HEADER_SIZE:]), zlib.crc32(fixed)))
    return bytes(blob)


@pytest.mark.parametrize("count", [1, 2, 720, chunks.MAX_CHUNK_SAMPLES])
def test_samples_round_trip_to_the_bit_through_chunks_decode(count):
    ts = 1_765_000_000_000 + np.arange(count, dtype=np.int64) * 7
    values = np.random.default_rng(count).normal(0, 1e6, count)
    blob = level0.encode(ts, values)
    for decoded in (level0.decode(blob), chunks.decode(blob)):
        assert [column.dtype for column in decoded] == [np.int64, np.float64]
        assert np.array_equal(decoded[0], ts) and np.array_equal(decoded[1].view(np.uint64), values.view(np.uint64))


def test_awkward_values_and_extreme_timestamps_round_trip():
    values = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, 1.7976931348623157e308], dtype=np.float64)
    ts = np.array([-(2**63), -1, 0, 1, 2**62, 2**63 - 1], dtype=np.int64)
    decoded = chunks.decode(level0.encode(ts, values))
    assert np.array_equal(decoded[0], ts) and np.array_equal(decoded[1].view(np.uint64), values.view(np.uint64))


def test_small_parts_are_stored_uncompressed_and_large_ones_compressed():
    small, large = level0.encode(TS[:63], np.zeros(63)), level0.encode(TS[:64], np.zeros(64))
    assert small[5] == level0.UNCOMPRESSED and len(small) == level0.HEADER_SIZE + 63 * 16
    assert large[5] == 0 and len(large) < level0.HEADER_SIZE + 64 * 16


def test_canonical_chunks_still_decode_and_the_formats_are_told_apart():
    values = np.arange(720) * 0.5
    canonical = chunks.encode(TS, values)
    assert not level0.is_level0_blob(canonical) and level0.is_level0_blob(level0.encode(TS, values))
    ts, vs = chunks.decode(canonical)
    assert np.array_equal(ts, TS) and np.array_equal(vs, values)


@pytest.mark.parametrize("ts, values, reason", [
    (np.array([], np.int64), np.array([]), "1 to"),
    (np.array([2, 1], np.int64), np.array([1.0, 2.0]), "strictly increasing"),
    (np.array([1, 1], np.int64), np.array([1.0, 2.0]), "strictly increasing"),
    (np.array([1, 2], np.int64), np.array([1.0]), "1 to"),
    (np.arange(chunks.MAX_CHUNK_SAMPLES + 1, dtype=np.int64), np.zeros(chunks.MAX_CHUNK_SAMPLES + 1), "1 to"),
])
def test_bad_input_is_refused(ts, values, reason):
    with pytest.raises(ChunkError, match=reason):
        level0.encode(ts, values)


def _corruptions():
    blob = level0.encode(TS, np.arange(720) * 1.0)
    flipped = bytearray(blob)
    flipped[-3] ^= 0x10
    version = bytearray(blob)
    version[4] = 2
    oversized = bytearray(blob)
    oversized[8:12] = struct.pack("<I", chunks.MAX_CHUNK_SAMPLES + 1)
    disordered = bytearray(level0.encode(TS[:2], np.zeros(2)))
    disordered[12:20] = struct.pack("<q", int(TS[1]))
    small = level0.encode(TS[:5], np.arange(5) * 1.0)  # fewer than COMPRESS_FROM: stored as is
    small_flipped = bytearray(small)
    small_flipped[-1] ^= 0x01
    unknown_flag = bytearray(small)
    unknown_flag[5] |= 0x02
    return [
        (small[:-8], ChunkError, "truncated"),
        (bytes(small_flipped), ChunkError, "checksum"),
        (_with_crc(unknown_flag), ChunkError, "flags"),
        (blob[:-1], ChunkError, "truncated"),
        (blob + b"\0", ChunkError, "padded"),
        (blob[:10], ChunkError, "shorter"),
        (bytes(flipped), ChunkError, "checksum"),
        (_with_crc(version), ChunkVersionError, "version 2"),
        (_with_crc(oversized), ChunkError, "declares"),
        (_with_crc(disordered), ChunkError, "increasing"),
    ]


@pytest.mark.parametrize("blob, error, reason", _corruptions())
def test_corrupt_blobs_are_refused(blob, error, reason):
    with pytest.raises(error, match=reason):
        chunks.decode(blob)
