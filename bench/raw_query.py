"""The 24 h raw query of one series (8,640 points at a 10 s step from 10,000 samples), run by the
rollup scenario on its day: first as the day is (in the head, unless the workers' sealing job has
already sealed some: `in_chunks` says how many samples were in chunks), then after the compactor has
moved the day out of the head's log and the sealer has sealed every window of the day that is over (the store's steady state: only the last window is
left in the head).
"""

from contextlib import closing

from microdash_core import db
from microdash_core.store import compaction, sealing


def raw_day_figures(stack, tenant, day: dict, measure) -> dict:
    """`day` holds metric, start and end; measure(params) times /api/v1/query and summarises."""
    params = {**day, "match": "series=s0", "step": 10_000, "resolution": "raw"}
    as_stored = {**measure(params), "in_chunks": _samples_in_chunks(stack, tenant.id)}
    with closing(stack.connect_db()) as connection:
        compaction.compact_due(connection, tenant_ids=[tenant.id])
        sealed_now = sealing.seal_due(connection, cutoff_ms=day["end"], tenant_ids=[tenant.id])
    sealed = {**measure(params), "in_chunks": _samples_in_chunks(stack, tenant.id),
              "sealed_by_the_bench": sealed_now.samples}
    return {"query_24h_raw_head_ms": as_stored, "query_24h_raw_sealed_ms": sealed}


def _samples_in_chunks(stack, tenant_id: int) -> int:
    with db.transaction(stack.settings) as cursor:
        cursor.execute("SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s", (tenant_id,))
        return int(cursor.fetchone()[0])
