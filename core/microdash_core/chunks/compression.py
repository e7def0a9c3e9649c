"""The general compressor behind both sections (zstd through cramjam), bounded on the way back:
the decoder knows the exact decoded size from the header and never lets a frame grow past it."""

import cramjam
import numpy as np

from microdash_core.chunks.errors import ChunkError

# Level 3 measured best per CPU second among 1, 3 and 9 (bench/chunk_codec.py).
ZSTD_LEVEL = 3


def compress(raw: np.ndarray) -> bytes:
    return bytes(cramjam.zstd.compress(raw.tobytes(), level=ZSTD_LEVEL))


def decompress(section: bytes, *, dtype: np.dtype, count: int) -> np.ndarray:
    """Exactly `count` items of `dtype` from `section`, or ChunkError."""
    out = np.empty(count * np.dtype(dtype).itemsize, dtype=np.uint8)
    try:
        written = cramjam.zstd.decompress_into(section, out)
    except (cramjam.DecompressionError, ValueError) as error:
        raise ChunkError(f"chunk section does not decompress: {error}") from error
    if written != out.size:
        raise ChunkError(f"chunk section holds {written} bytes, the header says {out.size}")
    return out.view(dtype)
