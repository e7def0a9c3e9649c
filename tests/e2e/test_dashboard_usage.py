"""Steps of features/usage.feature: the usage strip of the overview, against the real api and database."""

import time

import pytest
from playwright.sync_api import Page, expect
from pytest_bdd import given, parsers, scenarios, then, when

from browser_world import World
from microdash_core import db
from test_dashboard import TIMEOUT_MS, by_testid, role_signs_in

pytestmark = pytest.mark.xdist_group("browser")
scenarios("features/usage.feature")

# Shared with features/dashboard.feature: the step is registered again for this module's scenarios.
when(parsers.parse('the {role} of "{label}" signs in'))(role_signs_in)


@given(parsers.parse('the tenant "{label}" has a series limit of {limit:d} and {count:d} series'))
def tenant_with_limit_and_series(world: World, label: str, limit: int, count: int):
    tenant = world.tenant(label).tenant
    with db.transaction(world.stack.settings) as cursor:
        cursor.execute("UPDATE tenants SET max_series = %s WHERE id = %s", (limit, tenant.id))
    ts = int(time.time() * 1000) - 60_000
    world.ingest(label, [{"metric": "usage.e2e", "value": 1.0, "ts": ts, "labels": {"host": f"h{index}"}}
                         for index in range(count)])


@then(parsers.parse("the overview shows {used:d} of {limit:d} series"))
def overview_shows_series(page: Page, used: int, limit: int):
    expect(by_testid(page, "usage-series")).to_have_text(f"{used} of {limit} series", timeout=TIMEOUT_MS)
    bar = page.get_by_role("progressbar", name="Series stored of the series limit")
    expect(bar).to_have_attribute("aria-valuenow", str(used))
    expect(bar).to_have_attribute("aria-valuemax", str(limit))


@then(parsers.parse('the overview shows the ingest limit "{text}"'))
def overview_shows_ingest_limit(page: Page, text: str):
    expect(by_testid(page, "usage-ingest-limit")).to_have_text(text, timeout=TIMEOUT_MS)
