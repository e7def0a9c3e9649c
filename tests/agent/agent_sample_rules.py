"""What the agent sends, checked against the wire contract (contract/openapi.json: the JSON Schema of
POST /api/v1/metrics/bulk's body, which is also the MQTT payload), which carries the limits at the
server's default settings, plus the one it can only describe that a sample can break on its own:
label values are measured in UTF-8 bytes, maxLength in characters. Read from the committed file, so
the agent's tests need none of the server's packages."""

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

CONTRACT = Path(__file__).resolve().parents[2] / "contract" / "openapi.json"
BULK_PATH = "/api/v1/metrics/bulk"
SINGLE_PATH = "/api/v1/metrics"


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


@cache
def label_value_max_bytes() -> int:
    """The default, in bytes of UTF-8 as the labels' description says."""
    return request_body_schema(SINGLE_PATH)["properties"]["labels"]["additionalProperties"]["maxLength"]


def label_value_bytes_problems(sample: dict) -> list[str]:
    most = label_value_max_bytes()
    return [f"label {name} longer than {most} bytes" for name, value in sample.get("labels", {}).items()
            if len(str(value).encode()) > most]


def assert_valid_samples(samples: object) -> None:
    """`samples` as the agent sends it: a non-empty JSON array the server accepts whole."""
    assert isinstance(samples, list) and samples, "expected a non-empty JSON array"
    assert not (problems := contract_problems(samples)), problems[:20]
    problems = {index: found for index, sample in enumerate(samples) if (found := label_value_bytes_problems(sample))}
    assert not problems, problems
