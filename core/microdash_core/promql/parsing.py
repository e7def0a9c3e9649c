"""PromQL text to the syntax tree of promql-parser (Rust), plus the few facts about nodes the
evaluator needs: value types, durations in milliseconds, selectors' matchers."""

from datetime import timedelta

import promql_parser as pp

from .errors import BAD_DATA, UNSUPPORTED, PromQLError
from .model import LabelMatcher

Expr = pp.Expr


def _register_holt_winters() -> None:
    """Prometheus 2.x's name for double_exponential_smoothing; promql-parser knows only 3.x's."""
    try:
        pp.register_extra_functions([pp.Function("holt_winters", [pp.ValueType.Matrix, pp.ValueType.Scalar,
                                                                  pp.ValueType.Scalar], pp.ValueType.Vector)])
    except ValueError:  # already registered, or a parser that knows it itself
        pass


_register_holt_winters()
MAX_QUERY_LENGTH = 65_536  # characters; the HTTP API bounds the request to the same

_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}

SCALAR, VECTOR, MATRIX, STRING = "scalar", "vector", "matrix", "string"
_VALUE_TYPES = {"Scalar": SCALAR, "Vector": VECTOR, "Matrix": MATRIX, "String": STRING}


def _enum_name(member) -> str:
    """promql-parser's enums are not hashable; their str() is "Type.Member"."""
    return str(member).rsplit(".", 1)[-1]


def parse(text: str) -> Expr:
    if not isinstance(text, str) or not text.strip():
        raise PromQLError(BAD_DATA, "empty query")
    if len(text) > MAX_QUERY_LENGTH:
        raise PromQLError(BAD_DATA, f"query is longer than {MAX_QUERY_LENGTH} characters")
    try:
        return pp.parse(text)
    except (ValueError, TypeError) as exc:
        raise PromQLError(BAD_DATA, f"parse error: {exc}") from exc
    except BaseException as exc:  # a panic inside the Rust parser surfaces as PanicException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise PromQLError(BAD_DATA, f"parse error: {exc}") from exc


def value_type(node: Expr) -> str:
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
        return value_type(node.expr)
    if isinstance(node, pp.NumberLiteral):
        return SCALAR
    if isinstance(node, pp.StringLiteral):
        return STRING
    if isinstance(node, pp.VectorSelector):
        return VECTOR
    if isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr)):
        return MATRIX
    if isinstance(node, pp.AggregateExpr):
        return VECTOR
    if isinstance(node, pp.Call):
        return _VALUE_TYPES[_enum_name(node.func.return_type)]
    if isinstance(node, pp.BinaryExpr):
        both_scalar = value_type(node.lhs) == SCALAR and value_type(node.rhs) == SCALAR
        return SCALAR if both_scalar else VECTOR
    raise PromQLError(UNSUPPORTED, f"expression {type(node).__name__} is not supported")


def millis(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def selector_matchers(selector: pp.VectorSelector) -> list[LabelMatcher]:
    if selector.matchers.or_matchers:
        raise PromQLError(UNSUPPORTED, "'or' inside a label selector is not supported")
    matchers = [LabelMatcher(m.name, _OPS[_enum_name(m.op)], m.value) for m in selector.matchers.matchers]
    if selector.name:
        matchers.insert(0, LabelMatcher("__name__", "=", selector.name))
    return matchers


def op_name(node) -> str:
    """The operator of a BinaryExpr or AggregateExpr as written: "+", "and", "sum", "topk"..."""
    return str(node.op).strip().lower()
