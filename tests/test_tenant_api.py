"""GET /api/v1/tenant: the calling tenant's limits and series usage, against the real stack."""

import itertools

from microdash_core.settings import Settings
from support import recent_ms

_distinct_ms = itertools.count()


def sample(host: str, metric: str = "usage.test") -> dict:
    return {"metric": metric, "value": 1.0, "ts": recent_ms(-10_000) + next(_distinct_ms), "labels": {"host": host}}


def ingest(stack, tenant, token: str, samples: list[dict]) -> None:
    before = stack.count_samples(tenant.id)
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics/bulk", json=samples)
    assert response.status_code == 202, response.text
    assert stack.wait_for_samples(tenant.id, before + len(samples)) == before + len(samples)


def test_limits_and_a_series_count_that_grows_with_ingest(stack):
    tenant, token = stack.new_tenant(display_name="Usage Inc", max_series=50, ingest_rate_limit=2_500)
    with stack.client(token) as client:
        empty = client.get("/api/v1/tenant")
        ingest(stack, tenant, token, [sample("a"), sample("b"), sample("c"), sample("a")])
        after = client.get("/api/v1/tenant")
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"name": tenant.name, "display_name": "Usage Inc",
                            "limits": {"ingest_samples_per_second": 2_500, "max_series": 50},
                            "usage": {"series": 0}}
    assert after.json()["usage"] == {"series": 3}


def test_limits_are_read_fresh_not_from_the_cached_credential(stack):
    tenant, token = stack.new_tenant(max_series=10)
    with stack.client(token) as client:
        assert client.get("/api/v1/tenant").json()["limits"]["max_series"] == 10
        stack.sql("UPDATE tenants SET max_series = 20, ingest_rate_limit = 7 WHERE id = %s", (tenant.id,))
        limits = client.get("/api/v1/tenant").json()["limits"]
    assert limits == {"ingest_samples_per_second": 7, "max_series": 20}


def test_a_tenant_without_limits_gets_the_default_rate_and_no_series_limit(stack):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        body = client.get("/api/v1/tenant").json()
    default = Settings.model_fields["default_ingest_rate_limit"].default
    assert "MICRODASH_DEFAULT_INGEST_RATE_LIMIT" not in stack.env
    assert body["limits"] == {"ingest_samples_per_second": default, "max_series": None}


def test_a_viewer_session_sees_its_tenant(stack):
    tenant, token = stack.new_tenant(max_series=5)
    ingest(stack, tenant, token, [sample("v")])
    email = stack.new_user([(tenant, "viewer")])
    with stack.session_client(email) as client:
        response = client.get("/api/v1/tenant")
    assert response.status_code == 200, response.text
    assert response.json()["name"] == tenant.name
    assert response.json()["limits"]["max_series"] == 5
    assert response.json()["usage"] == {"series": 1}


def test_another_tenants_token_sees_only_its_own_tenant(stack):
    tenant_a, token_a = stack.new_tenant("a", max_series=100)
    tenant_b, token_b = stack.new_tenant("b", max_series=7)
    ingest(stack, tenant_a, token_a, [sample("x"), sample("y")])
    with stack.client(token_b) as client:
        # No parameter, header or session of another tenant changes whose usage is answered.
        plain = client.get("/api/v1/tenant").json()
        smuggled = client.get("/api/v1/tenant", params={"tenant": tenant_a.name, "tenant_id": tenant_a.id},
                              headers={"X-Tenant": tenant_a.name}).json()
    for body in (plain, smuggled):
        assert body["name"] == tenant_b.name
        assert body["limits"]["max_series"] == 7
        assert body["usage"] == {"series": 0}
    with stack.client(token_a) as client:
        assert client.get("/api/v1/tenant").json()["usage"] == {"series": 2}


def test_no_credential_is_refused(stack):
    with stack.client() as client:
        missing = client.get("/api/v1/tenant")
        wrong = client.get("/api/v1/tenant", headers={"Authorization": "Bearer mdt_notavalidtoken"})
    assert missing.status_code == 401
    assert wrong.status_code == 401


def test_the_answer_is_documented_in_openapi(stack):
    with stack.client() as client:
        schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/api/v1/tenant"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/TenantPublic"}
    assert set(schema["components"]["schemas"]["TenantPublic"]["properties"]) == {"name", "display_name", "limits",
                                                                                 "usage"}
