"""Runs after test_dashboard.py on the same worker (same xdist group, later module): the browser
tests must leave no asyncio loop marked as running, or later asyncio.run() calls fail."""

import asyncio

import pytest

pytestmark = pytest.mark.xdist_group("browser")


def test_asyncio_runs_after_the_browser_tests():
    assert asyncio.run(asyncio.sleep(0, result="ran")) == "ran"
