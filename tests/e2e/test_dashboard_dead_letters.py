"""Steps of features/dead_letters.feature: the dead letters page, fed by the real MQTT bridge, in Chromium."""

import re

import pytest
from playwright.sync_api import Page, expect
from pytest_bdd import given, parsers, scenarios, then, when

from browser_world import World
from test_dashboard import TIMEOUT_MS, by_testid, role_signs_in, signed_in

pytestmark = pytest.mark.xdist_group("browser")
scenarios("features/dead_letters.feature")

# Shared with features/dashboard.feature: the steps are registered again for this module's scenarios.
when(parsers.parse('the {role} of "{label}" signs in'))(role_signs_in)
given(parsers.parse('the {role} of "{label}" is signed in'))(signed_in)


@given(parsers.parse('the tenant "{label}" has MQTT devices'))
def tenant_with_mqtt_devices(world: World, label: str):
    world.mqtt_tenant(label)


@given(parsers.parse("the device \"{device}\" of \"{label}\" published '{payload}'"))
@when(parsers.parse("the device \"{device}\" of \"{label}\" published '{payload}'"))
def device_published(world: World, device: str, label: str, payload: str):
    world.publish(label, device, payload.encode())


@when("the user opens the dead letters page")
def open_dead_letters(page: Page):
    by_testid(page, "nav-dead-letters").click()
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible(timeout=TIMEOUT_MS)


@when("the user refreshes the dead letters page")
def refresh(page: Page):
    with page.expect_response("**/api/v1/dead-letters?*") as answered:
        by_testid(page, "dead-letters-refresh").click()
    assert answered.value.status == 200


@when(parsers.parse("the user asks for at most {limit:d} dead letters"))
def pick_limit(world: World, page: Page, limit: int):
    with page.expect_response("**/api/v1/dead-letters?*") as answered:
        by_testid(page, "dead-letters-limit").select_option(str(limit))
    world.notes["dead_letters_url"] = answered.value.url


@then(parsers.re(r"the page shows (?P<count>\d+) dead letters?"), converters={"count": int})
def shows_count(page: Page, count: int):
    expect(by_testid(page, "dead-letter")).to_have_count(count, timeout=TIMEOUT_MS)
    expect(by_testid(page, "dead-letters-kept")).to_contain_text(f"{count} kept")


@then(parsers.parse("the newest dead letter came over MQTT from \"{device}\" with the data '{data}' because of \"{reason}\""))
def newest_entry(world: World, page: Page, device: str, data: str, reason: str):
    newest = by_testid(page, "dead-letter").first
    expect(newest).to_have_attribute("data-source", "mqtt", timeout=TIMEOUT_MS)
    expect(newest.locator("td").nth(1)).to_have_text("MQTT")
    expect(newest).to_contain_text(world.tenant(world.notes["signed_in_tenant"]).mqtt.topic_prefix + device)
    expect(newest.get_by_test_id("dead-letter-excerpt")).to_have_text(data)
    expect(newest.get_by_test_id("dead-letter-reason")).to_contain_text(reason)


@then(parsers.parse('the page shows nothing of "{device}"'))
def nothing_of(page: Page, device: str):
    expect(page.locator("body")).not_to_contain_text(device)
    expect(page.locator("body")).not_to_contain_text("rival secret")


@then(parsers.parse("the address asks the api for {limit:d} and the page still shows {count:d} dead letters"))
def limit_applied(world: World, page: Page, limit: int, count: int):
    assert re.search(rf"[?&]limit={limit}(&|$)", world.notes["dead_letters_url"]), world.notes["dead_letters_url"]
    expect(page).to_have_url(re.compile(rf"/dead-letters\?limit={limit}$"))
    expect(by_testid(page, "dead-letter")).to_have_count(count, timeout=TIMEOUT_MS)


@then("the page says there are no dead letters")
def no_dead_letters(page: Page):
    expect(page.get_by_text("No dead letters: everything this tenant sent lately was stored.")).to_be_visible(
        timeout=TIMEOUT_MS)
    expect(by_testid(page, "dead-letter")).to_have_count(0)
    expect(by_testid(page, "dead-letters-kept")).to_contain_text("0 kept")
