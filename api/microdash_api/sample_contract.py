"""The wire contract of a JSON sample (the bodies of POST /api/v1/metrics and /bulk, and an MQTT
payload) as contract/openapi.json documents it: SampleIn and the bulk body's schema.

Validation itself is microdash_core.samples (hand-written for speed, reporting every error of every
item); these only describe it, for the dashboard's types and the agent's tests. The limits a
deployment's settings choose are written at the settings' defaults, read from the Settings class and
never from this process's environment, so the committed document is the same on every machine; the
descriptions name the setting that moves each one."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from microdash_core.samples import MAX_ABS_VALUE, METRIC_NAME
from microdash_core.settings import Settings


def _default(setting: str) -> int:
    return Settings.model_fields[setting].default


def _variable(setting: str) -> str:
    return f"MICRODASH_{setting.upper()}"


MAX_METRIC_NAME_LENGTH = _default("max_metric_name_length")
MAX_LABELS = _default("max_labels")
MAX_LABEL_NAME_LENGTH = _default("max_label_name_length")
MAX_LABEL_VALUE_BYTES = _default("max_label_value_length")
MAX_LABEL_SET_BYTES = _default("max_label_set_bytes")
MAX_BULK_SAMPLES = _default("max_bulk_samples")
MAX_SAMPLE_AGE_SECONDS = _default("max_sample_age_seconds")
MAX_SAMPLE_FUTURE_SECONDS = _default("max_sample_future_seconds")

# microdash_core.samples.LABEL_NAME without the reserved "__" prefix, and without a lookahead, which
# not every JSON Schema tool's regex engine (or input generator) handles.
LABEL_NAME_PATTERN = "^(?:_|(?:[a-zA-Z]|_[a-zA-Z0-9])[a-zA-Z0-9_]*)$"

METRIC_DOC = (f"`[a-zA-Z_:][a-zA-Z0-9_:.]*`, at most {MAX_METRIC_NAME_LENGTH} characters by default"
              f" ({_variable('max_metric_name_length')}, which a deployment may lower)")
TS_DOC = (f"epoch milliseconds, an integral number (1764000000000, or 1764000000000.0 as some encoders write"
          f" it); the server's time when absent or null. Accepted from {MAX_SAMPLE_AGE_SECONDS} s before"
          f" the server's time to {MAX_SAMPLE_FUTURE_SECONDS} s after it by default"
          f" ({_variable('max_sample_age_seconds')}, {_variable('max_sample_future_seconds')}): a window no"
          f" JSON Schema keyword can state")
LABELS_DOC = (f"at most {MAX_LABELS} labels ({_variable('max_labels')}); names Prometheus' label names,"
              f" not starting with `__`, at most {MAX_LABEL_NAME_LENGTH} characters"
              f" ({_variable('max_label_name_length')}); values at most {MAX_LABEL_VALUE_BYTES} bytes in UTF-8"
              f" ({_variable('max_label_value_length')}; maxLength counts characters, so a value with non-ASCII"
              f" characters can be refused below it); the whole set at most {MAX_LABEL_SET_BYTES} bytes as stored"
              f" (canonical JSON; {_variable('max_label_set_bytes')}). These are the defaults: a deployment may"
              f" lower them, and raise the count and the lengths up to what storage holds")
BULK_DOC = (f"one to {MAX_BULK_SAMPLES} samples by default ({_variable('max_bulk_samples')}, a deployment's"
            f" setting), accepted all or none")

MetricName = Annotated[str, StringConstraints(pattern=f"^{METRIC_NAME.pattern}$", max_length=MAX_METRIC_NAME_LENGTH)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE_BYTES)]
LABEL_NAMES = {"propertyNames": {"pattern": LABEL_NAME_PATTERN, "maxLength": MAX_LABEL_NAME_LENGTH}}


class SampleIn(BaseModel):
    """One sample. The limits below are the server's default settings; a deployment's settings may
    lower them (or raise some), and its server refuses what they refuse with a 422 naming the field."""

    model_config = ConfigDict(extra="forbid")

    metric: MetricName = Field(description=METRIC_DOC, examples=["cpu.usage"])
    value: float = Field(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE, description="a finite number (sums must not overflow)",
                         examples=[12.5])
    ts: int | None = Field(None, description=TS_DOC, examples=[1764000000000])
    labels: dict[str, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS, description=LABELS_DOC,
                                          examples=[{"host": "n1"}], json_schema_extra=LABEL_NAMES)


def bulk_body_schema() -> dict:
    return {"type": "array", "items": SampleIn.model_json_schema(), "minItems": 1, "maxItems": MAX_BULK_SAMPLES,
            "description": BULK_DOC}
