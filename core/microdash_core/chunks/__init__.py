"""Chunks: one series' samples over a time window as one compressed, versioned blob.

The format layer only (docs/storage.md describes the store that will hold these blobs)."""

import numpy as np

from microdash_core.chunks import batch, codec, decoding, level0
from microdash_core.chunks.codec import encode, merge, normalize
from microdash_core.chunks.decoding import Joined
from microdash_core.chunks.errors import ChunkError, ChunkVersionError
from microdash_core.chunks.header import FORMAT_VERSION, HEADER_SIZE
from microdash_core.chunks.windows import (
    LEVEL0_PART_BASE,
    MAX_CHUNK_SAMPLES,
    SEAL_GRACE_MS,
    SEAL_MAX_SAMPLES,
    WINDOW_MS,
    is_level0,
    is_sealable,
    level0_part,
    window_end,
    window_of,
)

__all__ = [
    "ChunkError", "ChunkVersionError", "Joined", "FORMAT_VERSION", "HEADER_SIZE", "LEVEL0_PART_BASE", "MAX_CHUNK_SAMPLES",
    "SEAL_GRACE_MS", "SEAL_MAX_SAMPLES", "WINDOW_MS", "batch", "decode", "decode_joined", "encode", "is_level0", "is_sealable",
    "level0_part", "merge",
    "level0", "normalize", "window_end", "window_of",
]


def decode(blob: bytes) -> tuple:
    """(timestamps int64, values float64) of a stored part: canonical (`encode`) or level-0
    (`level0.encode`, told apart by its magic bytes); ChunkError for anything else."""
    return level0.decode(blob) if level0.is_level0_blob(blob) else codec.decode(blob)


def decode_joined(blobs) -> Joined:
    """The samples of stored parts (a read's sealed parts of one series, in order) one after the
    other, as `decode` gives each: canonical chunks decoded together (decoding.decode_joined),
    ChunkError for anything not a valid part."""
    if not any(level0.is_level0_blob(blob) for blob in blobs):
        return decoding.decode_joined(blobs)
    pairs = [decode(blob) for blob in blobs]
    ascending = all(after[0][0] > before[0][-1] for before, after in zip(pairs, pairs[1:]))
    return Joined(np.concatenate([ts for ts, _vs in pairs]), np.concatenate([vs for _ts, vs in pairs]), ascending)
