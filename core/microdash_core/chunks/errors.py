"""The codec's domain errors: a blob that cannot be trusted is refused, never half-decoded."""


class ChunkError(ValueError):
    """The input or blob is not a valid chunk (corrupt, truncated, oversized or badly shaped)."""


class ChunkVersionError(ChunkError):
    """The blob was written by a format version this code does not read."""
