"""Raw samples (sealed chunks plus the head) on an asyncmy cursor, through microdash_core.store.reads.

The samples are counted first (whole chunks count whole) and a read past the budget is refused
before anything is decoded: chunks are blobs, so unlike the SQL aggregation this replaced, every
sample of the range comes into the process.
"""

import logging
from functools import partial

from microdash_core import chunks
from microdash_core.store import reads

from .sql import execute_as_text
from .telemetry import UNREADABLE_CHUNK_READS

log = logging.getLogger(__name__)


class TooManySamples(Exception):
    """The range holds more raw samples than one query may load."""


class SampleDecodeError(Exception):
    """A stored chunk could not be decoded (corrupt, or written by a newer format version); the
    message names the chunk (series, window, part)."""


async def read_raw_samples(cursor, *, tenant_id: int, series_ids: list[int], span: reads.Span,
                           max_samples: int, timeout_seconds: float | None = None) -> dict[int, reads.Arrays]:
    """(timestamps ascending, values) per series with samples in the span; each statement ends
    after timeout_seconds (MariaDB's max_statement_time) when given. Raises TooManySamples past
    max_samples and SampleDecodeError for a chunk that cannot be decoded."""
    if not series_ids or span.last_ms < span.first_ms:
        return {}
    selection = {"tenant_id": tenant_id, "series_ids": series_ids, "span": span, "timeout_seconds": timeout_seconds}
    execute = cursor.execute if timeout_seconds is None else partial(execute_as_text, cursor)
    await execute(*reads.count_statement(**selection))
    (count,), = await cursor.fetchall()
    counted = int(count or 0)
    if counted > max_samples:
        raise TooManySamples(f"the range holds more than {max_samples} raw samples")
    if not counted:
        return {}
    for shape in reads.shapes_for(counted):
        await execute(*reads.statements(**selection, shape=shape))
        try:
            return reads.assemble(await cursor.fetchall(), span, series_ids=series_ids)
        except reads.TextBoundReached:
            continue
        except chunks.ChunkError as exc:
            raise SampleDecodeError(str(exc)) from exc
    raise AssertionError("unreachable: a read of rows has no text bound")


def unreadable_chunk_reported(exc: SampleDecodeError, *, api: str, tenant_id: int) -> str:
    """Logs and counts a query that met an undecodable chunk (stored data the server cannot read:
    its fault, not the query's); returns the message its 500 answer gives, naming the chunk."""
    log.error("stored samples could not be decoded", extra={"tenant_id": tenant_id, "api": api, "reason": str(exc)})
    UNREADABLE_CHUNK_READS.labels(api=api).inc()
    return f"stored samples could not be decoded ({exc})"
