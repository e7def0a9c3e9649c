"""A level-0 part's blob: one series' samples as written by the log's compaction (docs/storage.md,
"The head").

Level-0 parts are short-lived (the sealer re-encodes a window's parts canonically once it is
over) and numerous under the common load (many series, few samples each), so their encoding costs
what it must and no more: no delta-of-delta, no DECIMAL probe, no narrowing. The timestamps and
the values as raw little-endian arrays (int64 then float64), sorted by time with one sample per
timestamp, in one zstd frame; a part of fewer than COMPRESS_FROM samples stores them as they are
(flag 1): zstd saves little on a few hundred bytes and costs ~13 µs a call, more than the rest of
the encoding. Version 1 header (36 bytes, little-endian):

    offset size field
         0    4 magic "MDL0"
         4    1 format version (1)
         5    1 flags: 1 = the payload is not compressed; no other bit is defined
         6    2 reserved (0)
         8    4 sample count (1..MAX_CHUNK_SAMPLES)
        12    8 first timestamp
        20    8 last timestamp
        28    4 payload length
        32    4 CRC-32 of the header's first 32 bytes and the payload
    then the payload: count int64 timestamps followed by count float64 values, in one zstd frame
    unless flag 1 is set
"""

import cramjam
import numpy as np

from microdash_core.chunks import compression, framing
from microdash_core.chunks.errors import ChunkError
from microdash_core.chunks.windows import MAX_CHUNK_SAMPLES

MAGIC = b"MDL0"
FORMAT_VERSION = 1
# Level 1: a part lives minutes; the canonical encoding compresses it properly when sealed.
ZSTD_LEVEL = 1
COMPRESS_FROM = 64
UNCOMPRESSED = 1
Samples = tuple[np.ndarray, np.ndarray]


FRAMING = framing.Framing(noun="level-0 part", short="level-0", magic=MAGIC, version=FORMAT_VERSION,
                          layout=framing.ONE_PAYLOAD, fields=framing.OnePayload, max_count=MAX_CHUNK_SAMPLES,
                          known_flags=UNCOMPRESSED)
HEADER_SIZE = FRAMING.header_size


def encode(timestamps: np.ndarray, values: np.ndarray) -> bytes:
    """The blob of samples already sorted by time and unique (compaction's groups are): int64
    timestamps, float64 values, 1..MAX_CHUNK_SAMPLES of them. Anything else is a ChunkError."""
    ts = np.ascontiguousarray(timestamps, dtype="<i8")
    vs = np.ascontiguousarray(values, dtype="<f8")
    if ts.ndim != 1 or ts.shape != vs.shape or not 1 <= ts.size <= MAX_CHUNK_SAMPLES:
        raise ChunkError(f"a level-0 part is 1 to {MAX_CHUNK_SAMPLES} timestamps and as many values")
    if ts.size > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        raise ChunkError("a level-0 part's timestamps must be strictly increasing")
    payload = ts.tobytes() + vs.tobytes()
    flags = UNCOMPRESSED
    if ts.size >= COMPRESS_FROM:
        payload, flags = bytes(cramjam.zstd.compress(payload, level=ZSTD_LEVEL)), 0
    fields = (MAGIC, FORMAT_VERSION, flags, 0, int(ts.size), int(ts[0]), int(ts[-1]), len(payload))
    return framing.pack(framing.ONE_PAYLOAD, fields, payload)


def decode(blob: bytes) -> Samples:
    """(timestamps int64, values float64) or ChunkError for anything not a valid level-0 part."""
    blob = bytes(blob)
    count, first_ts, last_ts, flags = _header(blob)
    if flags & UNCOMPRESSED:
        raw = np.frombuffer(blob, dtype=np.uint8, offset=HEADER_SIZE)
        if raw.size != count * 16:
            raise ChunkError(f"level-0 payload holds {raw.size} bytes, the header says {count * 16}")
    else:  # with the reused context of chunk sections: cramjam sets one up per call, most of a small part's decode
        payload = compression.decompressed(blob[HEADER_SIZE:], count * 16, what="level-0 payload")
        raw = np.frombuffer(payload, dtype=np.uint8)
    ts = raw[:count * 8].view("<i8").astype(np.int64)
    vs = raw[count * 8:].view("<f8").astype(np.float64)
    if int(ts[0]) != first_ts or int(ts[-1]) != last_ts or (count > 1 and not bool(np.all(ts[1:] > ts[:-1]))):
        raise ChunkError("level-0 timestamps are not strictly increasing from the declared first to last: corrupt")
    return ts, vs


def is_level0_blob(blob: bytes) -> bool:
    return bytes(blob[:4]) == MAGIC


def _header(blob: bytes) -> tuple[int, int, int, int]:
    fixed = framing.unpack(blob, FRAMING)
    return fixed.count, fixed.first_ts, fixed.last_ts, fixed.flags
