"""Alert rules: what a rule says and the checks every writer (API, operator) applies."""

import operator
from dataclasses import dataclass, field
from typing import Callable

from ..errors import InvalidInput
from ..matchers import Matcher, parse_matchers
from ..samples import LABEL_NAME, METRIC_NAME

AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last")
NODATA_POLICIES = ("ok", "nodata", "firing")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
MAX_WINDOW_SECONDS = 7 * 24 * 3600


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
    if not rule.name or len(rule.name) > 200:
        raise InvalidInput("name must have 1 to 200 characters", field="name")
    if not METRIC_NAME.fullmatch(rule.metric):
        raise InvalidInput("metric must match [a-zA-Z_:][a-zA-Z0-9_:.]*", field="metric")
    try:
        rule.parsed_matchers()
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field="matchers") from exc
    if rule.aggregation not in AGGREGATIONS:
        raise InvalidInput(f"aggregation must be one of {', '.join(AGGREGATIONS)}", field="aggregation")
    if rule.comparison not in COMPARISONS:
        raise InvalidInput(f"comparison must be one of {' '.join(COMPARISONS)}", field="comparison")
    if rule.nodata_policy not in NODATA_POLICIES:
        raise InvalidInput(f"nodata_policy must be one of {', '.join(NODATA_POLICIES)}", field="nodata_policy")
    if not 1 <= rule.window_seconds <= MAX_WINDOW_SECONDS:
        raise InvalidInput(f"window_seconds must be between 1 and {MAX_WINDOW_SECONDS}", field="window_seconds")
    if rule.for_seconds < 0 or rule.keep_firing_for_seconds < 0 or rule.nodata_after < 1:
        raise InvalidInput("for_seconds and keep_firing_for_seconds must be >= 0, nodata_after >= 1")
    _check_recovery(rule)
    for name in rule.labels:
        if not LABEL_NAME.fullmatch(name):
            raise InvalidInput(f"bad label name {name!r}", field="labels")


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
