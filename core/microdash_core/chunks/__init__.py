"""Chunks: one series' samples over a time window as one compressed, versioned blob.

The format layer only (docs/storage.md describes the store that will hold these blobs)."""

from microdash_core.chunks import batch
from microdash_core.chunks.codec import decode, encode, merge, normalize
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
    "ChunkError", "ChunkVersionError", "FORMAT_VERSION", "HEADER_SIZE", "LEVEL0_PART_BASE", "MAX_CHUNK_SAMPLES",
    "SEAL_GRACE_MS", "SEAL_MAX_SAMPLES", "WINDOW_MS", "batch", "decode", "encode", "is_level0", "is_sealable",
    "level0_part", "merge",
    "normalize", "window_end", "window_of",
]
