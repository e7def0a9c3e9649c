"""The worker's sample store against a real MariaDB, without the queue."""

import uuid

from microdash_core import db
from microdash_core.tenants import directory
from microdash_workers.storage import SampleStore
from support import recent_ms


def test_batch_with_more_new_series_than_the_cache_holds(stack):
    settings = stack.settings.model_copy(update={"series_cache_size": 1000})
    with db.transaction(settings) as cursor:
        tenant = directory.create_tenant(cursor, name=f"s-{uuid.uuid4().hex[:10]}")
    store = SampleStore(settings)
    ts = recent_ms(-60_000)
    samples = [("wide", {"n": str(i)}, ts, float(i)) for i in range(1500)]
    try:
        assert store.store(tenant_id=tenant.id, samples=samples) == 1500
        assert store.store(tenant_id=tenant.id, samples=samples) == 1500  # again: partly cached
    finally:
        store.close()
    assert stack.count_samples(tenant.id) == 1500
    rows = sorted(((labels, value) for _metric, labels, _ts, value in stack.stored_samples_of_series(tenant.id)
                   if labels in ('{"n":"7"}', '{"n":"1499"}')), key=lambda row: row[1])
    assert rows == [('{"n":"7"}', 7.0), ('{"n":"1499"}', 1499.0)]
