"""Raw samples (sealed chunks plus the head) on an aiomysql cursor, through microdash_core.store.reads.

The samples are counted first (whole chunks count whole) and a read past the budget is refused
before anything is decoded: chunks are blobs, so unlike the SQL aggregation this replaced, every
sample of the range comes into the process.
"""

from microdash_core.store import reads


class TooManySamples(Exception):
    """The range holds more raw samples than one query may load."""


async def read_raw_samples(cursor, *, tenant_id: int, series_ids: list[int], span: reads.Span,
                           max_samples: int, timeout_seconds: float | None = None) -> dict[int, reads.Arrays]:
    """(timestamps ascending, values) per series with samples in the span; each statement ends
    after timeout_seconds (MariaDB's max_statement_time) when given."""
    if not series_ids or span.last_ms < span.first_ms:
        return {}
    selection = {"tenant_id": tenant_id, "series_ids": series_ids, "span": span, "timeout_seconds": timeout_seconds}
    await cursor.execute(*reads.count_statement(**selection))
    (count,), = await cursor.fetchall()
    counted = int(count or 0)
    if counted > max_samples:
        raise TooManySamples(f"the range holds more than {max_samples} raw samples")
    if not counted:
        return {}
    for shape in reads.shapes_for(counted):
        await cursor.execute(*reads.statements(**selection, shape=shape))
        try:
            return reads.assemble(await cursor.fetchall(), span)
        except reads.TextBoundReached:
            continue
    raise AssertionError("unreachable: a read of rows has no text bound")
