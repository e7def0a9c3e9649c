"""The committed wire contract (contract/openapi.json) is what the api documents now, and what it
serves at /openapi.json."""

import json

from fastapi.testclient import TestClient

from microdash_api.contract import COMMITTED, build_inert_app, render

REGENERATE = "make contract"


def test_the_committed_contract_is_what_the_api_generates():
    generated = render(build_inert_app().openapi())
    assert COMMITTED.read_text() == generated, (
        f"{COMMITTED} differs from the api's OpenAPI document: run `{REGENERATE}` and commit the result "
        "(it also regenerates frontend/src/api/openapi.d.ts)")


def test_the_api_serves_the_contract():
    served = TestClient(build_inert_app()).get("/openapi.json")  # no `with`: the lifespan (connections) never runs
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text())
