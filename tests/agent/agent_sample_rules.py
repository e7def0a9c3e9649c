"""What the agent sends, checked against the wire contract (contract/openapi.json: the JSON Schema of
POST /api/v1/metrics/bulk's body, which is also the MQTT payload), plus the limits the server's
default settings add (microdash_core.samples and Settings: lengths and counts the contract leaves to
the settings). Read from the committed file, so the agent's tests need none of the server's packages."""

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

CONTRACT = Path(__file__).resolve().parents[2] / "contract" / "openapi.json"
BULK_PATH = "/api/v1/metrics/bulk"
SINGLE_PATH = "/api/v1/metrics"
# The server's default settings (max_metric_name_length, max_labels, max_label_name_length, max_label_value_length).
MAX_METRIC_NAME_LENGTH = 200
MAX_LABELS = 32
MAX_LABEL_NAME_LENGTH = 100
MAX_LABEL_VALUE_BYTES = 1024


def request_body_schema(path: str) -> dict:
    operation = json.loads(CONTRACT.read_text())["paths"][path]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


@cache
def body_validator(path: str = BULK_PATH) -> Draft202012Validator:
    schema = request_body_schema(path)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def contract_problems(body: object, path: str = BULK_PATH) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
            for error in body_validator(path).iter_errors(body)]


def default_limit_problems(sample: dict) -> list[str]:
    problems = []
    if len(sample.get("metric", "")) > MAX_METRIC_NAME_LENGTH:
        problems.append(f"metric name longer than {MAX_METRIC_NAME_LENGTH}")
    labels = sample.get("labels", {})
    if len(labels) > MAX_LABELS:
        problems.append(f"more than {MAX_LABELS} labels")
    for name, value in labels.items():
        if name.startswith("__") or len(name) > MAX_LABEL_NAME_LENGTH:
            problems.append(f"label name {name!r} is reserved or too long")
        if len(str(value).encode()) > MAX_LABEL_VALUE_BYTES:
            problems.append(f"label {name} longer than {MAX_LABEL_VALUE_BYTES} bytes")
    return problems


def assert_valid_samples(samples: object) -> None:
    """`samples` as the agent sends it: a non-empty JSON array the server accepts whole."""
    assert isinstance(samples, list) and samples, "expected a non-empty JSON array"
    assert not (problems := contract_problems(samples)), problems[:20]
    problems = {index: found for index, sample in enumerate(samples) if (found := default_limit_problems(sample))}
    assert not problems, problems
