"""Label matchers in the Prometheus style: ``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``.

Regexes are fully anchored, as in Prometheus. A matcher on a missing label compares against "".
"""

import re
from dataclasses import dataclass, field

from .errors import InvalidInput
from .samples import LABEL_NAME

_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)(.*)", re.DOTALL)
MAX_REGEX_LENGTH = 512


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex.fullmatch(actual) is not None  # type: ignore[union-attr]
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    match = _MATCHER.fullmatch(text.strip())
    if not match or not LABEL_NAME.fullmatch(match.group(1)):
        raise InvalidInput(f"bad label matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex")
    name, op, value = match.groups()
    value = value.strip().strip('"')
    regex = None
    if op in ("=~", "!~"):
        if len(value) > MAX_REGEX_LENGTH:
            raise InvalidInput(f"regex in matcher {text!r} is longer than {MAX_REGEX_LENGTH}")
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise InvalidInput(f"bad regex in matcher {text!r}: {exc}") from exc
    return Matcher(name, op, value, regex)


def parse_matchers(texts: list[str]) -> list[Matcher]:
    return [parse_matcher(text) for text in texts]


def all_match(matchers: list[Matcher], labels: dict[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)
