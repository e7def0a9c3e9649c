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
from dataclasses import dataclass
from typing import NamedTuple

from microdash_core.chunks import framing
from microdash_core.chunks.windows import MAX_CHUNK_SAMPLES

MAGIC = b"MDCK"
FORMAT_VERSION = 1
_LAYOUT = struct.Struct("<4sBBBBBBHIqqII")


class _Fixed(NamedTuple):
    magic: bytes
    version: int
    flags: int
    ts_width: int
    value_encoding: int
    value_width: int
    decimals: int
    reserved: int
    count: int
    first_ts: int
    last_ts: int
    ts_length: int
    values_length: int

    @property
    def body_length(self) -> int:
        return self.ts_length + self.values_length


FRAMING = framing.Framing(noun="chunk", short="chunk", magic=MAGIC, version=FORMAT_VERSION, layout=_LAYOUT,
                          fields=_Fixed, max_count=MAX_CHUNK_SAMPLES)
HEADER_SIZE = FRAMING.header_size


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
    fields = (MAGIC, FORMAT_VERSION, 0, header.ts_width, header.value_encoding, header.value_width, header.decimals,
              0, header.count, header.first_ts, header.last_ts, header.ts_length, header.values_length)
    return framing.pack(_LAYOUT, fields, ts_section, value_section)


def fixed(blob: bytes) -> _Fixed:
    """The header's fields as read (no copy into a Header), after the checks `unpack` makes: what
    a decoder reads for every chunk."""
    return framing.unpack(blob, FRAMING)


def unpack(blob: bytes) -> Header:
    """The header of blob, after checking what can be checked before decompressing anything."""
    fixed = framing.unpack(blob, FRAMING)
    return Header(fixed.ts_width, fixed.value_encoding, fixed.value_width, fixed.decimals, fixed.count,
                  fixed.first_ts, fixed.last_ts, fixed.ts_length, fixed.values_length)
