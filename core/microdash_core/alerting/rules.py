"""Alert rules: what a rule says and the checks every writer (API, operator) applies."""

import math
import operator
from dataclasses import dataclass, field
from typing import Callable

import orjson

from ..bounds import MAX_JSON_TEXT_BYTES, has_control_characters
from ..errors import InvalidInput
from ..matchers import Matcher, parse_matchers
from ..promql import PromQLError
from ..samples import LABEL_NAME, METRIC_NAME
from .expressions import check_alert_expression

AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last")
NODATA_POLICIES = ("ok", "nodata", "firing")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
MAX_WINDOW_SECONDS = 7 * 24 * 3600
MAX_HOLD_SECONDS = 30 * 24 * 3600  # for_seconds, keep_firing_for_seconds
MAX_NODATA_AFTER = 10_000
MAX_NAME_LENGTH = 200
MAX_SEVERITY_LENGTH = 32
MAX_LABELS = 32
MAX_LABEL_VALUE_LENGTH = 1024
MAX_ANNOTATIONS = 32
MAX_ANNOTATION_LENGTH = 8192
MAX_CHANNELS = 50
MAX_CHANNEL_NAME_LENGTH = 100
MAX_EXPR_LENGTH = 2000


@dataclass(frozen=True)
class Rule:
    id: int
    tenant_id: int
    name: str
    metric: str
    matchers: tuple[str, ...]
    aggregation: str
    window_seconds: int
    comparison: str
    threshold: float
    recovery_threshold: float | None = None
    for_seconds: int = 0
    keep_firing_for_seconds: int = 0
    nodata_policy: str = "nodata"
    nodata_after: int = 1
    severity: str = "warning"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    # A PromQL expression instead of metric, matchers, aggregation and window: each series of its
    # instant result is one alert instance. Exactly one of metric and expr is set.
    expr: str | None = None

    def parsed_matchers(self) -> list[Matcher]:
        return parse_matchers(list(self.matchers))

    def holds(self, value: float) -> bool:
        """The alerting condition, e.g. value > threshold."""
        return COMPARISONS[self.comparison](value, self.threshold)

    def still_holds(self, value: float) -> bool:
        """While firing: the recovery threshold, when set, replaces the threshold (hysteresis)."""
        limit = self.threshold if self.recovery_threshold is None else self.recovery_threshold
        return COMPARISONS[self.comparison](value, limit)


def check_rule(rule: Rule) -> None:
    """Raise InvalidInput with the first problem of a rule written by a user."""
    _check_text(rule.name, "name", MAX_NAME_LENGTH)
    if rule.expr is None:
        _check_selection(rule)
    else:
        _check_expr(rule)
    if rule.aggregation not in AGGREGATIONS:
        raise InvalidInput(f"aggregation must be one of {', '.join(AGGREGATIONS)}", field="aggregation")
    if rule.comparison not in COMPARISONS:
        raise InvalidInput(f"comparison must be one of {' '.join(COMPARISONS)}", field="comparison")
    if rule.nodata_policy not in NODATA_POLICIES:
        raise InvalidInput(f"nodata_policy must be one of {', '.join(NODATA_POLICIES)}", field="nodata_policy")
    _check_durations(rule)
    _check_thresholds(rule)
    _check_text(rule.severity, "severity", MAX_SEVERITY_LENGTH)
    _check_labels(rule.labels)
    _check_annotations(rule.annotations)
    _check_channels(rule.channels)


def _check_selection(rule: Rule) -> None:
    if not METRIC_NAME.fullmatch(rule.metric) or len(rule.metric) > MAX_NAME_LENGTH:
        raise InvalidInput(f"metric must match [a-zA-Z_:][a-zA-Z0-9_:.]* (at most {MAX_NAME_LENGTH}),"
                           " or give expr instead", field="metric")
    try:
        rule.parsed_matchers()
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field="matchers") from exc
    check_json_size(list(rule.matchers), "matchers")


def _check_expr(rule: Rule) -> None:
    """The expression is bounded, then parsed: a rule that cannot be evaluated is never stored."""
    if rule.metric or rule.matchers:
        raise InvalidInput("give either metric (with matchers) or expr, not both", field="expr")
    if not 1 <= len(rule.expr) <= MAX_EXPR_LENGTH or not rule.expr.strip():
        raise InvalidInput(f"expr must have 1 to {MAX_EXPR_LENGTH} characters", field="expr")
    if has_control_characters(rule.expr, multiline=True):
        raise InvalidInput("expr must not contain control characters but tab and line breaks", field="expr")
    try:
        check_alert_expression(rule.expr)
    except PromQLError as exc:
        raise InvalidInput(f"expr: {exc.message}", field="expr") from exc


def _check_text(text: str, field_name: str, longest: int) -> None:
    if not 1 <= len(text) <= longest:
        raise InvalidInput(f"{field_name} must have 1 to {longest} characters", field=field_name)
    if has_control_characters(text):
        raise InvalidInput(f"{field_name} must not contain control characters or line breaks", field=field_name)


def _check_durations(rule: Rule) -> None:
    if not 1 <= rule.window_seconds <= MAX_WINDOW_SECONDS:
        raise InvalidInput(f"window_seconds must be between 1 and {MAX_WINDOW_SECONDS}", field="window_seconds")
    for name in ("for_seconds", "keep_firing_for_seconds"):
        if not 0 <= getattr(rule, name) <= MAX_HOLD_SECONDS:
            raise InvalidInput(f"{name} must be between 0 and {MAX_HOLD_SECONDS}", field=name)
    if not 1 <= rule.nodata_after <= MAX_NODATA_AFTER:
        raise InvalidInput(f"nodata_after must be between 1 and {MAX_NODATA_AFTER}", field="nodata_after")


def _check_thresholds(rule: Rule) -> None:
    if not math.isfinite(rule.threshold):
        raise InvalidInput("threshold must be a finite number", field="threshold")
    if rule.recovery_threshold is not None and not math.isfinite(rule.recovery_threshold):
        raise InvalidInput("recovery_threshold must be a finite number", field="recovery_threshold")
    _check_recovery(rule)


def _check_labels(labels: dict[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"more than {MAX_LABELS} labels", field="labels")
    for name, value in labels.items():
        if not LABEL_NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
            raise InvalidInput(f"bad label name {name[:MAX_NAME_LENGTH]!r}", field="labels")
        if len(value) > MAX_LABEL_VALUE_LENGTH or has_control_characters(value):
            raise InvalidInput(f"label {name} must have at most {MAX_LABEL_VALUE_LENGTH} characters and no control"
                               " characters", field="labels")
    check_json_size(labels, "labels")


def _check_annotations(annotations: dict[str, str]) -> None:
    if len(annotations) > MAX_ANNOTATIONS:
        raise InvalidInput(f"more than {MAX_ANNOTATIONS} annotations", field="annotations")
    for name, text in annotations.items():
        _check_text(name, "annotations", MAX_NAME_LENGTH)
        if len(text) > MAX_ANNOTATION_LENGTH or has_control_characters(text, multiline=True):
            raise InvalidInput(f"annotation {name} must have at most {MAX_ANNOTATION_LENGTH} characters and no"
                               " control characters but tab and line breaks", field="annotations")
    check_json_size(annotations, "annotations")


def check_json_size(value: list | dict, field_name: str) -> None:
    """A list or object stored as JSON in a TEXT column must fit it, in UTF-8 bytes."""
    if len(orjson.dumps(value)) > MAX_JSON_TEXT_BYTES:
        raise InvalidInput(f"{field_name} take more than {MAX_JSON_TEXT_BYTES} bytes as JSON", field=field_name)


def _check_channels(channels: tuple[str, ...]) -> None:
    if len(channels) > MAX_CHANNELS:
        raise InvalidInput(f"more than {MAX_CHANNELS} channels", field="channels")
    for name in channels:
        _check_text(name, "channels", MAX_CHANNEL_NAME_LENGTH)


def _check_recovery(rule: Rule) -> None:
    """A recovery threshold must lie on the not-yet-recovered side, or the alert would flap."""
    if rule.recovery_threshold is None:
        return
    if rule.comparison in ("==", "!="):
        raise InvalidInput("recovery_threshold needs a comparison of >, >=, < or <=", field="recovery_threshold")
    wrong_side = (rule.recovery_threshold > rule.threshold if rule.comparison.startswith(">")
                  else rule.recovery_threshold < rule.threshold)
    if wrong_side:
        raise InvalidInput("recovery_threshold must be on the far side of threshold "
                           "(below it for > and >=, above it for < and <=)", field="recovery_threshold")
