"""The compose stack (compose_stack.py) for tests/compose: the images built (cached), then
`podman-compose up -d` once per module; the tests end with `down`, and a crashed run's leftovers
are removed before the next `up`."""

import subprocess
import time

import pytest
from compose_stack import (REPO, TIMINGS, ComposeStack, read_sysctls, remove_network_leftovers, stop_stale_dns,
                           write_sysctls)

from microdash_cli.localstack import free_port


@pytest.fixture(scope="module")
def compose_stack():
    started = time.monotonic()
    built = subprocess.run([str(REPO / "scripts" / "build-images.sh")], capture_output=True, text=True, timeout=3600)
    assert built.returncode == 0, built.stderr[-3000:]
    TIMINGS["images built (cached: seconds)"] = time.monotonic() - started
    stack = ComposeStack(api_port=free_port(), mqtt_port=free_port(), sysctls=read_sysctls())
    stack.compose("down", "--volumes")  # what a crashed run left behind
    stop_stale_dns()
    remove_network_leftovers(bridge=None)
    try:
        yield stack
    finally:
        stack.compose("down", "--volumes")
        remove_network_leftovers(stack.bridge_seen)
        write_sysctls(stack.sysctls)


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("compose timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
