"""The bridge's garbage-collector setting (docs/decisions.md): startup's objects frozen, young
collections every GC_YOUNG_THRESHOLD allocations, the older generations' thresholds kept."""

import gc

from microdash_workers.bridge import GC_YOUNG_THRESHOLD, collect_garbage_less_often


def test_the_bridge_freezes_startup_objects_and_collects_young_ones_less_often():
    thresholds = gc.get_threshold()
    try:
        collect_garbage_less_often()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *thresholds[1:])
        assert GC_YOUNG_THRESHOLD > thresholds[0]
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cyclic garbage is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
