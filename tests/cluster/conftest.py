"""The single-node cluster (kubenode.py) for the end-to-end tests: the images are built (cached) and
imported, the node started once per session and stopped, the host put back, at the end."""

import time
from contextlib import contextmanager

import pytest

from kubenode import POD_MEMORY_MIB, TIMINGS, build_images, start_cluster, stop_cluster, stop_cluster_left_behind
from nodebase import run
from nodechains import prefixed_chains

# Stands for the chains other software on the host made (podman's CNI networks): it has the node's
# prefix, and stopping the node must leave it alone.
OTHER_SOFTWARES_CHAIN = "CNI-OTHER-SOFTWARE"


@pytest.fixture(scope="session")
def node(tmp_path_factory):
    stop_cluster_left_behind()  # before the host's chains are noted: a crashed run's are not the host's
    with chains_of_other_software_kept():
        started = time.monotonic()
        images = build_images()
        TIMINGS["images built (cached: seconds)"] = time.monotonic() - started
        started = time.monotonic()
        cluster = start_cluster(tmp_path_factory.mktemp("node"), images=images)
        TIMINGS["cluster start"] = time.monotonic() - started
        yield cluster
        stop_cluster()


@contextmanager
def chains_of_other_software_kept():
    """After the node stopped, the host has exactly the chains with the node's prefixes it had before."""
    _remove_chain(OTHER_SOFTWARES_CHAIN)  # a run killed mid-way (a full disk once) left it behind
    run(["iptables", "-N", OTHER_SOFTWARES_CHAIN])
    try:
        run(["iptables", "-A", OTHER_SOFTWARES_CHAIN, "-j", "RETURN"])
        before = prefixed_chains()
        yield
        after = prefixed_chains()
    finally:
        _remove_chain(OTHER_SOFTWARES_CHAIN)
    assert after == before, f"removed: {sorted(before - after)}, left behind: {sorted(after - before)}"


def _remove_chain(chain: str) -> None:
    run(["iptables", "-F", chain], check=False)
    run(["iptables", "-X", chain], check=False)


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("cluster timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
    if POD_MEMORY_MIB:
        terminalreporter.section("pod memory at rest (working set)")
        for pod, mib in sorted(POD_MEMORY_MIB.items()):
            terminalreporter.write_line(f"{pod}: {mib:.0f} MiB")
