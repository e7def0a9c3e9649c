"""Bounded field types for the request models: every number within the range its column holds,
every string and list with a length, names without control characters. A value out of bounds is
a 422 naming the field, never a database error. Response models keep plain types, so rows
written before a bound existed still read back."""

from typing import Annotated

from pydantic import AfterValidator, Field

from microdash_core.bounds import MAX_BIGINT, MAX_EPOCH_MS, MAX_INT_UNSIGNED, has_control_characters
from microdash_core.matchers import MAX_MATCHER_LENGTH, MAX_MATCHERS


def _single_line(text: str) -> str:
    if has_control_characters(text):
        raise ValueError("must not contain control characters or line breaks")
    return text


def _multiline(text: str) -> str:
    if has_control_characters(text, multiline=True):
        raise ValueError("must not contain control characters other than tab and line breaks")
    return text


def plain_text(max_length: int, *, min_length: int = 0, multiline: bool = False):
    """A string of bounded length without control characters (tab, CR and LF allowed when multiline)."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length),
                     AfterValidator(_multiline if multiline else _single_line)]


EpochMs = Annotated[int, Field(ge=0, le=MAX_EPOCH_MS, description="epoch ms")]
RowId = Annotated[int, Field(ge=1, le=MAX_INT_UNSIGNED)]
BigRowId = Annotated[int, Field(ge=1, le=MAX_BIGINT)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
MatcherText = Annotated[str, Field(max_length=MAX_MATCHER_LENGTH)]
MatcherList = Annotated[list[MatcherText], Field(max_length=MAX_MATCHERS)]
