"""A stored batch as one blob: the head's log row (docs/storage.md, "The head").

The batch's samples as three columns, series id (int64), timestamp (int64) and value (float64),
in input order (a later sample of the same series and timestamp wins), split into byte planes and
zstd-compressed. Version 1 header (36 bytes, little-endian):

    offset size field
         0    4 magic "MDBL"
         4    1 format version (1)
         5    1 flags (none in version 1; must be 0)
         6    2 reserved (0)
         8    4 sample count (1..MAX_BATCH_SAMPLES)
        12    8 first (smallest) timestamp
        20    8 last (largest) timestamp
        28    4 payload length
        32    4 CRC-32 of the header's first 32 bytes and the payload
    then the payload: one zstd frame of 24 byte planes (byte i of every row, for i = 0..23)
"""

import cramjam
import numpy as np

from microdash_core.chunks import framing
from microdash_core.chunks.errors import ChunkError

MAGIC = b"MDBL"
FORMAT_VERSION = 1
# Rows per log row at most: 3 MiB decoded, well inside a MEDIUMBLOB and max_allowed_packet
# even if nothing compresses.
MAX_BATCH_SAMPLES = 131_072
# Level 1: the worker pays it on every batch; byte planes already give zstd the long runs.
ZSTD_LEVEL = 1


FRAMING = framing.Framing(noun="batch", short="batch", magic=MAGIC, version=FORMAT_VERSION,
                          layout=framing.ONE_PAYLOAD, fields=framing.OnePayload, max_count=MAX_BATCH_SAMPLES,
                          checks_first_before_last=True)
HEADER_SIZE = FRAMING.header_size
ROW = np.dtype([("series_id", "<i8"), ("ts", "<i8"), ("value", "<f8")])
Columns = tuple[np.ndarray, np.ndarray, np.ndarray]


def encode(series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> bytes:
    """One blob of the samples (three 1-D arrays of one length, 1..MAX_BATCH_SAMPLES)."""
    _checked_length(series_ids, timestamps, values)
    rows = rows_of(series_ids, timestamps, values)
    return encode_rows(rows, int(rows["ts"].min()), int(rows["ts"].max()))


def rows_of(series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The three columns (of one length) as one array of ROW records, the blob's rows before their planes."""
    rows = np.empty(len(series_ids), dtype=ROW)
    rows["series_id"], rows["ts"], rows["value"] = series_ids, timestamps, values
    return rows


def encode_rows(rows: np.ndarray, first_ts: int, last_ts: int) -> bytes:
    """One blob of a contiguous ROW array of 1..MAX_BATCH_SAMPLES records whose smallest and largest
    timestamps are first_ts and last_ts: a caller writing many blobs finds those for all at once."""
    count = rows.size
    if not 1 <= count <= MAX_BATCH_SAMPLES:
        raise ChunkError(f"a batch holds 1 to {MAX_BATCH_SAMPLES} samples, not {count}")
    planes = rows.view(np.uint8).reshape(count, ROW.itemsize).T.tobytes()  # C order of the transpose: planes
    payload = bytes(cramjam.zstd.compress(planes, level=ZSTD_LEVEL))
    return framing.pack(framing.ONE_PAYLOAD, (MAGIC, FORMAT_VERSION, 0, 0, count, first_ts, last_ts, len(payload)),
                        payload)


def decode(blob: bytes) -> Columns:
    """(series ids int64, timestamps int64, values float64) in input order, or ChunkError."""
    blob = bytes(blob)
    count, first_ts, last_ts = _header(blob)
    raw = np.empty(count * ROW.itemsize, dtype=np.uint8)
    try:
        written = cramjam.zstd.decompress_into(blob[HEADER_SIZE:], raw)
    except (cramjam.DecompressionError, ValueError) as error:
        raise ChunkError(f"batch payload does not decompress: {error}") from error
    if written != raw.size:
        raise ChunkError(f"batch payload holds {written} bytes, the header says {raw.size}")
    rows = np.ascontiguousarray(raw.reshape(ROW.itemsize, count).T).view(ROW).reshape(count)
    ts = rows["ts"].copy()
    if int(ts.min()) != first_ts or int(ts.max()) != last_ts:
        raise ChunkError("batch timestamps disagree with the declared first and last: corrupt")
    return rows["series_id"].copy(), ts, rows["value"].copy()


def _checked_length(*columns: np.ndarray) -> int:
    shapes = {np.shape(column) for column in columns}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ChunkError(f"a batch is three 1-D columns of one length, not {sorted(shapes)}")
    count = len(columns[0])
    if not 1 <= count <= MAX_BATCH_SAMPLES:
        raise ChunkError(f"a batch holds 1 to {MAX_BATCH_SAMPLES} samples, not {count}")
    return count


def _header(blob: bytes) -> tuple[int, int, int]:
    """(count, first ts, last ts), after checking what can be checked before decompressing."""
    fixed = framing.unpack(blob, FRAMING)
    return fixed.count, fixed.first_ts, fixed.last_ts
