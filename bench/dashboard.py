"""The dashboard in a real browser (Debian's Chromium driven by Playwright), against the bench stack's
api serving the built frontend/dist:

- first chart: a cold browser context opens /explore?metric=...&range=24h over 24 h of data for 20
  series (a point every 10 s, rolled up); the figure is the `microdash:first-chart` performance
  mark, i.e. milliseconds from navigation start to the first chart drawn with data.
- live frames: /explore over the last 5 minutes while 20 series get a new point 10 times a second
  over HTTP; requestAnimationFrame intervals and the main thread's busy time per frame (Chromium's
  TaskDuration over the frames drawn) while the chart redraws.
- bundle: the gzipped size (level 6, what a compressing proxy would send) of everything the app
  ships in frontend/dist except fonts.
"""

import gzip
import math
import threading
import time
from pathlib import Path

import httpx

from microdash_core import db
from microdash_core.tenants import directory, memberships
from microdash_workers import rollup_marks, rollups
from microdash_workers.storage import SampleStore

FRONTEND_DIST = Path(__file__).resolve().parents[1] / "frontend" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FONT_SUFFIXES = (".woff", ".woff2", ".ttf", ".otf", ".eot")
SERIES = 20
DAY_MS = 86_400_000
HISTORY_SPACING_MS = 10_000
STORE_BATCH = 5_000
PASSWORD = "bench password"
FIRST_CHART_TIMEOUT_MS = 30_000
MISSED_VSYNC_MS = 1.5 * 1000 / 60  # a frame interval this long means at least one 60 Hz frame was skipped

# In the page: collect requestAnimationFrame intervals until told to stop.
FRAME_RECORDER = """() => { window.__benchFrames = []; let last = performance.now();
  const tick = (now) => { window.__benchFrames.push(now - last); last = now;
    if (!window.__benchStop) requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""


def bundle_sizes(dist: Path = FRONTEND_DIST) -> dict:
    if not (dist / "index.html").is_file():
        raise RuntimeError(f"the dashboard is not built ({dist}); run `make frontend`")
    sizes = {"js": 0, "css": 0, "other": 0}
    for path in sorted(dist.rglob("*")):
        if not path.is_file() or path.suffix in FONT_SUFFIXES:
            continue
        kind = path.suffix.lstrip(".") if path.suffix in (".js", ".css") else "other"
        sizes[kind] += len(gzip.compress(path.read_bytes(), compresslevel=6))
    return {"total": round(sum(sizes.values()) / 1024, 1), **{k: round(v / 1024, 1) for k, v in sizes.items()}}


def _fill_history(stack, tenant, end_ms: int) -> int:
    """24 h of SERIES series stored through the worker's store and rolled up, as the pipeline would."""
    store, redis_connection = SampleStore(stack.settings), stack.connect_redis()
    stored, batch = 0, []
    try:
        for ts in range(end_ms - DAY_MS, end_ms, HISTORY_SPACING_MS):
            batch.extend(("bench.dashboard", {"series": f"s{n}"}, ts, 50 + 40 * math.sin(ts / 3_600_000 + n))
                         for n in range(SERIES))
            if len(batch) >= STORE_BATCH:
                stored += _store(store, redis_connection, tenant.id, batch)
                batch = []
        stored += _store(store, redis_connection, tenant.id, batch)
    finally:
        store.close()
    settings = stack.settings.model_copy(update={"rollup_time_budget_seconds": 600.0, "rollup_grace_seconds": 0})
    while rollups.roll_up(settings, now_ms=end_ms + 120_000):
        pass
    return stored


def _store(store, redis_connection, tenant_id: int, batch: list) -> int:
    if batch:
        store.store(tenant_id=tenant_id, samples=batch)
        with redis_connection.pipeline() as pipe:
            rollup_marks.mark_touched(pipe, tenant_id, batch)
            pipe.execute()
    return len(batch)


def _admin(stack, tenant) -> str:
    email = f"bench-{tenant.name}@example.test"
    with db.transaction(stack.settings) as cursor:
        user = memberships.create_user(cursor, email=email, password=PASSWORD)
        memberships.grant(cursor, user=user, tenant=directory.get_tenant(cursor, name=tenant.name), role="admin")
    return email


def _signed_in_context(browser, stack, email: str):
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 800})
    response = context.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD})
    if response.status != 200:
        raise RuntimeError(f"bench login failed: {response.status} {response.text()}")
    return context


# Where a load's time goes: when the script was in, the session checked and the query answered
# (responseEnd, ms from navigation start).
LOAD_BREAKDOWN = """() => { const done = (part) => Math.round(Math.max(0, ...performance.getEntriesByType('resource')
    .filter((entry) => entry.name.includes(part)).map((entry) => entry.responseEnd)));
  const nav = performance.getEntriesByType('navigation')[0];
  return {dom_content_loaded: Math.round(nav.domContentLoadedEventEnd), scripts: done('/assets/'),
          me: done('/api/v1/auth/me'), query: done('/api/v1/query')}; }"""


def _first_chart_ms(browser, stack, email: str, url: str) -> tuple[float, int, int, dict]:
    """One cold load (fresh context: no HTTP cache): ms to the first chart, series and points drawn,
    and where the time went."""
    context = _signed_in_context(browser, stack, email)
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("performance.getEntriesByName('microdash:first-chart').length > 0",
                               timeout=FIRST_CHART_TIMEOUT_MS)
        mark = page.evaluate("performance.getEntriesByName('microdash:first-chart')[0].startTime")
        chart = page.get_by_test_id("chart").first
        return (mark, int(chart.get_attribute("data-series")), int(chart.get_attribute("data-points")),
                page.evaluate(LOAD_BREAKDOWN))
    finally:
        context.close()


def _feed_live(stack, tenant, stop: threading.Event, sent: list[int], rate_hz: float = 10.0) -> None:
    """SERIES samples, one per series, every 1/rate_hz s over HTTP until told to stop."""
    interval = 1.0 / rate_hz
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {tenant.token}"}) as client:
        next_at = time.monotonic()
        while not stop.is_set():
            now_ms = int(time.time() * 1000)
            client.post("/api/v1/metrics/bulk", json=[
                {"metric": "bench.live", "value": 50 + 40 * math.sin(now_ms / 2000 + n), "ts": now_ms,
                 "labels": {"series": f"s{n}"}} for n in range(SERIES)]).raise_for_status()
            sent[0] += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))


def _live_frames(browser, stack, tenant, email: str, seconds: float, percentile) -> dict:
    _seed_live(stack, tenant)
    context = _signed_in_context(browser, stack, email)
    stop, sent = threading.Event(), [0]
    try:
        page = context.new_page()
        page.goto("/explore?metric=bench.live&range=5m")
        page.wait_for_function(f"document.querySelector('[data-testid=chart]')?.dataset.series == '{SERIES}'",
                               timeout=FIRST_CHART_TIMEOUT_MS)
        feeder = threading.Thread(target=_feed_live, args=(stack, tenant, stop, sent), daemon=True)
        feeder.start()
        time.sleep(2.0)  # the stream delivers steadily before the window opens
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        before = _task_seconds(cdp)
        draws_before = page.evaluate("window.__microdash.chartsDrawn")
        page.evaluate(FRAME_RECORDER)
        time.sleep(seconds)
        page.evaluate("window.__benchStop = true")
        busy_ms = (_task_seconds(cdp) - before) * 1000
        draws = page.evaluate("window.__microdash.chartsDrawn") - draws_before
        intervals = page.evaluate("window.__benchFrames")[1:]
    finally:
        stop.set()
        context.close()
    frames = len(intervals)
    return {
        "frames": frames,
        "chart_draws": draws,
        "updates_sent": sent[0],
        "mean_interval_ms": round(sum(intervals) / frames, 2) if frames else None,
        "p99_interval_ms": round(percentile(intervals, 0.99), 2) if frames else None,
        "max_interval_ms": round(max(intervals), 2) if frames else None,
        "missed_vsync_pct": round(100 * sum(1 for i in intervals if i > MISSED_VSYNC_MS) / frames, 1) if frames else None,
        "main_thread_ms_per_frame": round(busy_ms / frames, 2) if frames else None,
        "main_thread_ms_per_draw": round(busy_ms / draws, 2) if draws else None,
    }


def _seed_live(stack, tenant) -> None:
    now_ms = int(time.time() * 1000)
    samples = [{"metric": "bench.live", "value": 50.0, "ts": now_ms - 60_000 + k * 1000, "labels": {"series": f"s{n}"}}
               for n in range(SERIES) for k in range(60)]
    httpx.post(stack.base_url + "/api/v1/metrics/bulk", json=samples,
               headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30).raise_for_status()
    time.sleep(1.0)


def _task_seconds(cdp) -> float:
    metrics = {entry["name"]: entry["value"] for entry in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["TaskDuration"]


def run_dashboard(stack, tenant, *, loads: int, live_seconds: float, percentile) -> dict:
    from playwright.sync_api import sync_playwright

    bundle = bundle_sizes()
    end_ms = int(time.time() * 1000)
    stored = _fill_history(stack, tenant, end_ms)
    email = _admin(stack, tenant)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            _first_chart_ms(browser, stack, email, "/explore?metric=bench.dashboard&range=24h")  # warm the api
            loaded = [_first_chart_ms(browser, stack, email, "/explore?metric=bench.dashboard&range=24h")
                      for _ in range(loads)]
            frames = _live_frames(browser, stack, tenant, email, live_seconds, percentile)
            version = browser.version
        finally:
            browser.close()
    marks = [mark for mark, _, _, _ in loaded]
    median_load = sorted(loaded)[(len(loaded) - 1) // 2]
    return {
        "dashboard_first_chart_ms": {"p50": round(percentile(marks, 0.5), 1), "max": round(max(marks), 1),
                                     "loads": loads, "series": median_load[1], "points": median_load[2],
                                     "samples_in_24h": stored, "median_load_breakdown": median_load[3]},
        "dashboard_live_frames": frames,
        "dashboard_bundle_gzip_kb": bundle,
        "dashboard_browser": f"Chromium {version} (Debian), headless",
    }
