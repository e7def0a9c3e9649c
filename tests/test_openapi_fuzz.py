"""Schemathesis over the whole OpenAPI document, against a live stack of its own: whatever the
generated input, no answer is a server error. Each operation gets a bounded number of examples.

Authentication is given with care: tenant routes get an API token, token management an admin
session (with its CSRF token), and the login, logout and tenant-switch routes no credentials of
ours, so fuzzing cannot sign the admin out or switch its tenant. The stack is its own because
failed logins throttle the client address for the rest of the window."""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from support import Stack, start_stack, stop_stack

EXAMPLES_PER_OPERATION = 20
ANONYMOUS_PREFIX = "/api/v1/auth/"
SESSION_PREFIX = "/api/v1/tokens"


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory) -> Stack:
    started = start_stack(tmp_path_factory.mktemp("fuzz"), workers=1)
    yield started
    stop_stack(started)


@pytest.fixture(scope="module")
def credentials(fuzz_stack) -> dict:
    tenant, token = fuzz_stack.new_tenant("fuzz")
    admin = fuzz_stack.new_user([(tenant, "admin")])
    response = requests.post(fuzz_stack.api_url + "/api/v1/auth/login",
                             json={"email": admin, "password": "correct horse"}, timeout=10)
    assert response.status_code == 200, response.text
    given = {"token": token, "cookies": dict(response.cookies), "csrf": response.json()["csrf_token"]}
    for path in ("/api/v1/tenant", "/api/v1/tokens"):  # the fuzzing is let in, not stopped at 401
        kwargs = _authenticated({"method": "GET", "url": fuzz_stack.api_url + path}, path, given)
        assert requests.request(**kwargs, timeout=10).status_code == 200, path
    return given


@pytest.fixture(scope="module")
def api_schema(fuzz_stack):
    return schemathesis.openapi.from_url(fuzz_stack.api_url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schemathesis.serializer("application/x-protobuf")
def _opaque_bytes(ctx, value) -> bytes:
    """Remote-write bodies (snappy-compressed protobuf) are opaque binary strings in the schema."""
    return value if isinstance(value, bytes) else str(value).encode()


def _authenticated(kwargs: dict, path: str, credentials: dict) -> dict:
    headers = dict(kwargs.get("headers") or {})
    if path.startswith(ANONYMOUS_PREFIX):
        return {**kwargs, "headers": headers}
    if path.startswith(SESSION_PREFIX):
        return {**kwargs, "headers": {**headers, "X-CSRF-Token": credentials["csrf"]},
                "cookies": {**(kwargs.get("cookies") or {}), **credentials["cookies"]}}
    return {**kwargs, "headers": {**headers, "Authorization": f"Bearer {credentials['token']}"}}


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, fuzz_stack, credentials):
    kwargs = _authenticated(case.as_transport_kwargs(base_url=fuzz_stack.api_url), case.path, credentials)
    # Streamed, so the live stream's endless body is not awaited: the status is all that is checked.
    with requests.request(**kwargs, stream=True, timeout=10) as response:
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code}\n{case.as_curl_command()}")
