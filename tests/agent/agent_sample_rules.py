"""A local copy of the server's sample rules (microdash_core.samples), so that the agent's tests
check its output without depending on the server's packages."""

import math
import re

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:.]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
ALLOWED_FIELDS = {"metric", "value", "ts", "labels"}
MAX_LABELS = 32


def sample_problems(sample: object) -> list[str]:
    if not isinstance(sample, dict):
        return ["not a JSON object"]
    problems = [f"unknown field {name}" for name in sample.keys() - ALLOWED_FIELDS]
    metric, value, ts, labels = (sample.get(name) for name in ("metric", "value", "ts", "labels"))
    if not isinstance(metric, str) or not METRIC_NAME.fullmatch(metric) or len(metric) > 200:
        problems.append(f"bad metric name {metric!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"bad value {value!r}")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int)):
        problems.append(f"bad ts {ts!r}")
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
        problems.append(f"bad labels {labels!r}")
        return problems
    for name, label_value in labels.items():
        if not LABEL_NAME.fullmatch(name) or name.startswith("__") or len(name) > 100:
            problems.append(f"bad label name {name!r}")
        if not isinstance(label_value, str) or len(label_value) > 1024:
            problems.append(f"bad label value {name}={label_value!r}")
    return problems


def assert_valid_samples(samples: object) -> None:
    assert isinstance(samples, list) and samples, "expected a non-empty JSON array"
    problems = {index: sample_problems(sample) for index, sample in enumerate(samples)}
    problems = {index: found for index, found in problems.items() if found}
    assert not problems, problems
