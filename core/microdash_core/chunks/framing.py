"""The header checks the three blob formats share: a canonical chunk (header.py), a level-0 part
(level0.py) and a log batch (batch.py). Each header is fixed little-endian fields (magic, format
version, flags, ..., a sample count, first and last timestamps, its sections' lengths), then the
CRC-32 of those fields and the sections. `unpack` reads and checks them in one place, so the three
formats refuse a bad blob alike, each naming itself, before anything is decompressed.
"""

import functools
import struct
import zlib
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from microdash_core.chunks.errors import ChunkError, ChunkVersionError

_CRC = struct.Struct("<I")
_COPY_AT_MOST = 4096


class Fixed(Protocol):
    """A format's fixed fields by name (a NamedTuple); body_length is its sections' total."""
    magic: bytes
    version: int
    flags: int
    reserved: int
    count: int

    @property
    def body_length(self) -> int: ...


class OnePayload(NamedTuple):
    """The fixed fields of a header over one payload (a level-0 part, a log batch)."""
    magic: bytes
    version: int
    flags: int
    reserved: int
    count: int
    first_ts: int
    last_ts: int
    payload_length: int

    @property
    def body_length(self) -> int:
        return self.payload_length


ONE_PAYLOAD = struct.Struct("<4sBBHIqqI")


@dataclass(frozen=True)
class Framing:
    noun: str  # names the blob: "chunk", "batch", "level-0 part"
    short: str  # names its format version and checksum: "chunk", "batch", "level-0"
    magic: bytes
    version: int
    layout: struct.Struct  # the fixed fields, before the CRC
    fields: type[NamedTuple]
    max_count: int
    known_flags: int = 0
    # A batch refuses first > last before its checksum; a chunk's timestamps are checked decoded.
    checks_first_before_last: bool = False

    @functools.cached_property
    def header_size(self) -> int:
        return self.layout.size + _CRC.size


def unpack(blob: bytes, framing: Framing) -> Fixed:
    """The fixed fields of blob's header, after checking its size, magic, version, flags and
    reserved bits, sample count, total length and checksum; ChunkError (ChunkVersionError for
    another version) naming the format otherwise."""
    noun, size = framing.noun, framing.header_size
    if len(blob) < size:
        raise ChunkError(f"{noun} of {len(blob)} bytes is shorter than its {size}-byte header")
    fixed = framing.fields._make(framing.layout.unpack_from(blob))
    if fixed.magic != framing.magic:
        raise ChunkError(f"not a {noun}: bad magic bytes")
    if fixed.version != framing.version:
        raise ChunkVersionError(f"{framing.short} format version {fixed.version} is not supported"
                                f" (this code reads {framing.version})")
    if fixed.flags & ~framing.known_flags or fixed.reserved:
        raise ChunkError(f"{noun} sets flags or reserved bits unknown to format version {framing.version}")
    if not 1 <= fixed.count <= framing.max_count:
        raise ChunkError(f"{noun} declares {fixed.count} samples; 1 to {framing.max_count} are allowed")
    if size + fixed.body_length != len(blob):
        raise ChunkError(f"{noun} of {len(blob)} bytes declares {size + fixed.body_length}: truncated or padded")
    if framing.checks_first_before_last and fixed.first_ts > fixed.last_ts:
        raise ChunkError(f"{noun} declares a first timestamp after its last")
    fixed_size = framing.layout.size
    (crc,) = _CRC.unpack_from(blob, fixed_size)
    # A small blob's slices cost less than memoryviews (a read checks a dozen chunks of ~100 bytes);
    # a large one (a log batch) is not copied.
    body = blob[size:] if len(blob) <= _COPY_AT_MOST else memoryview(blob)[size:]
    if zlib.crc32(body, zlib.crc32(blob[:fixed_size])) != crc:
        raise ChunkError(f"{framing.short} checksum does not match: corrupt")
    return fixed


def pack(layout: struct.Struct, fields: tuple, *sections: bytes) -> bytes:
    """The blob: the fixed fields, their CRC-32 with the sections', then the sections."""
    fixed = layout.pack(*fields)
    crc = zlib.crc32(fixed)
    for section in sections:
        crc = zlib.crc32(section, crc)
    return b"".join((fixed, _CRC.pack(crc), *sections))
