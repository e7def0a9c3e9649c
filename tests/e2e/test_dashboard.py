"""Steps of features/dashboard.feature, run in Debian's Chromium against the real stack."""

import re
import time
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Page, expect
from pytest_bdd import given, parsers, scenarios, then, when

from browser_world import PASSWORD, World
from microdash_core import db
from microdash_core.tenants import memberships
from microdash_workers import rollups

pytestmark = pytest.mark.xdist_group("browser")
scenarios("features/dashboard.feature")
TIMEOUT_MS = 15_000


def by_testid(page: Page, name: str):
    return page.get_by_test_id(name)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    by_testid(page, "login-email").fill(email)
    by_testid(page, "login-password").fill(password)
    by_testid(page, "login-submit").click()


# ---- Given ------------------------------------------------------------------------------------

@given(parsers.parse('the tenant "{label}" has host metrics for "{host}"'))
def tenant_has_host_metrics(world: World, label: str, host: str):
    world.host_metrics(label, host)


@given(parsers.parse('the tenant "{label}" has a sample of "{metric}" for "{host}"'))
def tenant_has_a_sample(world: World, label: str, metric: str, host: str):
    world.ingest(label, [{"metric": metric, "value": 20.0, "ts": int(time.time() * 1000) - 60_000,
                          "labels": {"host": host}}])


@given("the rollup job has run")
def rollup_job_ran(world: World):
    """What the scheduler does every 15 s (the test stack runs no scheduler); long ranges read rollups."""
    settings = world.stack.settings.model_copy(update={"rollup_grace_seconds": 0})
    while rollups.roll_up(settings, now_ms=int(time.time() * 1000) + 120_000):
        pass


@given(parsers.parse('the tenant "{label}" has an admin'))
def tenant_has_an_admin(world: World, label: str):
    world.user(label, "admin")


@given(parsers.parse('the {role} of "{label}" is signed in'))
def signed_in(world: World, page: Page, role: str, label: str):
    sign_in(page, world.user(label, role).email)
    expect(by_testid(page, "logout")).to_be_visible(timeout=TIMEOUT_MS)
    world.notes["signed_in_tenant"] = label


@given(parsers.parse('the admin of "{label}" is also a viewer of "{other}"'))
def also_viewer_of(world: World, label: str, other: str):
    with db.transaction(world.stack.settings) as cursor:
        user, _ = memberships.find_user(cursor, email=world.user(label, "admin").email)
        memberships.grant(cursor, user=user, tenant=world.tenant(other).tenant, role="viewer")


# ---- When -------------------------------------------------------------------------------------

@when(parsers.parse('the {role} of "{label}" signs in'))
def role_signs_in(world: World, page: Page, role: str, label: str):
    signed_in(world, page, role, label)


@when(parsers.parse('someone signs in as the admin of "{label}" with a wrong password'))
def wrong_password(world: World, page: Page, label: str):
    sign_in(page, world.user(label, "admin").email, "not the password")


@when(parsers.parse('the user explores "{metric}" over the last hour'))
def explore(world: World, page: Page, metric: str):
    page.goto(f"/explore?metric={metric}&range=1h")
    world.notes["explored"] = metric


@when(parsers.parse('a sample of "{metric}" for "{host}" is ingested over HTTP'))
def ingest_while_watching(world: World, page: Page, metric: str, host: str):
    chart = by_testid(page, "chart")
    expect(chart).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"), timeout=TIMEOUT_MS)
    expect(by_testid(page, "live-pause")).to_be_visible()
    page.evaluate("window.__e2eNoReload = true")  # a reload would drop this marker
    world.notes["points_before"] = int(chart.get_attribute("data-points"))
    # The server says "ready" once it reads the stream for this page: a sample stored after that streams.
    expect(by_testid(page, "explore-panel")).to_have_attribute("data-stream", "open", timeout=TIMEOUT_MS)
    world.ingest(world.notes["signed_in_tenant"], [{"metric": metric, "value": 42.0, "labels": {"host": host}}])


@when("the user opens the latency check and runs it")
def run_latency_check(page: Page):
    by_testid(page, "nav-latency").click()
    by_testid(page, "latency-run").click()


@when(parsers.parse('the admin creates a token named "{name}"'))
def create_token(world: World, page: Page, name: str):
    by_testid(page, "nav-tokens").click()
    by_testid(page, "token-create-name").fill(name)
    by_testid(page, "token-create").click()
    value = by_testid(page, "token-created-value")
    expect(value).to_have_text(re.compile(r"^mdt_\w{12}_\S+$"), timeout=TIMEOUT_MS)
    world.notes["token"] = value.inner_text().strip()


@when(parsers.parse('the admin revokes the token "{name}"'))
def revoke_token(page: Page, name: str):
    row = page.locator("tr", has_text=name)
    row.get_by_test_id("token-revoke").click()
    expect(row).to_contain_text("revoked", timeout=TIMEOUT_MS)


@when(parsers.parse('the user switches to the tenant "{label}"'))
def switch_tenant(world: World, page: Page, label: str):
    by_testid(page, "tenant-switcher").select_option(world.tenant(label).tenant.name)
    expect(by_testid(page, "tenant-switcher")).to_have_value(world.tenant(label).tenant.name, timeout=TIMEOUT_MS)


@when("the user signs out")
def sign_out(page: Page):
    by_testid(page, "logout").click()


# ---- Then -------------------------------------------------------------------------------------

@then(parsers.parse('the overview shows a host card for "{host}"'))
def host_card_shown(page: Page, host: str):
    if urlparse(page.url).path != "/":
        by_testid(page, "nav-overview").click()
    card = page.locator(f'[data-testid="host-card"][data-host="{host}"]')
    expect(card).to_be_visible(timeout=TIMEOUT_MS)
    expect(card).to_have_attribute("data-stale", "false")


@then(parsers.parse('no host card for "{host}" appears'))
def host_card_absent(page: Page, host: str):
    expect(by_testid(page, "host-card").first).to_be_visible(timeout=TIMEOUT_MS)  # the overview has loaded
    expect(page.locator(f'[data-testid="host-card"][data-host="{host}"]')).to_have_count(0)


@then(parsers.parse('a screenshot of the dashboard is saved as "{name}"'))
def screenshot(page: Page, artifacts, name: str):
    expect(by_testid(page, "chart").first).to_be_visible()
    path = artifacts / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


@then("the login page shows an error")
def login_error(page: Page):
    expect(by_testid(page, "login-error")).to_contain_text(re.compile("wrong email, password", re.I),
                                                         timeout=TIMEOUT_MS)


@then("the browser is still on the login page")
def still_on_login(page: Page):
    expect(page).to_have_url(re.compile(r"/login"))
    expect(by_testid(page, "logout")).to_have_count(0)


@then("the chart plots one more point without a reload")
def chart_grew(world: World, page: Page):
    expect(by_testid(page, "chart")).to_have_attribute(
        "data-points", str(world.notes["points_before"] + 1), timeout=TIMEOUT_MS)
    assert page.evaluate("window.__e2eNoReload") is True


@then("the latency check reports a p50 and a p99 for its probes")
def latency_reported(page: Page):
    expect(by_testid(page, "latency-count")).to_have_text(re.compile(r"^\s*[1-9]\d*\s*$"), timeout=30_000)
    expect(by_testid(page, "latency-p50")).to_have_text(re.compile(r"^\s*\d+(\.\d+)? ms\s*$"))
    expect(by_testid(page, "latency-p99")).to_have_text(re.compile(r"^\s*\d+(\.\d+)? ms\s*$"))


@then("the navigation offers no tokens page")
def no_tokens_nav(page: Page):
    expect(by_testid(page, "nav-overview")).to_be_visible(timeout=TIMEOUT_MS)
    expect(by_testid(page, "nav-tokens")).to_have_count(0)


@then(parsers.parse('opening "{path}" lands on the overview'))
def lands_on_overview(world: World, page: Page, path: str):
    page.goto(path)
    expect(page).to_have_url(world.api_url + "/", timeout=TIMEOUT_MS)
    expect(by_testid(page, "token-create")).to_have_count(0)


@then("the latency check offers no run button")
def no_latency_run(page: Page):
    by_testid(page, "nav-latency").click()
    expect(page).to_have_url(re.compile(r"/latency$"))
    expect(page.get_by_role("heading", name="Latency check")).to_be_visible()
    expect(by_testid(page, "latency-run")).to_have_count(0)


@then("the new token is shown once and accepts samples")
def token_works(world: World, page: Page):
    response = httpx.post(world.api_url + "/api/v1/metrics", json={"metric": "via.new_token", "value": 1},
                          headers={"Authorization": f"Bearer {world.notes['token']}"})
    assert response.status_code == 202, response.text
    page.reload()
    expect(by_testid(page, "token-created-value")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(world.notes["token"])


@then("the navigation offers no audit page")
def no_audit_nav(page: Page):
    expect(by_testid(page, "nav-overview")).to_be_visible(timeout=TIMEOUT_MS)
    expect(by_testid(page, "nav-audit")).to_have_count(0)


@then("the audit log shows the token's creation and revocation by the admin, without the token")
def audit_shows_token_changes(world: World, page: Page):
    by_testid(page, "nav-audit").click()
    entries = by_testid(page, "audit-entry")
    expect(entries).to_have_count(2, timeout=TIMEOUT_MS)
    expect(entries.nth(0)).to_contain_text("token.revoke")
    expect(entries.nth(0)).to_contain_text("revoked_at: – →")
    expect(entries.nth(1)).to_contain_text("token.create")
    expect(entries.nth(1)).to_contain_text(world.user("acme", "admin").email)
    expect(page.locator("body")).not_to_contain_text(world.notes["token"])
    by_testid(page, "audit-object-type").select_option("rule")
    expect(page.get_by_text("No changes recorded yet.")).to_be_visible(timeout=TIMEOUT_MS)


@then("the revoked token is refused")
def token_refused(world: World):
    deadline = time.monotonic() + 5  # the api caches a valid token for MICRODASH_TOKEN_CACHE_SECONDS
    status = None
    while time.monotonic() < deadline and status != 401:
        status = httpx.post(world.api_url + "/api/v1/metrics", json={"metric": "after.revoke", "value": 1},
                            headers={"Authorization": f"Bearer {world.notes['token']}"}).status_code
        time.sleep(0.2)
    assert status == 401


@then(parsers.parse('the tenant switcher offers only "{label}"'))
def switcher_offers_only(world: World, page: Page, label: str):
    options = by_testid(page, "tenant-switcher").locator("option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == world.tenant(label).tenant.name


@then("no chart is drawn")
def no_chart(world: World, page: Page):
    expect(page.get_by_text("No series match")).to_be_visible(timeout=TIMEOUT_MS)
    expect(by_testid(page, "chart")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("rival-1")


@then("the login page is shown")
def login_page_shown(page: Page):
    expect(by_testid(page, "login-email")).to_be_visible(timeout=TIMEOUT_MS)


@then(parsers.parse('opening "{path}" lands on the login page'))
def lands_on_login(page: Page, path: str):
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login"), timeout=TIMEOUT_MS)
    expect(by_testid(page, "login-email")).to_be_visible()


@when(parsers.parse('the user picks the metric "{metric}" and the range "{range_key}" on the explore page'))
def pick_metric_and_range(page: Page, metric: str, range_key: str):
    by_testid(page, "nav-explore").click()
    by_testid(page, "explore-metric").fill(metric)
    by_testid(page, "explore-metric").press("Enter")
    by_testid(page, "range-picker").select_option(range_key)


@when(parsers.parse('the user opens the deep link "{path}"'))
def open_deep_link(page: Page, path: str):
    page.goto(path)


@when(parsers.parse('the user runs the PromQL expression "{expr}" over the last hour'))
def run_promql(page: Page, expr: str):
    if "/explore" not in page.url:
        page.goto("/explore?range=1h")
    by_testid(page, "explore-mode-promql").click()
    by_testid(page, "explore-promql").fill(expr)
    with page.expect_response(lambda response: "/prometheus/api/v1/query_range" in response.url):
        by_testid(page, "explore-promql").press("Enter")


@when("the user switches the explore view back to the metric picker")
def back_to_metric_picker(page: Page):
    by_testid(page, "explore-mode-metric").click()
    by_testid(page, "explore-metric").fill("e2e_requests")
    by_testid(page, "explore-metric").press("Enter")


@then(parsers.parse("the legend names the series '{name}'"))
def legend_names(page: Page, name: str):
    expect(page.locator("figcaption button", has_text=name)).to_have_count(1, timeout=TIMEOUT_MS)


@then(parsers.parse('the address is a deep link to the expression "{expr}"'))
def address_is_expression_link(page: Page, expr: str):
    expect(page).to_have_url(re.compile(rf"/explore\?(?=.*mode=promql)(?=.*expr={re.escape(expr)})"))


@then(parsers.parse('the PromQL error is "{error_type}" and says "{text}"'))
def promql_error(page: Page, error_type: str, text: str):
    error = by_testid(page, "explore-promql-error")
    expect(error).to_have_attribute("data-error-type", error_type, timeout=TIMEOUT_MS)
    expect(error).to_contain_text(text)
    expect(by_testid(page, "chart")).to_have_count(0)


@then("the PromQL query finds no series")
def promql_finds_nothing(page: Page):
    expect(by_testid(page, "explore-series-count")).to_have_text("0 series", timeout=TIMEOUT_MS)
    expect(page.get_by_text("The expression returned no series")).to_be_visible()
    expect(by_testid(page, "chart")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("rival-1")


@then(parsers.parse("the chart shows {count:d} series"))
def chart_series(page: Page, count: int):
    expect(by_testid(page, "chart")).to_have_attribute("data-series", str(count), timeout=TIMEOUT_MS)
    expect(by_testid(page, "chart")).not_to_have_attribute("data-points", "0")


@then(parsers.parse('the address is a deep link to "{metric}" over "{range_key}"'))
def address_is_deep_link(page: Page, metric: str, range_key: str):
    expect(page).to_have_url(re.compile(rf"/explore\?(?=.*metric={re.escape(metric)})(?=.*range={range_key})"))


@when(parsers.parse('someone signs in as the admin of "{label}" with a wrong password {times:d} times'))
def wrong_password_repeatedly(world: World, page: Page, label: str, times: int):
    # These also count against 127.0.0.1's budget (20 per 15 minutes) on the worker's shared stack,
    # which every browser login comes from: keep the scenarios' failures well below it.
    email = world.user(label, "admin").email
    page.goto("/login")
    for _ in range(times):
        by_testid(page, "login-email").fill(email)
        by_testid(page, "login-password").fill("not the password")
        with page.expect_response("**/api/v1/auth/login") as answered:
            by_testid(page, "login-submit").click()
        assert answered.value.status == 401


@when(parsers.parse('the admin of "{label}" signs in with the right password'))
def right_password(world: World, page: Page, label: str):
    by_testid(page, "login-email").fill(world.user(label, "admin").email)
    by_testid(page, "login-password").fill(PASSWORD)
    with page.expect_response("**/api/v1/auth/login") as answered:
        by_testid(page, "login-submit").click()
    world.notes["login_status"] = answered.value.status


@then("the login page says there were too many failed logins")
def login_locked(world: World, page: Page):
    assert world.notes["login_status"] == 429
    expect(by_testid(page, "login-error")).to_contain_text("too many failed logins", timeout=TIMEOUT_MS)
    expect(by_testid(page, "login-submit")).to_be_disabled()


@when("the user toggles the theme")
def toggle_theme(page: Page):
    expect(page.locator("html")).not_to_have_class(re.compile(r"\bdark\b"))
    by_testid(page, "theme-toggle").click()


@then("the page is dark")
def page_is_dark(page: Page):
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))


@then("after a reload the page is still dark")
def still_dark_after_reload(page: Page):
    page.reload()
    expect(by_testid(page, "logout")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))


@when("the user pauses the live chart")
def pause_live(page: Page):
    by_testid(page, "live-pause").click()
    expect(by_testid(page, "live-pause")).to_have_attribute("aria-pressed", "true")


@when("the user resumes the live chart")
def resume_live(page: Page):
    by_testid(page, "live-pause").click()
    expect(by_testid(page, "live-pause")).to_have_attribute("aria-pressed", "false")


@then("the chart still plots the same points")
def chart_unchanged(world: World, page: Page):
    time.sleep(2)  # the sample is stored (World.ingest waited) and would have streamed by now
    expect(by_testid(page, "chart")).to_have_attribute("data-points", str(world.notes["points_before"]))
