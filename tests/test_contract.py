"""The committed wire contract (contract/openapi.json) is what the api documents now, what it serves
at /openapi.json, and its sample schema judges a sample as the server's validator does."""

import json
import os
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


def test_the_command_make_contract_runs_writes_the_committed_file_whatever_the_settings(tmp_path):
    """The limits in the document are the settings' defaults, not this machine's settings."""
    written = tmp_path / "openapi.json"
    changed = {"MICRODASH_MAX_LABELS": "3", "MICRODASH_MAX_BULK_SAMPLES": "7", "MICRODASH_MAX_METRIC_NAME_LENGTH": "20",
               "MICRODASH_MAX_LABEL_VALUE_LENGTH": "9", "MICRODASH_MAX_SAMPLE_AGE_SECONDS": "60"}
    subprocess.run([str(Path(sys.executable).parent / "microdash"), "openapi", str(written)], check=True, timeout=120,
                   env={**os.environ, **changed})
    assert written.read_text() == COMMITTED.read_text()


def test_the_api_serves_the_contract():
    served = TestClient(build_inert_app()).get("/openapi.json")  # no `with`: the lifespan (connections) never runs
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text())


def _body_schema(path: str) -> dict:
    operation = json.loads(COMMITTED.read_text())["paths"][path]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


def _by_contract(body: object, path: str = "/api/v1/metrics") -> bool:
    return not list(Draft202012Validator(_body_schema(path)).iter_errors(body))


NOW_MS = int(time.time() * 1000)
DEFAULTS = Settings.model_construct()  # the class's defaults, whatever this process's environment says
ASCII_LABELS = {f"l{n}": "x" * DEFAULTS.max_label_value_length for n in range(DEFAULTS.max_labels)}
# Each is judged by the rules both sides hold, the limits at the settings' defaults included.
SAMPLES = [
    {"metric": "cpu.usage", "value": 12.5, "ts": NOW_MS, "labels": {"host": "n1", "_x": "y", "_": "z", "a__b": "c"}},
    {"metric": "up", "value": 1},
    {"metric": "up:ratio_1m", "value": -0.5, "ts": None, "labels": {}},
    {"metric": "cpu usage", "value": 1},
    {"metric": "9lives", "value": 1},
    {"metric": "", "value": 1},
    {"metric": "m" * DEFAULTS.max_metric_name_length, "value": 1},
    {"metric": "m" * (DEFAULTS.max_metric_name_length + 1), "value": 1},
    {"value": 1},
    {"metric": "m"},
    {"metric": "m", "value": "1"},
    {"metric": "m", "value": True},
    {"metric": "m", "value": 1e300},
    {"metric": "m", "value": 1, "ts": float(NOW_MS)},  # JSON's one number type: the integer NOW_MS
    {"metric": "m", "value": 1, "ts": NOW_MS + 0.5},
    {"metric": "m", "value": 1, "ts": "now"},
    {"metric": "m", "value": 1, "labels": {"host": 1}},
    {"metric": "m", "value": 1, "labels": {"bad-name": "x"}},
    {"metric": "m", "value": 1, "labels": {"__name__": "x"}},
    {"metric": "m", "value": 1, "labels": {"__": "x"}},
    {"metric": "m", "value": 1, "labels": {"1a": "x"}},
    {"metric": "m", "value": 1, "labels": {"a" * DEFAULTS.max_label_name_length: "x"}},
    {"metric": "m", "value": 1, "labels": {"a" * (DEFAULTS.max_label_name_length + 1): "x"}},
    {"metric": "m", "value": 1, "labels": ASCII_LABELS},
    {"metric": "m", "value": 1, "labels": {**ASCII_LABELS, "one_more": "x"}},
    {"metric": "m", "value": 1, "labels": {"host": "x" * (DEFAULTS.max_label_value_length + 1)}},
    {"metric": "m", "value": 1, "labels": ["host"]},
    {"metric": "m", "value": 1, "unit": "s"},
]


def _sample_id(sample: dict) -> str:
    """Without the clock's time (each xdist worker collects at its own moment, and must see the same
    ids), and short: the long names and values by their length."""
    text = json.dumps(sample).replace(str(NOW_MS), "now")
    return text if len(text) <= 120 else f"{text[:100]}...({len(text)} chars)"


@pytest.mark.parametrize("sample", SAMPLES, ids=[_sample_id(sample) for sample in SAMPLES])
def test_the_contract_and_the_servers_validator_agree_on_a_sample(sample):
    _, errors = SampleValidator(DEFAULTS).validate_one(sample, now_ms=NOW_MS)
    assert _by_contract(sample) == (not errors), errors


# What the contract cannot state and says in a description instead: the schema admits these, the
# server refuses them (the time window is relative to the server's clock; label values are
# measured in UTF-8 bytes, maxLength in characters; the label set's stored size).
BEYOND_THE_SCHEMA = [
    ({"metric": "m", "value": 1, "ts": NOW_MS - (DEFAULTS.max_sample_age_seconds + 1) * 1000}, "ts", "ts", "604800 s"),
    ({"metric": "m", "value": 1, "ts": NOW_MS + (DEFAULTS.max_sample_future_seconds + 1) * 1000}, "ts", "ts", "600 s"),
    ({"metric": "m", "value": 1, "labels": {"host": "\u00e9" * DEFAULTS.max_label_value_length}}, "labels.host", "labels",
     "bytes in UTF-8"),
    ({"metric": "m", "value": 1, "labels": {f"l{n}": "\x01" * 1024 for n in range(32)}}, "labels", "labels",
     "65535 bytes as stored"),
]


@pytest.mark.parametrize("sample, field, documented_on, says", BEYOND_THE_SCHEMA,
                         ids=["too old", "too far ahead", "non-ASCII value too long in bytes", "label set too large"])
def test_what_the_schema_cannot_state_its_description_says(sample, field, documented_on, says):
    _, errors = SampleValidator(DEFAULTS).validate_one(sample, now_ms=NOW_MS)
    assert _by_contract(sample) and [error.field for error in errors] == [field]
    assert says in _body_schema("/api/v1/metrics")["properties"][documented_on]["description"]


@pytest.mark.parametrize("count", [0, 1, DEFAULTS.max_bulk_samples, DEFAULTS.max_bulk_samples + 1])
def test_the_contract_and_the_servers_validator_agree_on_the_bulk_size(count):
    body = [{"metric": "m", "value": 1, "ts": NOW_MS}] * count
    _, errors = SampleValidator(DEFAULTS).validate_many(body, now_ms=NOW_MS)
    assert _by_contract(body, "/api/v1/metrics/bulk") == (not errors), errors[:1]


def test_the_real_api_judges_the_contracts_samples_as_the_schema_does(stack):
    """Over HTTP, through both the raw-JSON fast path and the thorough one (each body alone and in a
    bulk array): 202 exactly when the committed schema accepts the body."""
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        for sample in SAMPLES:
            for path, body in (("/api/v1/metrics", sample), ("/api/v1/metrics/bulk", [sample])):
                response = client.post(path, json=body)
                assert response.status_code in (202, 422), response.text
                assert (response.status_code == 202) == _by_contract(body, path), (path, response.text)
        too_many = [{"metric": "m", "value": 1}] * (DEFAULTS.max_bulk_samples + 1)
        assert client.post("/api/v1/metrics/bulk", json=too_many).status_code == 422
        assert not _by_contract(too_many, "/api/v1/metrics/bulk")
