"""The three blob formats (canonical chunk, level-0 part, log batch) share one header check
(microdash_core.chunks.framing): each refuses the same damage in the same order, with a message
naming its own format, before anything is decompressed."""

import struct
import zlib

import numpy as np
import pytest

from microdash_core import chunks
from microdash_core.chunks import ChunkError, ChunkVersionError, batch, framing, header, level0

TS = 1_765_000_000_000 + np.arange(100, dtype=np.int64) * 10_000
VALUES = np.arange(100) * 0.25

FORMATS = {
    "chunk": (header.FRAMING, chunks.encode(TS, VALUES), chunks.decode),
    "level-0 part": (level0.FRAMING, level0.encode(TS, VALUES), level0.decode),
    "batch": (batch.FRAMING, batch.encode(np.arange(100, dtype=np.int64) % 7, TS, VALUES), batch.decode),
}


def _resealed(blob: bytes, at: int, value: int, framing_: framing.Framing) -> bytes:
    """The blob with one header byte set and its checksum recomputed: the check after the CRC's
    is the one that has to refuse it."""
    damaged = bytearray(blob)
    damaged[at] = value
    fixed_size = framing_.layout.size
    crc = zlib.crc32(bytes(damaged[framing_.header_size:]), zlib.crc32(bytes(damaged[:fixed_size])))
    damaged[fixed_size:framing_.header_size] = struct.pack("<I", crc)
    return bytes(damaged)


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_refuses_the_same_damage_naming_itself(name):
    framing_, blob, decode = FORMATS[name]
    noun, short = framing_.noun, framing_.short
    assert decode(blob)[-1].tolist() == VALUES.tolist()
    refusals = [
        (blob[:framing_.header_size - 1], ChunkError, f"{noun} of {framing_.header_size - 1} bytes is shorter"),
        (_resealed(blob, 0, ord("X"), framing_), ChunkError, f"not a {noun}: bad magic bytes"),
        (_resealed(blob, 4, 2, framing_), ChunkVersionError, f"{short} format version 2 is not supported"),
        (_resealed(blob, 5, 0x80, framing_), ChunkError, f"{noun} sets flags or reserved bits"),
        (blob[:-1], ChunkError, f"{noun} of {len(blob) - 1} bytes declares {len(blob)}: truncated or padded"),
        (blob + b"\0", ChunkError, "truncated or padded"),
        (blob[:-1] + bytes([blob[-1] ^ 1]), ChunkError, f"{short} checksum does not match"),
    ]
    for damaged, error, message in refusals:
        with pytest.raises(error, match=message):
            decode(damaged)
        with pytest.raises(error, match=message):
            framing.unpack(damaged, framing_)


@pytest.mark.parametrize("name", FORMATS)
def test_a_count_past_the_formats_bound_is_refused_before_its_length(name):
    framing_, blob, decode = FORMATS[name]
    count_at = 12 if name == "chunk" else 8
    damaged = bytearray(blob)
    damaged[count_at:count_at + 4] = struct.pack("<I", framing_.max_count + 1)
    with pytest.raises(ChunkError, match=f"declares {framing_.max_count + 1} samples; 1 to {framing_.max_count}"):
        framing.unpack(bytes(damaged), framing_)


def test_only_a_batch_refuses_a_first_timestamp_after_its_last_in_its_header():
    def first_after_last(name: str) -> bytes:
        framing_, blob, _ = FORMATS[name]
        damaged = blob
        for at, byte in enumerate(struct.pack("<q", int(TS[-1]) + 1), start=12):
            damaged = _resealed(damaged, at, byte, framing_)
        return damaged

    with pytest.raises(ChunkError, match="batch declares a first timestamp after its last"):
        batch.decode(first_after_last("batch"))
    framing.unpack(first_after_last("level-0 part"), level0.FRAMING)  # its timestamps are checked decoded
    with pytest.raises(ChunkError, match="strictly increasing"):
        level0.decode(first_after_last("level-0 part"))
