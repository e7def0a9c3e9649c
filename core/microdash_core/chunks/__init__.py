"""Chunks: one series' samples over a time window as one compressed, versioned blob.

The format layer only (docs/storage.md describes the store that will hold these blobs)."""

from microdash_core.chunks import batch, codec, level0
from microdash_core.chunks.codec import encode, merge, normalize
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
    "level0", "normalize", "window_end", "window_of",
]


def decode(blob: bytes) -> tuple:
    """(timestamps int64, values float64) of a stored part: canonical (`encode`) or level-0
    (`level0.encode`, told apart by its magic bytes); ChunkError for anything else."""
    return level0.decode(blob) if level0.is_level0_blob(blob) else codec.decode(blob)
