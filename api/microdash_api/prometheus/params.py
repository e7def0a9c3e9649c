"""Request parameters the way Prometheus reads them: from the query string and, for POST, an
application/x-www-form-urlencoded body; times as RFC 3339 or Unix seconds, durations as
Prometheus durations ("5m", "1h30m") or float seconds; series selectors for match[]."""

import math
import re
from datetime import datetime
from urllib.parse import parse_qsl

import promql_parser
from fastapi import Request

from microdash_core.bounds import MAX_EPOCH_MS
from microdash_core.errors import InvalidInput
from microdash_core.matchers import MAX_MATCHERS, Matcher, make_matcher

from .envelope import PrometheusApiError, bad_parameter

FORM = "application/x-www-form-urlencoded"
MAX_SELECTORS = 100
MAX_SELECTOR_LENGTH = 4096
MAX_QUERY_LENGTH = 64 * 1024
# What client_golang sends for "no bound" (years Python's datetime cannot hold).
_MIN_TIME_TEXT = "-292273086-05-16T16:47:06Z"
_MAX_TIME_TEXT = "292277025-08-18T07:12:54.999999999Z"
# Prometheus' model.ParseDuration. promql_parser.parse_duration reads "250ms" as 250 microseconds.
_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


class Params:
    """The merged parameters of one request (query string first, then the form body)."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self._pairs = pairs

    def get(self, name: str) -> str | None:
        return next((value for key, value in self._pairs if key == name), None)

    def all(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


async def read_params(request: Request) -> Params:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if body and content_type != FORM:
            raise PrometheusApiError("bad_data", f"a POST body must be {FORM}, not {content_type or 'untyped'}")
        try:
            pairs += parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise PrometheusApiError("bad_data", "the form body is not UTF-8") from None
    return Params(pairs)


def parse_time(name: str, text: str) -> int:
    """Epoch milliseconds, rounded like Prometheus (to the millisecond)."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _parse_rfc3339(name, text)
    if not math.isfinite(seconds) or abs(seconds * 1000) > MAX_EPOCH_MS:
        raise bad_parameter(name, f"cannot parse {text!r} to a valid timestamp")
    return round(seconds * 1000)


def _parse_rfc3339(name: str, text: str) -> int:
    if text == _MIN_TIME_TEXT:
        return -MAX_EPOCH_MS
    if text == _MAX_TIME_TEXT:
        return MAX_EPOCH_MS
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise bad_parameter(name, f"cannot parse {text!r} to a valid timestamp") from None
    if parsed.tzinfo is None:
        raise bad_parameter(name, f"cannot parse {text!r} to a valid timestamp (RFC 3339 needs a zone)")
    return round(parsed.timestamp() * 1000)


def time_or(params: Params, name: str, default_ms: int) -> int:
    text = params.get(name)
    return default_ms if text is None or text == "" else parse_time(name, text)


def parse_duration(name: str, text: str) -> int:
    """Milliseconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        units = _DURATION.fullmatch(text) if len(text) < 100 else None
        if not text or units is None:
            raise bad_parameter(name, f"cannot parse {text!r} to a valid duration") from None
        return sum(int(count) * unit for count, unit in zip(units.groups(), _DURATION_UNITS_MS) if count)
    if not math.isfinite(seconds) or abs(seconds * 1000) > MAX_EPOCH_MS:
        raise bad_parameter(name, f"cannot parse {text!r} to a valid duration")
    return round(seconds * 1000)


def required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise bad_parameter(name, "missing")
    return value


def query_text(params: Params) -> str:
    text = required(params, "query")
    if len(text) > MAX_QUERY_LENGTH:
        raise bad_parameter("query", f"longer than {MAX_QUERY_LENGTH} characters")
    return text


def limit_of(params: Params) -> int | None:
    text = params.get("limit")
    if text is None or text == "":
        return None
    try:
        limit = int(text)
    except ValueError:
        raise bad_parameter("limit", f"cannot parse {text!r} to a valid limit") from None
    if limit < 0:
        raise bad_parameter("limit", "must not be negative")
    return limit or None


def selectors(params: Params, *, required_: bool) -> list[list[Matcher]]:
    """match[]: each a series selector such as up{job="node"}; an `or` inside braces gives several."""
    texts = params.all("match[]")
    if required_ and not texts:
        raise PrometheusApiError("bad_data", "no match[] parameter provided")
    if len(texts) > MAX_SELECTORS:
        raise bad_parameter("match[]", f"more than {MAX_SELECTORS} selectors")
    return [matchers for text in texts for matchers in _selector(text)]


def _selector(text: str) -> list[list[Matcher]]:
    if len(text) > MAX_SELECTOR_LENGTH:
        raise bad_parameter("match[]", f"a selector is longer than {MAX_SELECTOR_LENGTH} characters")
    try:
        parsed = promql_parser.parse(text)
    except ValueError as exc:
        raise bad_parameter("match[]", f"{text!r}: {exc}") from None
    if not isinstance(parsed, promql_parser.VectorSelector):
        raise bad_parameter("match[]", f"{text!r} is not a series selector")
    groups = parsed.matchers.or_matchers or [parsed.matchers.matchers]
    name = [make_matcher("__name__", "=", parsed.name)] if parsed.name else []
    try:
        built = [name + [make_matcher(m.name, _OPS[str(m.op)], m.value) for m in group] for group in groups]
    except InvalidInput as exc:
        raise bad_parameter("match[]", str(exc)) from None
    if any(len(group) > MAX_MATCHERS for group in built):
        raise bad_parameter("match[]", f"more than {MAX_MATCHERS} matchers in one selector")
    return built
