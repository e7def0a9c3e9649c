"""Raw samples (sealed chunks plus the head) on an aiomysql cursor, through microdash_core.store.reads.

The samples are counted first (whole chunks count whole) and a read past the budget is refused
before anything is decoded: chunks are blobs, so unlike the SQL aggregation this replaced, every
sample of the range comes into the process.
"""

from microdash_core.store import reads


class TooManySamples(Exception):
    """The range holds more raw samples than one query may load."""


async def read_raw_samples(cursor, *, tenant_id: int, series_ids: list[int], span: reads.Span,
                           max_samples: int) -> dict[int, reads.Arrays]:
    """(timestamps ascending, values) per series with samples in the span."""
    if not series_ids or span.last_ms < span.first_ms:
        return {}
    sql, params = reads.count_statement(tenant_id=tenant_id, series_ids=series_ids, span=span)
    await cursor.execute(sql, params)
    (count,), = await cursor.fetchall()
    if int(count) > max_samples:
        raise TooManySamples(f"the range holds more than {max_samples} raw samples")
    if not count:
        return {}
    for shape in ("texts", "rows"):
        sql, params = reads.statements(tenant_id=tenant_id, series_ids=series_ids, span=span, shape=shape)
        await cursor.execute(sql, params)
        try:
            return reads.assemble(await cursor.fetchall(), span)
        except reads.TextBoundReached:
            continue
    raise AssertionError("unreachable: a read of rows has no text bound")
