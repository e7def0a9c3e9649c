"""/api/v1/query's parameters read straight from the query string, for its plain route.

FastAPI's parameter and dependency resolution was a tenth of a raw query's CPU (~0.4 ms a
request). The plain route (routes/query.py) takes a request only when every parameter here is
plainly valid: known keys, each scalar once, digits within the documented bounds, a listed
aggregation and resolution, at most MAX_MATCHERS matchers. Anything else is left to the
documented FastAPI route, so every refusal (its status, detail and field errors) stays FastAPI's.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from microdash_core.bounds import MAX_EPOCH_MS
from microdash_core.matchers import MAX_MATCHERS

AGGREGATIONS = frozenset({"avg", "min", "max", "sum", "count", "last"})
RESOLUTIONS = frozenset({"auto", "raw", "1m", "5m"})
_SCALARS = frozenset({"metric", "start", "end", "step", "aggregation", "resolution"})
# Plain decimal digits only: pydantic's lax int parsing also takes signs, blanks, leading zeros,
# "1_000" and "5.0"; those go to the FastAPI route, which accepts or refuses them as before.
_DIGITS = re.compile(r"0|[1-9][0-9]{0,17}")


@dataclass(frozen=True)
class QueryParams:
    metric: str
    match: list[str]
    start: int | None
    end: int | None
    step: int | None
    aggregation: str
    resolution: str


def plain_query_params(query_string: bytes) -> QueryParams | None:
    """The parameters when the FastAPI route would accept them as they are; None otherwise."""
    scalars: dict[str, str] = {}
    match: list[str] = []
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    except ValueError:
        return None
    for key, value in pairs:
        if key == "match":
            match.append(value)
        elif key in _SCALARS and key not in scalars:
            scalars[key] = value
        else:  # an unknown or repeated key
            return None
    if "metric" not in scalars or len(match) > MAX_MATCHERS:
        return None
    aggregation, resolution = scalars.get("aggregation", "avg"), scalars.get("resolution", "auto")
    if aggregation not in AGGREGATIONS or resolution not in RESOLUTIONS:
        return None
    bounds = {"start": 0, "end": 0, "step": 1}
    numbers: dict[str, int | None] = {}
    for key, lowest in bounds.items():
        text = scalars.get(key)
        if text is None:
            numbers[key] = None
            continue
        if not _DIGITS.fullmatch(text) or not lowest <= int(text) <= MAX_EPOCH_MS:
            return None
        numbers[key] = int(text)
    return QueryParams(metric=scalars["metric"], match=match, aggregation=aggregation, resolution=resolution,
                       **numbers)
