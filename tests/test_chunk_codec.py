"""The chunk codec (microdash_core.chunks): exact round trips, last-write-wins merges, and blobs
that cannot be trusted refused with ChunkError (pure functions, no services)."""

import struct
import zlib
from dataclasses import replace

import cramjam
import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from microdash_core import chunks
from microdash_core.chunks import header, values
from microdash_core.chunks.errors import ChunkError, ChunkVersionError

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Every float64 bit pattern (NaN payloads, -0.0, subnormals, ±Inf), plus "nice" floats and decimals.
ANY_FLOAT = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1).map(lambda bits: np.uint64(bits).view(np.float64).item()),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**9, max_value=10**9).map(lambda n: n / 100),
)
SAMPLES = st.lists(st.tuples(INT64, ANY_FLOAT), min_size=1, max_size=300)
SMALL_TS = st.integers(min_value=1_700_000_000_000, max_value=1_700_000_100_000)
CLUSTERED_SAMPLES = st.lists(st.tuples(SMALL_TS, ANY_FLOAT), min_size=1, max_size=300)


def arrays(samples):
    ts = np.array([t for t, _ in samples], dtype=np.int64)
    vs = np.array([v for _, v in samples], dtype=np.float64)
    return ts, vs


def last_write_wins(samples):
    """The reference: one value per timestamp, the last given, in time order."""
    latest = {}
    for ts, value in samples:
        latest[ts] = value
    return arrays(sorted(latest.items()))


def assert_same(got, expected):
    got_ts, got_vs = got
    want_ts, want_vs = expected
    assert got_ts.dtype == np.int64 and got_vs.dtype == np.float64
    assert np.array_equal(got_ts, want_ts)
    assert np.array_equal(got_vs.view(np.uint64), want_vs.view(np.uint64)), "values differ in their bits"


def craft(**overrides) -> bytes:
    """A blob with a valid checksum around whatever header fields and sections are given."""
    ts_section = overrides.pop("ts_section", b"")
    value_section = overrides.pop("value_section", bytes(cramjam.zstd.compress(np.zeros(8, np.uint8).tobytes())))
    fields = dict(ts_width=1, value_encoding=values.XOR, value_width=8, decimals=0, count=1, first_ts=5,
                  last_ts=5, ts_length=len(ts_section), values_length=len(value_section))
    fields.update(overrides)
    return header.pack(header.Header(**fields), ts_section, value_section)


def with_valid_crc(blob: bytes) -> bytes:
    fixed_end = header.HEADER_SIZE - 4
    crc = zlib.crc32(blob[header.HEADER_SIZE:], zlib.crc32(blob[:fixed_end]))
    return blob[:fixed_end] + struct.pack("<I", crc) + blob[header.HEADER_SIZE:]


# ---- round trips --------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(SAMPLES)
def test_any_samples_round_trip_last_write_wins(samples):
    assert_same(chunks.decode(chunks.encode(*arrays(samples))), last_write_wins(samples))


@settings(max_examples=300, deadline=None)
@given(CLUSTERED_SAMPLES)
def test_clustered_timestamps_with_duplicates_round_trip(samples):
    assert_same(chunks.decode(chunks.encode(*arrays(samples))), last_write_wins(samples))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2000), st.integers(min_value=-10**6, max_value=10**6),
       st.sampled_from([0, 1, 2, 3, 6]), st.integers(min_value=0, max_value=2**32))
def test_regular_series_of_decimals_round_trip(count, step, decimals, seed):
    rng = np.random.default_rng(seed)
    ts = 1_764_000_000_000 + np.arange(count, dtype=np.int64) * 10_000 + rng.integers(0, 3, count)
    vs = np.round(np.cumsum(rng.integers(0, abs(step) + 1, count)) / 10**decimals, decimals)
    assert_same(chunks.decode(chunks.encode(ts, vs)), (ts, vs))


@pytest.mark.parametrize("value", [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1.7976931348623157e308,
                                   2.0**53 + 2, -(2.0**63), 0.1, 1e-300])
def test_special_values_round_trip_bit_exactly(value):
    ts = np.array([0, 1, 2], np.int64)
    vs = np.array([value, 1.0, value])
    assert_same(chunks.decode(chunks.encode(ts, vs)), (ts, vs))


@pytest.mark.parametrize("bits", [0x7FF0000000000001, 0x7FF8000000000000, 0xFFF8000000000ABC,
                                  0x7FF7FFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF])
def test_nan_payloads_round_trip_bit_exactly(bits):
    vs = np.array([bits, bits, 0x3FF0000000000000], np.uint64).view(np.float64)
    ts = np.array([10, 20, 30], np.int64)
    assert_same(chunks.decode(chunks.encode(ts, vs)), (ts, vs))


def test_negative_zero_is_not_turned_into_zero():
    _, vs = chunks.decode(chunks.encode(np.array([1, 2]), np.array([-0.0, 0.0])))
    assert np.signbit(vs[0]) and not np.signbit(vs[1])


def test_one_sample():
    blob = chunks.encode(np.array([1_764_000_000_000]), np.array([42.5]))
    assert_same(chunks.decode(blob), (np.array([1_764_000_000_000]), np.array([42.5])))


def test_huge_gaps_and_extreme_timestamps():
    ts = np.array([-(2**63), -1, 0, 2**62, 2**63 - 1], np.int64)
    vs = np.arange(5, dtype=np.float64)
    assert_same(chunks.decode(chunks.encode(ts, vs)), (ts, vs))


def test_out_of_order_input_is_sorted_and_equal_timestamps_keep_the_last():
    ts = np.array([30, 10, 20, 10, 30])
    vs = np.array([3.0, 1.0, 2.0, 1.5, 3.5])
    assert_same(chunks.decode(chunks.encode(ts, vs)), (np.array([10, 20, 30]), np.array([1.5, 2.0, 3.5])))


def test_decimal_values_choose_the_decimal_encoding_and_others_xor():
    ts = np.arange(720, dtype=np.int64) * 10_000
    counter = np.round(123_456.78 + np.cumsum(np.full(720, 1.25)), 2)
    noise = np.random.default_rng(1).normal(0.5, 0.1, 720)
    assert chunks.encode(ts, counter)[7] == values.DECIMAL
    assert chunks.encode(ts, noise)[7] == values.XOR
    assert len(chunks.encode(ts, counter)) < 720 * 2, "a regular decimal counter costs under 2 bytes a sample"


def test_uint64_and_int32_timestamps_are_accepted():
    vs = np.array([1.0, 2.0])
    assert_same(chunks.decode(chunks.encode(np.array([1, 2], np.uint64), vs)), (np.array([1, 2]), vs))
    assert_same(chunks.decode(chunks.encode(np.array([1, 2], np.int32), vs)), (np.array([1, 2]), vs))


# ---- merge --------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(CLUSTERED_SAMPLES, st.lists(st.tuples(SMALL_TS, ANY_FLOAT), max_size=100))
def test_merge_is_last_write_wins_over_stored_then_new(stored, new):
    merged = chunks.merge(chunks.encode(*arrays(stored)), *arrays(new))
    assert_same(chunks.decode(merged), last_write_wins(stored + new))


@settings(max_examples=100, deadline=None)
@given(CLUSTERED_SAMPLES, CLUSTERED_SAMPLES)
def test_redelivered_batch_is_idempotent(stored, batch):
    once = chunks.merge(chunks.encode(*arrays(stored)), *arrays(batch))
    twice = chunks.merge(once, *arrays(batch))
    assert_same(chunks.decode(twice), chunks.decode(once))


def test_merge_replaces_inserts_and_appends():
    blob = chunks.encode(np.array([10, 20, 30]), np.array([1.0, 2.0, 3.0]))
    merged = chunks.merge(blob, np.array([40, 20, 5]), np.array([4.0, 2.5, 0.5]))
    assert_same(chunks.decode(merged), (np.array([5, 10, 20, 30, 40]), np.array([0.5, 1.0, 2.5, 3.0, 4.0])))


def test_merge_of_nothing_keeps_the_chunk():
    blob = chunks.encode(np.array([10, 20]), np.array([1.0, 2.0]))
    assert_same(chunks.decode(chunks.merge(blob, np.array([], np.int64), np.array([]))), chunks.decode(blob))


def test_merge_refuses_a_corrupt_stored_chunk():
    blob = bytearray(chunks.encode(np.array([10, 20]), np.array([1.0, 2.0])))
    blob[-1] ^= 0xFF
    with pytest.raises(ChunkError):
        chunks.merge(bytes(blob), np.array([30]), np.array([3.0]))


# ---- refused input ------------------------------------------------------------------------------

@pytest.mark.parametrize("ts, vs, reason", [
    (np.array([], np.int64), np.array([]), "at least one sample"),
    (np.array([1, 2]), np.array([1.0]), "one length"),
    (np.array([[1]]), np.array([[1.0]]), "1-D"),
    (np.array([1.5]), np.array([1.0]), "integers"),
    (np.array([1]), np.array([1], np.int64), "float64"),
    (np.array([2**64 - 1], np.uint64), np.array([1.0]), "fit int64"),
])
def test_encode_refuses_bad_arrays(ts, vs, reason):
    with pytest.raises(ChunkError, match=reason):
        chunks.encode(ts, vs)


def test_encode_refuses_more_than_a_chunk_holds():
    count = chunks.MAX_CHUNK_SAMPLES + 1
    with pytest.raises(ChunkError, match="more than"):
        chunks.encode(np.arange(count), np.zeros(count))


# ---- corrupt, truncated, oversized and other-version blobs --------------------------------------

REGULAR = chunks.encode(np.arange(500, dtype=np.int64) * 10_000, np.round(np.linspace(0, 99, 500), 1))
NOISY = chunks.encode(np.arange(300, dtype=np.int64) * 997, np.random.default_rng(7).normal(size=300))


@pytest.mark.parametrize("blob", [REGULAR, NOISY], ids=["decimal", "xor"])
def test_every_truncation_is_refused(blob):
    for length in range(len(blob)):
        with pytest.raises(ChunkError):
            chunks.decode(blob[:length])


@pytest.mark.parametrize("blob", [REGULAR, NOISY], ids=["decimal", "xor"])
def test_every_single_byte_corruption_is_refused(blob):
    for position in range(len(blob)):
        corrupt = bytearray(blob)
        corrupt[position] ^= 0x5A
        with pytest.raises(ChunkError):
            chunks.decode(bytes(corrupt))


def test_padding_after_the_sections_is_refused():
    with pytest.raises(ChunkError, match="truncated or padded"):
        chunks.decode(REGULAR + b"\0")


def test_a_declared_count_beyond_the_limit_is_refused_before_any_allocation():
    with pytest.raises(ChunkError, match="declares 4294967295 samples"):
        chunks.decode(craft(count=2**32 - 1))


def test_a_count_larger_than_the_sections_hold_is_refused():
    short = craft(count=2, last_ts=6, ts_section=bytes(cramjam.zstd.compress(b"\x02")),
                  value_section=bytes(cramjam.zstd.compress(b"\0" * 8)))  # 8 of the 16 value bytes
    with pytest.raises(ChunkError, match="holds 8 bytes, the header says 16"):
        chunks.decode(short)


def test_a_decompression_bomb_is_refused_without_inflating_it():
    bomb = bytes(cramjam.zstd.compress(b"\0" * (64 << 20)))  # 64 MiB of zeros in a few KiB
    with pytest.raises(ChunkError, match="does not decompress"):
        chunks.decode(craft(value_section=bomb))


def test_garbage_sections_are_refused():
    with pytest.raises(ChunkError, match="does not decompress"):
        chunks.decode(craft(value_section=b"not zstd at all"))


@pytest.mark.parametrize("overrides, reason", [
    (dict(ts_width=3, count=2, last_ts=6, ts_section=bytes(cramjam.zstd.compress(b"\0\0\0"))), "width 3"),
    (dict(value_encoding=9), "unknown value encoding"),
    (dict(value_width=4), "8-byte values"),
    (dict(decimals=7, value_encoding=values.DECIMAL, value_width=8), "decimals"),
    (dict(last_ts=6), "strictly increasing"),
    (dict(ts_section=b"x"), "no timestamp section"),
])
def test_inconsistent_headers_are_refused(overrides, reason):
    with pytest.raises(ChunkError, match=reason):
        chunks.decode(craft(**overrides))


def test_timestamps_that_do_not_increase_are_refused():
    dod = np.array([0, 0], np.uint8)  # deltas 0, 0: three equal timestamps
    blob = craft(count=3, last_ts=5, ts_section=bytes(cramjam.zstd.compress(dod.tobytes())),
                 value_section=bytes(cramjam.zstd.compress(b"\0" * 24)))
    with pytest.raises(ChunkError, match="strictly increasing"):
        chunks.decode(blob)


def test_bad_magic_is_refused():
    with pytest.raises(ChunkError, match="magic"):
        chunks.decode(with_valid_crc(b"XXXX" + REGULAR[4:]))


def test_another_format_version_is_refused_as_such():
    newer = with_valid_crc(REGULAR[:4] + bytes([2]) + REGULAR[5:])
    with pytest.raises(ChunkVersionError, match="version 2 is not supported"):
        chunks.decode(newer)


def test_flags_unknown_to_version_1_are_refused():
    with pytest.raises(ChunkError, match="flags"):
        chunks.decode(with_valid_crc(REGULAR[:5] + bytes([1]) + REGULAR[6:]))


def test_the_version_is_written_after_the_magic():
    assert REGULAR[:4] == b"MDCK" and REGULAR[4] == chunks.FORMAT_VERSION == 1


# A version-1 blob written by this code on 2026-12-06: later code must keep reading it.
GOLDEN_V1 = bytes.fromhex(
    "4d44434b0100020102020000030000000ae897b69a010000fe3998b69a0100000d0000000f000000a033a313"
    "28b52ffd200421000020a84e0728b52ffd2006310000faf4e1000104")


def test_a_stored_version_1_blob_still_decodes():
    assert_same(chunks.decode(GOLDEN_V1), (np.array([1_764_000_000_010, 1_764_000_010_010, 1_764_000_020_990]),
                                           np.array([1.25, 3.75, -2.5])))


# ---- windows ------------------------------------------------------------------------------------

def test_windows_are_epoch_aligned_for_any_timestamp():
    assert chunks.window_of(0) == 0
    assert chunks.window_of(chunks.WINDOW_MS - 1) == 0
    assert chunks.window_of(chunks.WINDOW_MS) == chunks.WINDOW_MS
    assert chunks.window_of(-1) == -chunks.WINDOW_MS
    start = chunks.window_of(1_764_000_123_456)
    assert start % chunks.WINDOW_MS == 0 and start <= 1_764_000_123_456 < chunks.window_end(start)


def test_a_window_is_sealable_when_over_with_grace_or_full():
    start = chunks.window_of(1_764_000_000_000)
    end = chunks.window_end(start)
    assert not chunks.is_sealable(start, now_ms=end + chunks.SEAL_GRACE_MS - 1, sample_count=10)
    assert chunks.is_sealable(start, now_ms=end + chunks.SEAL_GRACE_MS, sample_count=10)
    assert chunks.is_sealable(start, now_ms=start, sample_count=chunks.SEAL_MAX_SAMPLES)


def _regular_blob(first_ts: int, interval_zigzag: int, count: int, last_ts: int) -> bytes:
    """A crafted chunk whose delta-of-deltas are the first interval and then zeros (one interval)."""
    dod = np.zeros(count - 1, np.uint64)
    dod[0] = interval_zigzag
    planes = np.ascontiguousarray(dod.view(np.uint8).reshape(-1, 8).T).tobytes()
    return craft(count=count, first_ts=first_ts, last_ts=last_ts, ts_width=8,
                 ts_section=bytes(cramjam.zstd.compress(planes)),
                 value_section=bytes(cramjam.zstd.compress(b"\0" * 8 * count)))


@pytest.mark.parametrize("first_ts, interval_zigzag, count, last_ts", [
    (0, 3, 4, -6),  # interval -2 (zigzag 3): decreasing
    (0, 0, 4, 0),  # interval 0: equal timestamps
    (0, 20, 4, 40),  # interval 10, but the header's last is not first + 3 intervals
    (2**63 - 20, 20, 4, 2**63 - 20 + 30 - 2**64),  # wraps past int64: the last "matches" modulo 2^64
])
def test_a_one_interval_chunk_that_does_not_increase_to_its_last_is_refused(first_ts, interval_zigzag, count,
                                                                             last_ts):
    with pytest.raises(ChunkError, match="strictly increasing"):
        chunks.decode(_regular_blob(first_ts, interval_zigzag, count, last_ts))


@pytest.mark.parametrize("first_ts, interval", [(-(2**63), 2**62), (2**63 - 1 - 3 * 7, 7), (-5, 1), (0, 2**63 - 1)])
def test_one_interval_round_trips_up_to_the_int64_edges(first_ts, interval):
    count = 4 if interval < 2**62 else 2
    ts = first_ts + interval * np.arange(count, dtype=object)
    timestamps = np.array([int(t) for t in ts], dtype=np.int64)
    decoded_ts, _ = chunks.decode(chunks.encode(timestamps, np.zeros(count)))
    assert decoded_ts.dtype == np.int64 and decoded_ts.tolist() == timestamps.tolist()


def _recompressed(blob: bytes, compress) -> bytes:
    """The chunk with both sections compressed again by `compress` (a valid checksum around them)."""
    fields = header.unpack(blob)
    ts_raw = cramjam.zstd.decompress(blob[header.HEADER_SIZE:header.HEADER_SIZE + fields.ts_length])
    value_raw = cramjam.zstd.decompress(blob[header.HEADER_SIZE + fields.ts_length:])
    ts_section, value_section = compress(bytes(ts_raw)), compress(bytes(value_raw))
    return header.pack(replace(fields, ts_length=len(ts_section), values_length=len(value_section)),
                       ts_section, value_section)


@pytest.mark.parametrize("blob", [REGULAR, NOISY], ids=["decimal", "xor"])
def test_sections_whose_frames_do_not_declare_their_size_still_decode(blob):
    without_size = zstandard.ZstdCompressor(write_content_size=False)
    assert_same(chunks.decode(_recompressed(blob, without_size.compress)), chunks.decode(blob))


def test_a_bomb_that_does_not_declare_its_size_is_refused_without_inflating_it():
    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * (64 << 20))
    with pytest.raises(ChunkError, match="does not decompress"):
        chunks.decode(craft(value_section=bomb))


def test_data_after_a_sections_frame_is_refused():
    blob = _recompressed(REGULAR, lambda raw: bytes(cramjam.zstd.compress(raw)) + b"\0\0\0\0")
    with pytest.raises(ChunkError, match="does not decompress"):
        chunks.decode(blob)
