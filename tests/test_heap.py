"""The collector setting of the long-running processes (microdash_core.heap, docs/decisions.md):
startup's objects frozen, young collections every YOUNG_THRESHOLD allocations, the older
generations' thresholds kept; used by the api, the workers and the bridge."""

import gc
import inspect

from microdash_api import server
from microdash_bridge import bridge
from microdash_core import heap
from microdash_workers import worker


def test_startup_objects_are_frozen_and_young_ones_collected_less_often():
    thresholds = gc.get_threshold()
    try:
        heap.collect_garbage_less_often()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *thresholds[1:])
        assert heap.YOUNG_THRESHOLD > thresholds[0]
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cyclic garbage is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_the_api_the_workers_and_the_bridge_set_it_at_startup():
    for starts in (server.create_served_app, worker.run_worker, bridge.run_bridge):
        assert "heap.collect_garbage_less_often()" in inspect.getsource(starts), starts
    assert server.APP == "microdash_api.server:create_served_app"
