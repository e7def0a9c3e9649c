"""Chunks: one series' samples over a time window as one compressed, versioned blob.

The format layer only (docs/storage.md describes the store that will hold these blobs)."""

from microdash_core.chunks.codec import decode, encode, merge, normalize
from microdash_core.chunks.errors import ChunkError, ChunkVersionError
from microdash_core.chunks.header import FORMAT_VERSION, HEADER_SIZE
from microdash_core.chunks.windows import (
    MAX_CHUNK_SAMPLES,
    SEAL_GRACE_MS,
    SEAL_MAX_SAMPLES,
    WINDOW_MS,
    is_sealable,
    window_end,
    window_of,
)

__all__ = [
    "ChunkError", "ChunkVersionError", "FORMAT_VERSION", "HEADER_SIZE", "MAX_CHUNK_SAMPLES",
    "SEAL_GRACE_MS", "SEAL_MAX_SAMPLES", "WINDOW_MS", "decode", "encode", "is_sealable", "merge",
    "normalize", "window_end", "window_of",
]
