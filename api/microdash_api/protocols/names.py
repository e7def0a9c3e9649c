"""Names from other protocols made into microdash metric and label names (docs/integrations.md).

Influx measurements, fields and tags and OpenTelemetry metric and attribute names allow characters
our names do not ("-", "/", " ", non-ASCII). Like Prometheus's own translation of OpenTelemetry
names, every character outside the charset becomes "_" and a name that cannot start as it is gets
a "_" in front, so a real client's batch is stored rather than refused for a dash in a tag key.
Names starting with "__" stay reserved: the validator refuses them."""

import re

_NOT_METRIC_CHAR = re.compile(r"[^a-zA-Z0-9_:.]")
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:.]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def metric_name(name: str) -> str:
    if _METRIC_NAME.fullmatch(name):
        return name
    name = _NOT_METRIC_CHAR.sub("_", name)
    return name if _METRIC_NAME.fullmatch(name) else "_" + name


def label_name(name: str) -> str:
    if _LABEL_NAME.fullmatch(name):
        return name
    name = _NOT_LABEL_CHAR.sub("_", name)
    return name if _LABEL_NAME.fullmatch(name) else "_" + name


# Names found valid as they are: most requests repeat a few, so a set lookup replaces the regexes
# on the hot path (bounded; cleared when full).
_VALID_LABEL_NAMES: set[str] = set()
KNOWN_NAMES_LIMIT = 100_000


def labels_from(pairs: dict[str, str]) -> dict[str, str]:
    """Labels with sanitised names; values of names that become one ("a-b" and "a_b") are joined
    with ";" in the order of their original names, as Prometheus's OpenTelemetry translation does.
    Returns `pairs` itself when every name is valid already."""
    if _VALID_LABEL_NAMES.issuperset(pairs):
        return pairs
    if all(_LABEL_NAME.fullmatch(name) for name in pairs):
        if len(_VALID_LABEL_NAMES) > KNOWN_NAMES_LIMIT:
            _VALID_LABEL_NAMES.clear()
        _VALID_LABEL_NAMES.update(pairs)
        return pairs
    labels: dict[str, str] = {}
    clashing = False
    for name, value in pairs.items():
        key = label_name(name)
        clashing = clashing or key in labels
        labels[key] = value
    return _joined(pairs) if clashing else labels


def _joined(pairs: dict[str, str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name in sorted(pairs):
        key = label_name(name)
        labels[key] = f"{labels[key]};{pairs[name]}" if key in labels else pairs[name]
    return labels
