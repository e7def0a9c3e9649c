"""Label-set operations shared by functions, aggregations and binary operators."""

import re

import re2

from ..matchers import MAX_REGEX_LENGTH
from ..samples import LABEL_NAME
from .errors import BAD_DATA, EXECUTION, PromQLError
from .values import Labels

NAME = "__name__"
# Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$. A fixed pattern on Python's engine (no user input).
_TEMPLATE = re.compile(r"\$(?:(\$)|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_REGEX_MEMORY_BYTES = 1 << 20


def drop_name(labels: Labels) -> Labels:
    if NAME not in labels:
        return labels
    return {k: v for k, v in labels.items() if k != NAME}


def keep_only(labels: Labels, names: list[str]) -> Labels:
    return {k: v for k, v in labels.items() if k in names}


def without(labels: Labels, names: list[str]) -> Labels:
    return {k: v for k, v in labels.items() if k not in names and k != NAME}


def signature(labels: Labels, on: bool, names: list[str]) -> tuple:
    """The matching key of binary operators: on(names) keeps those labels, ignoring(names) (and no
    modifier, names empty) drops them and always the metric name."""
    kept = keep_only(labels, names) if on else without(labels, names)
    return tuple(sorted(kept.items()))


def compile_capturing(pattern: str, function: str) -> "re2._Regexp":
    if len(pattern) > MAX_REGEX_LENGTH:
        raise PromQLError(BAD_DATA, f"regex in {function}() is longer than {MAX_REGEX_LENGTH} characters")
    options = re2.Options()
    options.dot_nl = True
    options.log_errors = False
    options.max_mem = _REGEX_MEMORY_BYTES
    try:
        return re2.compile(f"^(?:{pattern})$", options)
    except (re2.error, UnicodeEncodeError) as exc:
        raise PromQLError(EXECUTION, f"invalid regular expression in {function}(): {pattern}") from exc


def check_label_name(name: str, function: str) -> None:
    if not LABEL_NAME.fullmatch(name):
        raise PromQLError(EXECUTION, f"invalid destination label name in {function}(): {name}")


def expand(template: str, match) -> str:
    groups = [match.group(i) for i in range(match.re.groups + 1)]
    named = match.groupdict()

    def substitute(found: re.Match) -> str:
        if found.group(1):
            return "$"
        name = found.group(2) or found.group(3)
        if name.isdigit():
            index = int(name)
            return (groups[index] or "") if index < len(groups) else ""
        return named.get(name) or ""
    return _TEMPLATE.sub(substitute, template)


def label_replace(labels: Labels, regex, dst: str, replacement: str, src: str) -> Labels:
    match = regex.search(labels.get(src, ""))
    if match is None:
        return labels
    return _with_label(labels, dst, expand(replacement, match))


def label_join(labels: Labels, dst: str, separator: str, sources: list[str]) -> Labels:
    return _with_label(labels, dst, separator.join(labels.get(src, "") for src in sources))


def _with_label(labels: Labels, name: str, value: str) -> Labels:
    """A copy of labels with name set to value; an empty value removes the label."""
    out = dict(labels)
    if value:
        out[name] = value
    else:
        out.pop(name, None)
    return out
