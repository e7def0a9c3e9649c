"""The single-node cluster (kubenode.py) for the end-to-end tests: the images are built (cached) and
imported, the node started once per session and stopped, the host put back, at the end."""

import time

import pytest

from kubenode import POD_MEMORY_MIB, TIMINGS, build_images, start_cluster, stop_cluster


@pytest.fixture(scope="session")
def node(tmp_path_factory):
    started = time.monotonic()
    images = build_images()
    TIMINGS["images built (cached: seconds)"] = time.monotonic() - started
    started = time.monotonic()
    cluster = start_cluster(tmp_path_factory.mktemp("node"), images=images)
    TIMINGS["cluster start"] = time.monotonic() - started
    yield cluster
    stop_cluster()


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("cluster timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
    if POD_MEMORY_MIB:
        terminalreporter.section("pod memory at rest (working set)")
        for pod, mib in sorted(POD_MEMORY_MIB.items()):
            terminalreporter.write_line(f"{pod}: {mib:.0f} MiB")
