"""Steps of features/alert_admin.feature: alert rules and notification channels managed on the
dashboard's Alerts page, checked through the real api and database."""

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_bdd import given, parsers, scenarios, then, when

from alerting_support import create_channel, create_rule
from browser_world import World
from microdash_core import db
from microdash_core.alerting.managed_rules import upsert_rule
from microdash_core.alerting.rules import Rule
from test_dashboard import TIMEOUT_MS, by_testid, signed_in

pytestmark = pytest.mark.xdist_group("browser")
scenarios("features/alert_admin.feature")

# Shared with features/dashboard.feature: the step is registered again for this module's scenarios.
given(parsers.parse('the {role} of "{label}" is signed in'))(signed_in)


def api_get(world: World, label: str, path: str):
    """What the api answers the tenant's own token (not the browser's session)."""
    response = httpx.get(world.api_url + path, headers={"Authorization": f"Bearer {world.tenant(label).token}"},
                         timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def api_rule(world: World, label: str, name: str) -> dict | None:
    return next((rule for rule in api_get(world, label, "/api/v1/alerts/rules") if rule["name"] == name), None)


def api_channel(world: World, label: str, name: str) -> dict | None:
    return next((item for item in api_get(world, label, "/api/v1/alerts/channels") if item["name"] == name), None)


def open_tab(page: Page, tab: str) -> None:
    by_testid(page, "nav-alerts").click()
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")


def rule_row(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="rule-row"][data-rule="{name}"]')


def channel_row(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="channel-row"][data-channel="{name}"]')


def field(form: Locator, label: str) -> Locator:
    return form.get_by_label(label, exact=True)


def save(form: Locator, testid: str) -> None:
    form.get_by_test_id(testid).click()
    expect(form).to_have_count(0, timeout=TIMEOUT_MS)  # the form closes once the api has stored it


# ---- Given ------------------------------------------------------------------------------------

@given(parsers.parse('the tenant "{label}" has the alert rule "{name}"'))
def tenant_has_rule(world: World, label: str, name: str):
    create_rule(world.stack, world.tenant(label).tenant.id, name=name)


@given(parsers.parse('the tenant "{label}" has the rule "{name}" managed by Kubernetes'))
def tenant_has_managed_rule(world: World, label: str, name: str):
    rule = Rule(id=0, tenant_id=world.tenant(label).tenant.id, name=name, metric="cpu", matchers=(),
                aggregation="avg", window_seconds=60, comparison=">", threshold=80.0)
    with db.transaction(world.stack.settings) as cursor:
        upsert_rule(cursor, rule, enabled=True)


@given(parsers.parse('the tenant "{label}" has the webhook channel "{name}" with the secret "{secret}"'))
def tenant_has_channel(world: World, label: str, name: str, secret: str):
    create_channel(world.stack, world.tenant(label).tenant.id, name=name, secret=secret,
                   config={"url": "https://old.example.org/hook"})


# ---- When -------------------------------------------------------------------------------------

@when("the user opens the alerts page")
def open_alerts(page: Page):
    open_tab(page, "Rules & state")


@when(parsers.parse('the admin adds the webhook channel "{name}" for "{url}" with the secret "{secret}"'))
def add_webhook(page: Page, name: str, url: str, secret: str):
    open_tab(page, "Channels")
    by_testid(page, "channel-new").click()
    form = by_testid(page, "channel-form")
    expect(field(form, "Name")).to_be_focused()
    field(form, "Name").fill(name)
    field(form, "Kind").select_option("webhook")
    field(form, "URL").fill(url)
    field(form, "Signing secret (HMAC key)").fill(secret)
    save(form, "channel-save")
    expect(channel_row(page, name)).to_contain_text("signing secret set")


@when(parsers.parse('the admin creates the rule "{name}" on "{metric}" where "{matcher}" with {aggregation} '
                    'over "{window}" {comparison} {threshold:d} for "{duration}" notifying "{channel}" labelled "{label_name}={label_value}"'))
def create_rule_in_form(page: Page, name: str, metric: str, matcher: str, aggregation: str, window: str,
                        comparison: str, threshold: int, duration: str, channel: str, label_name: str,
                        label_value: str):
    open_tab(page, "Rules & state")
    by_testid(page, "rule-new").click()
    form = by_testid(page, "rule-form")
    field(form, "Name").fill(name)
    field(form, "Metric").fill(metric)
    field(form, "Label matchers").fill(matcher)
    field(form, "Aggregation").select_option(aggregation)
    field(form, "Window").fill(window)
    field(form, "Comparison").select_option(comparison)
    field(form, "Threshold").fill(str(threshold))
    field(form, "For").fill(duration)
    field(form, "Only these channels").check()
    field(form, channel).check()
    form.get_by_role("button", name="Add label").click()
    expect(field(form, "Labels: name 1")).to_be_focused()
    field(form, "Labels: name 1").fill(label_name)
    field(form, "Labels: value 1").fill(label_value)
    save(form, "rule-save")
    expect(rule_row(page, name)).to_contain_text(f"Notifies {channel}")


@when(parsers.parse('the admin changes the rule "{name}" to a threshold of {threshold:d} over "{window}" '
                    'with a recovery threshold of {recovery:d}'))
def edit_rule(page: Page, name: str, threshold: int, window: str, recovery: int):
    open_tab(page, "Rules & state")
    row = rule_row(page, name)
    row.get_by_test_id("rule-edit").click()
    form = row.get_by_test_id("rule-form")
    expect(field(form, "Threshold")).to_have_value("90")
    field(form, "Threshold").fill(str(threshold))
    field(form, "Window").fill(window)
    field(form, "Recovery threshold").fill(str(recovery))
    save(form, "rule-save")
    expect(row).to_contain_text(f"> {threshold}")


def delete_confirmed(row: Locator, kind: str) -> None:
    """Delete, confirm inline, and wait until the row is gone (the api has deleted it)."""
    row.get_by_test_id(f"{kind}-delete").click()
    row.get_by_test_id(f"{kind}-delete-confirm").click()
    expect(row).to_have_count(0, timeout=TIMEOUT_MS)


@when(parsers.parse('the admin deletes the rule "{name}"'))
def delete_rule(page: Page, name: str):
    delete_confirmed(rule_row(page, name), "rule")


@when(parsers.parse('the admin tries to create the rule "{name}" with the matcher "{matcher}"'))
def create_refused_rule(page: Page, name: str, matcher: str):
    open_tab(page, "Rules & state")
    by_testid(page, "rule-new").click()
    form = by_testid(page, "rule-form")
    field(form, "Name").fill(name)
    field(form, "Metric").fill("cpu")
    field(form, "Label matchers").fill(matcher)
    field(form, "Threshold").fill("1")
    with page.expect_response("**/api/v1/alerts/rules") as answered:
        form.get_by_test_id("rule-save").click()
    assert answered.value.status == 422


@when(parsers.parse('the admin tries to create the rule "{name}" on the PromQL expression "{expr}"'))
def create_refused_expression_rule(page: Page, name: str, expr: str):
    open_tab(page, "Rules & state")
    by_testid(page, "rule-new").click()
    form = by_testid(page, "rule-form")
    field(form, "Name").fill(name)
    field(form, "A PromQL expression").check()
    expect(field(form, "Metric")).to_have_count(0)
    expect(field(form, "Aggregation")).to_have_count(0)
    field(form, "PromQL expression").fill(expr)
    field(form, "Threshold").fill("1")
    with page.expect_response("**/api/v1/alerts/rules") as answered:
        form.get_by_test_id("rule-save").click()
    assert answered.value.status == 422


@when(parsers.parse('the admin corrects the expression to "{expr}" and saves'))
def correct_expression(page: Page, expr: str):
    form = by_testid(page, "rule-form")
    field(form, "PromQL expression").fill(expr)
    save(form, "rule-save")


@when(parsers.parse('the admin changes the URL of the channel "{name}" to "{url}"'))
def edit_channel_url(page: Page, name: str, url: str):
    open_tab(page, "Channels")
    row = channel_row(page, name)
    row.get_by_test_id("channel-edit").click()
    form = row.get_by_test_id("channel-form")
    field(form, "URL").fill(url)
    save(form, "channel-save")
    expect(row).to_contain_text(url.split("/")[2])


@when(parsers.parse('the admin disables the channel "{name}"'))
def disable_channel(page: Page, name: str):
    row = channel_row(page, name)
    row.get_by_test_id("channel-toggle").click()
    expect(row.get_by_test_id("channel-toggle")).to_have_text("Enable", timeout=TIMEOUT_MS)


@when(parsers.parse('the admin deletes the channel "{name}"'))
def delete_channel(page: Page, name: str):
    delete_confirmed(channel_row(page, name), "channel")


# ---- Then -------------------------------------------------------------------------------------

@then(parsers.parse('the api lists the webhook channel "{name}" of "{label}" for "{url}" with a secret'))
def channel_listed(world: World, label: str, name: str, url: str):
    channel = api_channel(world, label, name)
    assert channel is not None
    assert channel["kind"] == "webhook"
    assert channel["config"] == {"url": url}
    assert channel["has_secret"] is True
    assert channel["enabled"] is True


@then(parsers.parse('the secret of the channel "{name}" of "{label}" is "{secret}" and the page never shows it'))
def secret_kept_and_hidden(world: World, page: Page, label: str, name: str, secret: str):
    stored = world.stack.sql("SELECT secret FROM notification_channels WHERE tenant_id = %s AND name = %s",
                             (world.tenant(label).tenant.id, name))
    assert stored == [(secret,)]
    open_tab(page, "Channels")
    row = channel_row(page, name)
    row.get_by_test_id("channel-edit").click()
    secret_input = field(row.get_by_test_id("channel-form"), "Signing secret (HMAC key)")
    expect(secret_input).to_have_value("")
    expect(secret_input).to_have_attribute("type", "password")
    assert secret not in page.content()
    row.get_by_test_id("channel-cancel").click()
    expect(row.get_by_test_id("channel-edit")).to_be_focused()


@then(parsers.parse('the api lists the rule "{name}" of "{label}" as entered, labelled "{label_name}={label_value}" '
                    'and notifying only "{channel}"'))
def rule_as_entered(world: World, label: str, name: str, label_name: str, label_value: str, channel: str):
    rule = api_rule(world, label, name)
    assert rule is not None
    assert {key: rule[key] for key in ("metric", "matchers", "aggregation", "window_seconds", "comparison",
                                       "threshold", "recovery_threshold", "for_seconds", "channels", "enabled",
                                       "managed_by", "labels")} == {
        "metric": "disk.used_percent", "matchers": ["mount=/"], "aggregation": "max", "window_seconds": 300,
        "comparison": ">", "threshold": 90.0, "recovery_threshold": None, "for_seconds": 120,
        "channels": [channel], "enabled": True, "managed_by": "api", "labels": {label_name: label_value}}
    assert api_channel(world, label, channel) is not None


@then(parsers.parse('the api lists the rule "{name}" of "{label}" with a threshold of {threshold:d}, '
                    'a recovery threshold of {recovery:d} and a window of {window:d} seconds'))
def rule_edited(world: World, label: str, name: str, threshold: int, recovery: int, window: int):
    rule = api_rule(world, label, name)
    assert rule is not None
    assert (rule["threshold"], rule["recovery_threshold"], rule["window_seconds"]) == (threshold, recovery, window)
    # what the form did not touch is kept as it was
    assert rule["metric"] == "cpu"
    assert rule["annotations"] == {"summary": "{{ $labels.host }} at {{ $value }}"}


@then(parsers.parse('the api lists no rule "{name}" of "{label}"'))
def rule_gone(world: World, label: str, name: str):
    assert api_rule(world, label, name) is None


def reason_at(page: Page, reason: str, label: str) -> None:
    form = by_testid(page, "rule-form")
    expect(form.get_by_test_id("rule-form-error")).to_contain_text(reason, timeout=TIMEOUT_MS)
    input_field = field(form, label)
    expect(input_field).to_have_attribute("aria-invalid", "true")
    expect(input_field).to_be_focused()
    error_id = input_field.get_attribute("aria-describedby").split()[0]
    expect(page.locator(f'[id="{error_id}"]')).to_contain_text(reason)


@then(parsers.parse('the rule form shows the server\'s reason "{reason}" at the label matchers'))
def server_reason_shown(page: Page, reason: str):
    reason_at(page, reason, "Label matchers")


@then(parsers.parse('the rule form shows the server\'s reason "{reason}" at the PromQL expression'))
def server_reason_at_expression(page: Page, reason: str):
    reason_at(page, reason, "PromQL expression")


@then(parsers.parse('the api lists the rule "{name}" of "{label}" with the expression "{expr}" and no metric'))
def rule_with_expression(world: World, label: str, name: str, expr: str):
    rule = api_rule(world, label, name)
    assert rule is not None
    assert (rule["expr"], rule["metric"], rule["matchers"], rule["threshold"]) == (expr, "", [], 1.0)


@then(parsers.parse('the rule "{name}" is listed as "{text}"'))
def rule_listed_as(page: Page, name: str, text: str):
    expect(rule_row(page, name)).to_contain_text(text, timeout=TIMEOUT_MS)


@then(parsers.parse('the api lists the channel "{name}" of "{label}" as disabled'))
def channel_disabled(world: World, label: str, name: str):
    channel = api_channel(world, label, name)
    assert channel is not None and channel["enabled"] is False
    assert channel["has_secret"] is True  # switching it off keeps its secret


@then(parsers.parse('the api lists no channel "{name}" of "{label}"'))
def channel_gone(world: World, label: str, name: str):
    assert api_channel(world, label, name) is None


@then(parsers.parse('the rule "{name}" is listed without edit controls'))
def rule_read_only(page: Page, name: str):
    row = rule_row(page, name)
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    expect(row.get_by_role("button")).to_have_count(0)


@then(parsers.parse('the channel "{name}" is listed without edit controls'))
def channel_read_only(page: Page, name: str):
    open_tab(page, "Channels")
    row = channel_row(page, name)
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    expect(row.get_by_role("button")).to_have_count(0)
    expect(row).not_to_contain_text("viewer-never-sees")


@then("no button offers to create a rule or a channel")
def no_create_buttons(page: Page):
    expect(by_testid(page, "channel-new")).to_have_count(0)
    open_tab(page, "Rules & state")
    expect(rule_row(page, "cpu-high")).to_be_visible(timeout=TIMEOUT_MS)
    expect(by_testid(page, "rule-new")).to_have_count(0)
    expect(by_testid(page, "rule-form")).to_have_count(0)


@then(parsers.parse('the rule "{name}" offers edit controls'))
def rule_editable(page: Page, name: str):
    row = rule_row(page, name)
    expect(row.get_by_test_id("rule-edit")).to_be_visible(timeout=TIMEOUT_MS)
    expect(row.get_by_test_id("rule-delete")).to_be_visible()


@then(parsers.parse('the rule "{name}" says it is managed by Kubernetes and offers no edit controls'))
def managed_rule_read_only(page: Page, name: str):
    row = rule_row(page, name)
    expect(row).to_contain_text("managed by Kubernetes", timeout=TIMEOUT_MS)
    expect(row.get_by_role("button")).to_have_count(0)
