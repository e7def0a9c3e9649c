"""Influx line protocol decoded into sample items, with the line each item came from.

Each line is parsed by line-protocol-parser (a C parser aligned with InfluxDB's, escaping rules
included); this module splits the body into lines, turns every numeric field into one sample
named `<measurement>.<field>` with the tags as labels, and converts timestamps to milliseconds.

Given the validator, decode first tries the fast path: each series (measurement, field and tags)
is named and checked once (the validator remembers it) and its samples become validated sample
tuples directly, with only the value's bounds and the timestamp's window checked. At the first
sample not plainly valid it gives up, and the body is decoded into sample items for
validate_many, which says what is wrong, as it always did."""

from dataclasses import dataclass, field
from functools import partial

from line_protocol_parser import LineFormatError, parse_line

from microdash_core.samples import MAX_ABS_VALUE, PlainlyValid, SampleValidator

from .names import labels_from, metric_name

NS_PER_MS = 1_000_000
# Timestamp unit -> (multiplier, divisor) to milliseconds.
_TO_MS = {"ns": (1, NS_PER_MS), "us": (1, 1_000), "ms": (1, 1), "s": (1_000, 1), "m": (60_000, 1),
          "h": (3_600_000, 1)}
V2_PRECISIONS = {"ns": "ns", "us": "us", "ms": "ms", "s": "s"}
# InfluxDB 1.x's /write also takes the one-letter forms and minutes and hours.
V1_PRECISIONS = {**V2_PRECISIONS, "n": "ns", "u": "us", "m": "m", "h": "h"}


class LineError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


class TooManySamples(Exception):
    pass


@dataclass
class DecodedLines:
    items: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line number of each item
    skipped_string_fields: int = 0


class _NotPlainlyValid(Exception):
    pass


def decode(body: bytes, *, precision: str, max_samples: int, validator: SampleValidator | None = None,
           now_ms: int | None = None) -> DecodedLines:
    """Raises LineError (a malformed line, naming it) or TooManySamples (more than `max_samples`).
    The items are validated samples (a PlainlyValid list) when the validator finds every one
    plainly valid at now_ms, else sample items for validate_many."""
    if validator is not None and now_ms is not None:
        try:
            return _decode(body, precision, max_samples, _PlainlyValidPoints(validator, now_ms))
        except _NotPlainlyValid:
            pass
    names: dict[tuple[str, str], str] = {}  # (measurement, field) -> metric name, for this request
    return _decode(body, precision, max_samples, partial(_add_point, names=names))


def _decode(body: bytes, precision: str, max_samples: int, add_point) -> DecodedLines:
    multiplier, divisor = _TO_MS[precision]
    decoded = DecodedLines()
    for number, line in logical_lines(_text(body)):
        try:
            point = parse_line(line)
        except LineFormatError as exc:
            raise LineError(number, str(exc)) from None
        if point is not None:  # None: a comment
            add_point(decoded, number, point, multiplier, divisor)
            if len(decoded.items) > max_samples:
                raise TooManySamples(f"more than {max_samples} samples in one request")
    return decoded


class _PlainlyValidPoints:
    """Adds a point's samples as validated tuples, or raises _NotPlainlyValid (the caller then
    decodes the body again into sample items). Gives up where _add_point and validate_many
    would differ in the least: the same names, labels and values, refused where they would be."""

    def __init__(self, validator: SampleValidator, now_ms: int):
        self.known_series = validator.plainly_valid_series
        self.now_ms = now_ms
        self.oldest, self.newest = validator.sample_window(now_ms)

    def __call__(self, decoded: DecodedLines, number: int, point: dict, multiplier: int, divisor: int) -> None:
        if type(decoded.items) is not PlainlyValid:
            decoded.items = PlainlyValid()
        time = point["time"]
        if time is None:
            ts = self.now_ms
        else:
            ts = time * multiplier // divisor
            if not self.oldest <= ts <= self.newest:
                raise _NotPlainlyValid
        measurement, tags = point["measurement"], tuple(point["tags"].items())
        for name, value in point["fields"].items():
            if type(value) is str:
                decoded.skipped_string_fields += 1
                continue
            value = float(value)
            if not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:  # also false for NaN
                raise _NotPlainlyValid
            series = self.known_series((measurement, name, tags), _series)
            if series is None:
                raise _NotPlainlyValid
            decoded.items.append((series[0], series[1], ts, value))
            decoded.lines.append(number)


def _series(key: tuple[str, str, tuple]) -> tuple[str, dict[str, str]]:
    measurement, name, tags = key
    return metric_name(f"{measurement}.{name}"), labels_from(dict(tags))


def _add_point(decoded: DecodedLines, number: int, point: dict, multiplier: int, divisor: int,
               names: dict[tuple[str, str], str]) -> None:
    measurement = point["measurement"]
    labels = labels_from(point["tags"])
    time = point["time"]
    ts = None if time is None else time * multiplier // divisor
    for name, value in point["fields"].items():
        if type(value) is str:
            decoded.skipped_string_fields += 1
            continue
        metric = names.get((measurement, name))
        if metric is None:
            metric = names[measurement, name] = metric_name(f"{measurement}.{name}")
        item = {"metric": metric, "value": float(value), "labels": labels}
        if ts is not None:
            item["ts"] = ts
        decoded.items.append(item)
        decoded.lines.append(number)


def _text(body: bytes) -> str:
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise LineError(body.count(b"\n", 0, exc.start) + 1, "not valid UTF-8") from None


def logical_lines(text: str):
    """(line number, line) for each non-blank line; a newline inside a quoted string field value
    does not end its line, as in InfluxDB's own scanner."""
    parts = text.split("\n")
    index = 0
    while index < len(parts):
        first, line = index, parts[index]
        if '"' in line:
            state = _quote_state(line, _START)
            while state.in_string and index + 1 < len(parts):
                index += 1
                state = _quote_state(parts[index], state)
            line = "\n".join(parts[first:index + 1])
        index += 1
        if line.strip():
            yield first + 1, line


@dataclass(frozen=True)
class _QuoteState:
    in_fields: bool = False
    in_string: bool = False


_START = _QuoteState()


def _quote_state(part: str, state: _QuoteState) -> _QuoteState:
    """Where a line stands after `part`: in its field set yet, and inside a string field value.
    Quotes are literal in the measurement and tags; a backslash escapes the next character."""
    in_fields, in_string, escaped, seen_text = state.in_fields, state.in_string, False, state.in_fields
    for char in part:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_string:
            in_string = char != '"'
        elif in_fields:
            in_string = char == '"'
        elif char == " " and seen_text:
            in_fields = True
        else:
            seen_text = seen_text or char != " "
    return _QuoteState(in_fields, in_string)
