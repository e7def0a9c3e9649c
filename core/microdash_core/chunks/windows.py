"""The sealing policy, a proposal for the chunked store (docs/storage.md): which window a sample
belongs to and when a head is sealed into a chunk.

Windows are aligned to the epoch so that every writer and reader derives the same window from a
timestamp alone, with no coordination. 2 h holds 720 samples at the usual 10 s interval: enough
for the general compressor to find repetition, small enough that a late sample re-encodes little.
"""

WINDOW_MS = 2 * 3_600_000
# A series faster than one sample every ~0.9 s splits its window into several chunks.
SEAL_MAX_SAMPLES = 8_192
# A window is sealed once no sample for it is expected any more: its end plus this grace.
SEAL_GRACE_MS = 10 * 60_000
# What the decoder accepts at most (8 bytes per timestamp and per value: 2 MiB decoded).
MAX_CHUNK_SAMPLES = 131_072


def window_of(ts: int) -> int:
    """The start (epoch ms) of the window that holds ts; floor division so negatives align too."""
    return ts - ts % WINDOW_MS


def window_end(window_start: int) -> int:
    return window_start + WINDOW_MS


def is_sealable(window_start: int, *, now_ms: int, sample_count: int) -> bool:
    """Seal when the window (plus the grace for late samples) is over, or the head is full."""
    return sample_count >= SEAL_MAX_SAMPLES or now_ms >= window_end(window_start) + SEAL_GRACE_MS

# Parts of a window: canonical parts 0..k (sealed) and level-0 parts from the log's compaction,
# numbered from here up so that they sort after (win over) every canonical part.
LEVEL0_PART_BASE = 1 << 32
# A level-0 part number: the largest log id of its compaction (unique, grows with write order),
# times this, plus the piece (a group of more than SEAL_MAX_SAMPLES samples is written in pieces).
LEVEL0_PIECES = 1 << 16


def level0_part(log_id: int, piece: int = 0) -> int:
    if not 0 <= piece < LEVEL0_PIECES:
        raise ValueError(f"piece {piece} out of range")
    return LEVEL0_PART_BASE + log_id * LEVEL0_PIECES + piece


def is_level0(part: int) -> bool:
    return part >= LEVEL0_PART_BASE
