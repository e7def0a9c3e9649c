"""Health, readiness and Prometheus metrics."""

import httpx


def test_health_and_readiness(stack):
    assert httpx.get(stack.api_url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(stack.api_url + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_metrics_expose_pipeline_figures(stack):
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=[{"metric": "m", "value": 1}] * 3).status_code == 202
    stack.wait_for_samples(tenant.id, 1)
    text = httpx.get(stack.api_url + "/metrics").text
    for name in ("microdash_ingest_requests_total", "microdash_ingest_accepted_samples_total",
                 "microdash_ingest_batch_samples_bucket", "microdash_queue_depth", "microdash_samples_stored_total",
                 "microdash_ingest_to_stored_seconds_bucket", "microdash_sse_clients"):
        assert name in text, name
    stored = next(line for line in text.splitlines() if line.startswith("microdash_samples_stored_total"))
    assert float(stored.split()[-1]) >= 1


def test_a_metrics_port_serves_metrics_and_nothing_else(stack, tmp_path):
    from microdash_cli.localstack import free_port
    from support import extra_api

    metrics_port = free_port()
    with extra_api(stack, tmp_path, MICRODASH_METRICS_PORT=str(metrics_port)) as api:
        metrics = f"http://127.0.0.1:{metrics_port}"
        assert httpx.get(api + "/metrics").status_code == 404
        scraped = httpx.get(metrics + "/metrics")
        assert scraped.status_code == 200 and "microdash_" in scraped.text
        assert httpx.get(metrics + "/api/v1/series").status_code == 404
        assert httpx.get(metrics + "/healthz").status_code == 404
        assert httpx.get(api + "/healthz").status_code == 200
