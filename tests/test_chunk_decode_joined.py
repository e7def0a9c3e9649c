"""Several chunks decoded together (chunks.decode_joined, the raw read's path) give exactly what
decoding each alone gives, one after the other, and refuse what decoding each alone refuses (pure
functions, no services)."""

import struct
import zlib

import cramjam
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microdash_core import chunks
from microdash_core.chunks import header, level0, values
from microdash_core.chunks.errors import ChunkError, ChunkVersionError

DECIMALS = st.integers(min_value=-10**9, max_value=10**9).map(lambda n: n / 100)
ANY_FLOAT = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1).map(lambda bits: np.uint64(bits).view(np.float64).item()),
    DECIMALS,
)
FIRST_TS = st.integers(min_value=-(2**40), max_value=2**42)


@st.composite
def regular_chunk(draw):
    """One interval throughout (the common case, built with one arange for all chunks)."""
    count = draw(st.integers(min_value=1, max_value=200))
    first = draw(FIRST_TS)
    interval = draw(st.sampled_from([1, 1_000, 8_640, 10_000, 15_000, 2**20 + 3]))
    value = draw(st.sampled_from([DECIMALS, ANY_FLOAT, st.integers(0, 96).map(float)]))
    ts = first + interval * np.arange(count, dtype=np.int64)
    return ts, np.array(draw(st.lists(value, min_size=count, max_size=count)), dtype=np.float64)


@st.composite
def irregular_chunk(draw):
    """Any timestamps (jitter, gaps, the int64 edges), any values."""
    samples = draw(st.lists(st.tuples(st.integers(min_value=-(2**63), max_value=2**63 - 1), ANY_FLOAT),
                            min_size=1, max_size=200))
    return (np.array([t for t, _ in samples], dtype=np.int64), np.array([v for _, v in samples], dtype=np.float64))


CHUNKS = st.lists(st.one_of(regular_chunk(), irregular_chunk()), min_size=1, max_size=6)


def alone(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The reference: each chunk decoded by itself, one after the other."""
    pairs = [chunks.decode(blob) for blob in blobs]
    return np.concatenate([ts for ts, _ in pairs]), np.concatenate([vs for _, vs in pairs])


def assert_joined_as_alone(blobs: list[bytes]) -> chunks.Joined:
    joined = chunks.decode_joined(blobs)
    want_ts, want_vs = alone(blobs)
    assert joined.timestamps.dtype == np.int64 and joined.values.dtype == np.float64
    assert np.array_equal(joined.timestamps, want_ts)
    assert np.array_equal(joined.values.view(np.uint64), want_vs.view(np.uint64)), "values differ in their bits"
    ends = [(ts[0], ts[-1]) for ts, _ in map(chunks.decode, blobs)]
    assert joined.ascending == all(after[0] > before[1] for before, after in zip(ends, ends[1:]))
    return joined


@settings(max_examples=300, deadline=None)
@given(CHUNKS)
def test_any_chunks_decode_together_as_one_by_one(samples):
    assert_joined_as_alone([chunks.encode(ts, vs) for ts, vs in samples])


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=2, max_value=14), st.integers(min_value=1, max_value=900),
       st.sampled_from([8_640, 10_000]), st.booleans())
def test_a_regular_series_cut_into_windows_decodes_as_one(windows, per_window, interval, decimal):
    ts = 1_764_000_000_000 + interval * np.arange(windows * per_window, dtype=np.int64)
    vs = (np.arange(ts.size) % 97).astype(np.float64) if decimal else np.random.default_rng(3).normal(size=ts.size)
    blobs = [chunks.encode(ts[i:i + per_window], vs[i:i + per_window]) for i in range(0, ts.size, per_window)]
    joined = assert_joined_as_alone(blobs)
    assert joined.ascending and np.array_equal(joined.timestamps, ts)


def test_every_shape_in_one_read():
    """DECIMAL of several widths and decimals, XOR, one-sample and irregular chunks, out of order."""
    base = 1_764_000_000_000
    blobs = [
        chunks.encode(base + 10_000 * np.arange(300), np.arange(300) % 7 * 1.0),  # DECIMAL, 1 byte
        chunks.encode(base + 10_000 * np.arange(300, 600),
                      np.cumsum(np.random.default_rng(4).integers(0, 5_000_000, 300)) / 100),  # DECIMAL, 4 bytes, 2 decimals
        chunks.encode(base + 10_000 * np.arange(600, 700), np.arange(100) * 300.0),  # DECIMAL, 2 bytes
        chunks.encode(np.array([base + 6_000_000]), np.array([0.5])),  # one sample
        chunks.encode(base + 7_000_000 + np.cumsum(np.random.default_rng(1).integers(9_750, 10_250, 400)),
                      np.random.default_rng(2).normal(size=400)),  # jittered, XOR
        chunks.encode(base + 15_000 * np.arange(200), np.round(np.linspace(0, 1, 200), 3)),  # another interval, earlier
        chunks.encode(np.array([base - 5, base + 2**40]), np.array([np.nan, -0.0])),
    ]
    encodings = {header.unpack(blob).value_encoding for blob in blobs}
    widths = {header.unpack(blob).value_width for blob in blobs}
    assert encodings == {values.XOR, values.DECIMAL} and widths == {1, 2, 4, 8}
    assert not assert_joined_as_alone(blobs).ascending
    for blob in blobs:
        assert_joined_as_alone([blob])


def test_chunks_sharing_a_timestamp_section_keep_their_own_first_and_last():
    """Regular chunks of one interval and count have identical timestamp sections (remembered once
    decoded); each still gets its own timestamps, and a header whose last disagrees is refused."""
    first = chunks.encode(1_000 + 10 * np.arange(50), np.zeros(50))
    second = chunks.encode(9_000 + 10 * np.arange(50), np.ones(50))
    assert first[header.HEADER_SIZE:header.HEADER_SIZE + 20] == second[header.HEADER_SIZE:header.HEADER_SIZE + 20]
    assert_joined_as_alone([first, second, first])
    fields = header.unpack(second)
    lying = _with_header(second, last_ts=fields.last_ts + 10)
    for blobs in ([first, lying], [lying]):
        with pytest.raises(ChunkError, match="strictly increasing"):
            chunks.decode_joined(blobs)


def _with_header(blob: bytes, **changes) -> bytes:
    fields = header.unpack(blob)
    sections = blob[header.HEADER_SIZE:]
    ts_section, value_section = sections[:fields.ts_length], sections[fields.ts_length:]
    values_ = {**{name: getattr(fields, name) for name in header.Header.__dataclass_fields__}, **changes}
    return header.pack(header.Header(**values_), ts_section, value_section)


GOOD = chunks.encode(1_764_000_000_000 + 10_000 * np.arange(100), np.arange(100) * 0.5)
LATER = chunks.encode(1_764_002_000_000 + 10_000 * np.arange(100), np.random.default_rng(5).normal(size=100))


def test_any_corruption_of_one_chunk_refuses_the_read():
    for position in range(len(LATER)):
        corrupt = bytearray(LATER)
        corrupt[position] ^= 0x5A
        with pytest.raises(ChunkError):
            chunks.decode_joined([GOOD, bytes(corrupt), GOOD])
    for length in range(len(LATER)):
        with pytest.raises(ChunkError):
            chunks.decode_joined([GOOD, LATER[:length]])


def test_a_crafted_chunk_is_refused_among_good_ones_as_alone():
    """Valid checksums around bad contents: the same refusals as chunks.decode's."""
    newer = _with_crc(GOOD[:4] + bytes([2]) + GOOD[5:])
    with pytest.raises(ChunkVersionError, match="version 2"):
        chunks.decode_joined([LATER, newer])
    bomb = bytes(cramjam.zstd.compress(b"\0" * (64 << 20)))
    fields = header.unpack(GOOD)
    bombed = header.pack(header.Header(fields.ts_width, values.XOR, 8, 0, fields.count, fields.first_ts,
                                       fields.last_ts, fields.ts_length, len(bomb)),
                         GOOD[header.HEADER_SIZE:header.HEADER_SIZE + fields.ts_length], bomb)
    with pytest.raises(ChunkError, match="does not decompress"):
        chunks.decode_joined([GOOD, bombed])
    with pytest.raises(ChunkError, match="unknown value encoding"):
        chunks.decode_joined([GOOD, _with_header(LATER, value_encoding=7)])


def _with_crc(blob: bytes) -> bytes:
    fixed_end = header.HEADER_SIZE - 4
    crc = zlib.crc32(blob[header.HEADER_SIZE:], zlib.crc32(blob[:fixed_end]))
    return blob[:fixed_end] + struct.pack("<I", crc) + blob[header.HEADER_SIZE:]


def test_level0_parts_among_chunks_decode_as_alone():
    part = level0.encode(1_764_001_500_000 + np.arange(100, dtype=np.int64), np.arange(100) * 2.0)
    assert_joined_as_alone([GOOD, part, LATER])
    with pytest.raises(ChunkError):
        chunks.decode_joined([GOOD, part[:-1]])


def test_no_chunks_is_no_samples():
    joined = chunks.decode_joined([])
    assert joined.timestamps.size == 0 and joined.values.size == 0
