"""Session fixtures: the stack is started once per test process (each xdist worker gets its own)."""

import pytest

from support import Stack, start_stack, stop_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    root = tmp_path_factory.mktemp("stack")
    started = start_stack(root, workers=1, mqtt=True)
    yield started
    stop_stack(started)


@pytest.fixture
def private_stack(tmp_path):
    """A whole stack of its own, for tests that stop or kill services."""
    stacks: list[Stack] = []

    def make(**kwargs) -> Stack:
        created = start_stack(tmp_path, **kwargs)
        stacks.append(created)
        return created

    yield make
    for created in stacks:
        stop_stack(created)
