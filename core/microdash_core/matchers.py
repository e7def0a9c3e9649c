"""Label matchers in the Prometheus style: ``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``.

Regexes are fully anchored and ``.`` matches a newline, as in Prometheus. A matcher on a missing
label compares against "". Tenants write these regexes, so they run on RE2, whose matching time is
linear in the subject: a pattern such as ``(a+)+b`` cannot stall the process that evaluates it.
RE2 refuses what it cannot match in linear time (backreferences, lookaround).
"""

import functools
import re
from dataclasses import dataclass, field

import re2

from .errors import InvalidInput
from .samples import LABEL_NAME

# Safe on Python's engine: one fixed pattern, anchored, no nested quantifier.
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)(.*)", re.DOTALL)
MAX_REGEX_LENGTH = 512
MAX_MATCHER_LENGTH = 1024
MAX_MATCHERS = 20
# A label value longer than this never matches a regex (=~ is false, !~ true). Stored label values
# are far shorter (MICRODASH_MAX_LABEL_VALUE_LENGTH); this bounds what any caller can make RE2 scan.
MAX_SUBJECT_LENGTH = 4096
# RE2's budget for one compiled pattern (program and DFA cache); past it compiling fails, or
# matching falls back to RE2's slower, still linear, NFA.
_REGEX_MEMORY_BYTES = 1 << 20


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: re2._Regexp | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex_matches(actual)
        return found if self.op == "=~" else not found

    def _regex_matches(self, actual: str) -> bool:
        if len(actual) > MAX_SUBJECT_LENGTH:
            return False
        try:
            return self._regex.fullmatch(actual) is not None  # type: ignore[union-attr]
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text, so no match
            return False


def _options() -> re2.Options:
    options = re2.Options()
    options.dot_nl = True
    options.never_capture = True
    options.log_errors = False  # a tenant's bad pattern is a 422, not a line in the server log
    options.max_mem = _REGEX_MEMORY_BYTES
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re2._Regexp:
    """The pattern compiled by RE2; raises re2.error for one RE2 refuses. Cached: silences and
    rules compile the same few patterns at every evaluation."""
    return re2.compile(pattern, _OPTIONS)


def parse_matcher(text: str) -> Matcher:
    if len(text) > MAX_MATCHER_LENGTH:
        raise InvalidInput(f"a label matcher is longer than {MAX_MATCHER_LENGTH} characters")
    match = _MATCHER.fullmatch(text.strip())
    if not match or not LABEL_NAME.fullmatch(match.group(1)):
        raise InvalidInput(f"bad label matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex")
    name, op, value = match.groups()
    return make_matcher(name, op, value.strip().strip('"'), shown_as=text)


def make_matcher(name: str, op: str, value: str, *, shown_as: str | None = None) -> Matcher:
    """A matcher from its parts (a PromQL parser's, say); regexes compiled by RE2. `shown_as` is
    how errors quote it (default name op "value")."""
    shown_as = shown_as if shown_as is not None else f'{name}{op}"{value}"'
    if op not in ("=", "!=", "=~", "!~"):
        raise InvalidInput(f"bad label matcher {shown_as!r}: unknown operator {op!r}")
    regex = None
    if op in ("=~", "!~"):
        if len(value) > MAX_REGEX_LENGTH:
            raise InvalidInput(f"regex in matcher {shown_as!r} is longer than {MAX_REGEX_LENGTH}")
        try:
            regex = compile_regex(value)
        except re2.error as exc:
            raise InvalidInput(f"bad regex in matcher {shown_as!r}: {_reason(exc)}; regexes use RE2 syntax, "
                               "without backreferences or lookaround") from exc
        except UnicodeEncodeError as exc:
            raise InvalidInput(f"regex in matcher {shown_as!r} is not valid Unicode text") from exc
    return Matcher(name, op, value, regex)


def _reason(exc: re2.error) -> str:
    reason = exc.args[0] if exc.args else exc
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def parse_matchers(texts: list[str]) -> list[Matcher]:
    if len(texts) > MAX_MATCHERS:
        raise InvalidInput(f"more than {MAX_MATCHERS} label matchers")
    return [parse_matcher(text) for text in texts]


def all_match(matchers: list[Matcher], labels: dict[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)
