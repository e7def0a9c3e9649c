"""The committed wire contract (contract/openapi.json) is what the api documents now, what it serves
at /openapi.json, and its sample schema judges a sample as the server's validator does."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from microdash_api.contract import COMMITTED, build_inert_app, render
from microdash_core.samples import SampleValidator
from microdash_core.settings import Settings

REGENERATE = "make contract"


def test_the_committed_contract_is_what_the_api_generates():
    generated = render(build_inert_app().openapi())
    assert COMMITTED.read_text() == generated, (
        f"{COMMITTED} differs from the api's OpenAPI document: run `{REGENERATE}` and commit the result "
        "(it also regenerates frontend/src/api/openapi.d.ts)")


def test_the_command_make_contract_runs_writes_the_committed_file(tmp_path):
    written = tmp_path / "openapi.json"
    subprocess.run([str(Path(sys.executable).parent / "microdash"), "openapi", str(written)], check=True, timeout=120)
    assert written.read_text() == COMMITTED.read_text()


def test_the_api_serves_the_contract():
    served = TestClient(build_inert_app()).get("/openapi.json")  # no `with`: the lifespan (connections) never runs
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text())


def _sample_schema() -> dict:
    operation = json.loads(COMMITTED.read_text())["paths"]["/api/v1/metrics"]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


NOW_MS = int(time.time() * 1000)
# Each is judged by the rules both sides hold; the server's setting-dependent limits (lengths, label
# count, time window) and the reserved "__" label prefix are the server's alone (see SampleIn).
SAMPLES = [
    {"metric": "cpu.usage", "value": 12.5, "ts": NOW_MS, "labels": {"host": "n1", "_x": "y"}},
    {"metric": "up", "value": 1},
    {"metric": "up:ratio_1m", "value": -0.5, "ts": None, "labels": {}},
    {"metric": "cpu usage", "value": 1},
    {"metric": "9lives", "value": 1},
    {"metric": "", "value": 1},
    {"value": 1},
    {"metric": "m"},
    {"metric": "m", "value": "1"},
    {"metric": "m", "value": True},
    {"metric": "m", "value": 1e300},
    {"metric": "m", "value": 1, "ts": NOW_MS + 0.5},
    {"metric": "m", "value": 1, "labels": {"host": 1}},
    {"metric": "m", "value": 1, "labels": {"bad-name": "x"}},
    {"metric": "m", "value": 1, "labels": ["host"]},
    {"metric": "m", "value": 1, "unit": "s"},
]


# ids without the clock's time: each xdist worker collects at its own moment, and must see the same ids
@pytest.mark.parametrize("sample", SAMPLES, ids=[json.dumps(sample).replace(str(NOW_MS), "now") for sample in SAMPLES])
def test_the_contract_and_the_servers_validator_agree_on_a_sample(sample):
    by_contract = not list(Draft202012Validator(_sample_schema()).iter_errors(sample))
    _, errors = SampleValidator(Settings()).validate_one(sample, now_ms=NOW_MS)
    assert by_contract == (not errors), errors
