"""The general compressor behind both sections (zstd), bounded on the way back: the decoder knows
the exact decoded size from the header and never lets a frame grow past it.

Sections are written by cramjam and read by python-zstandard with one decompression context per
thread, reused: cramjam sets a new context up for every call, ~8 µs of a chunk section's ~9 µs
(a day of one series is 12 chunks, 24 sections; a PromQL read of 100 series 2,400). A frame
declares its decoded size (zstd writes it for a one-shot compression); it is compared with the
header's before anything is allocated, and a frame without it is read the bounded way cramjam
reads into a buffer of the header's size.
"""

import threading

import cramjam
import numpy as np
import zstandard

from microdash_core.chunks.errors import ChunkError

# Level 3 measured best per CPU second among 1, 3 and 9 (bench/chunk_codec.py).
ZSTD_LEVEL = 3
_contexts = threading.local()


def compress(raw: np.ndarray) -> bytes:
    return bytes(cramjam.zstd.compress(raw.tobytes(), level=ZSTD_LEVEL))


def decompress(section: bytes, *, dtype: np.dtype, count: int) -> np.ndarray:
    """Exactly `count` items of `dtype` from `section`, or ChunkError. The array may be read-only."""
    return np.frombuffer(decompressed(section, count * np.dtype(dtype).itemsize), dtype=dtype)


def decompressed(section: bytes, size: int, *, what: str = "chunk section") -> bytes:
    """Exactly `size` bytes from `section` (one zstd frame, nothing after it), or ChunkError naming
    `what` was read."""
    try:
        declared = zstandard.frame_content_size(section)
    except zstandard.ZstdError as error:
        raise ChunkError(f"{what} does not decompress: {error}") from error
    if declared == -1:  # a frame that does not declare its size
        return _bounded(section, size=size, what=what)
    if declared > size:
        raise ChunkError(f"{what} does not decompress to the header's {size} bytes: its frame declares {declared}")
    if declared < size:
        raise ChunkError(f"{what} holds {declared} bytes, the header says {size}")
    try:
        raw = _decompressor().decompress(section, max_output_size=size, allow_extra_data=False)
    except zstandard.ZstdError as error:
        raise ChunkError(f"{what} does not decompress: {error}") from error
    if len(raw) != size:
        raise ChunkError(f"{what} holds {len(raw)} bytes, the header says {size}")
    return raw


def _decompressor() -> zstandard.ZstdDecompressor:
    # a context is not safe to share between threads (the workers' sealer and readers may use threads)
    decompressor = getattr(_contexts, "decompressor", None)
    if decompressor is None:
        decompressor = _contexts.decompressor = zstandard.ZstdDecompressor()
    return decompressor


def _bounded(section: bytes, *, size: int, what: str) -> bytes:
    out = np.empty(size, dtype=np.uint8)
    try:
        written = cramjam.zstd.decompress_into(section, out)
    except (cramjam.DecompressionError, ValueError) as error:
        raise ChunkError(f"{what} does not decompress: {error}") from error
    if written != out.size:
        raise ChunkError(f"{what} holds {written} bytes, the header says {out.size}")
    return out.tobytes()
