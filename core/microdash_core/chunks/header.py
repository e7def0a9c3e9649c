"""The fixed 44-byte header of a chunk (format version 1, little-endian):

    offset size field
         0    4 magic "MDCK"
         4    1 format version (1)
         5    1 flags (none defined in version 1; must be 0)
         6    1 timestamp width: bytes per zigzag delta-of-delta (1, 2, 4 or 8)
         7    1 value encoding (0 XOR, 1 DECIMAL)
         8    1 value width: bytes per value item (8 for XOR; 1, 2, 4 or 8 for DECIMAL)
         9    1 decimals (DECIMAL only, else 0)
        10    2 reserved (0)
        12    4 sample count (1..MAX_CHUNK_SAMPLES)
        16    8 first timestamp (epoch ms)
        24    8 last timestamp
        32    4 timestamp section length
        36    4 value section length
        40    4 CRC-32 of the header's first 40 bytes and both sections
"""

import struct
import zlib
from dataclasses import dataclass

from microdash_core.chunks.errors import ChunkError, ChunkVersionError
from microdash_core.chunks.windows import MAX_CHUNK_SAMPLES

MAGIC = b"MDCK"
FORMAT_VERSION = 1
_LAYOUT = struct.Struct("<4sBBBBBBHIqqII")
HEADER_SIZE = _LAYOUT.size + 4
_CRC = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class Header:
    ts_width: int
    value_encoding: int
    value_width: int
    decimals: int
    count: int
    first_ts: int
    last_ts: int
    ts_length: int
    values_length: int


def pack(header: Header, ts_section: bytes, value_section: bytes) -> bytes:
    fixed = _LAYOUT.pack(MAGIC, FORMAT_VERSION, 0, header.ts_width, header.value_encoding,
                         header.value_width, header.decimals, 0, header.count, header.first_ts,
                         header.last_ts, header.ts_length, header.values_length)
    crc = zlib.crc32(value_section, zlib.crc32(ts_section, zlib.crc32(fixed)))
    return b"".join((fixed, _CRC.pack(crc), ts_section, value_section))


def unpack(blob: bytes) -> Header:
    """The header of blob, after checking what can be checked before decompressing anything."""
    if len(blob) < HEADER_SIZE:
        raise ChunkError(f"chunk of {len(blob)} bytes is shorter than its {HEADER_SIZE}-byte header")
    (magic, version, flags, ts_width, value_encoding, value_width, decimals, reserved, count,
     first_ts, last_ts, ts_length, values_length) = _LAYOUT.unpack_from(blob)
    if magic != MAGIC:
        raise ChunkError("not a chunk: bad magic bytes")
    if version != FORMAT_VERSION:
        raise ChunkVersionError(f"chunk format version {version} is not supported (this code reads {FORMAT_VERSION})")
    if flags or reserved:
        raise ChunkError("chunk sets flags or reserved bits unknown to format version 1")
    if not 1 <= count <= MAX_CHUNK_SAMPLES:
        raise ChunkError(f"chunk declares {count} samples; 1 to {MAX_CHUNK_SAMPLES} are allowed")
    if HEADER_SIZE + ts_length + values_length != len(blob):
        raise ChunkError(f"chunk of {len(blob)} bytes declares {HEADER_SIZE + ts_length + values_length}: truncated or padded")
    (crc,) = _CRC.unpack_from(blob, _LAYOUT.size)
    if zlib.crc32(memoryview(blob)[HEADER_SIZE:], zlib.crc32(memoryview(blob)[:_LAYOUT.size])) != crc:
        raise ChunkError("chunk checksum does not match: corrupt")
    return Header(ts_width, value_encoding, value_width, decimals, count, first_ts, last_ts, ts_length, values_length)
