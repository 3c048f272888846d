"""The `expr` condition at decision time: a closure planned at load
(`policy.compile.expr`), called with a read-only view of the attributes and the kind.

No evaluator runs per call and no syntax tree is walked: the expression was checked against
a whitelist and turned into nested closures once. An error (a missing attribute, a value
that is not text) makes the condition false and is recorded, never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .conditions import Cond
from .context import Context
from .decision import Check, short

#: A planned expression: (attributes view, kind) → value.
Planned = Callable[[Mapping[str, Any], str], Any]

MAX_INT_DIGITS = 18


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _startswith(value: Any, prefix: Any) -> bool:
    return _text(value).startswith(_text(prefix))


def _endswith(value: Any, suffix: Any) -> bool:
    return _text(value).endswith(_text(suffix))


def _contains(value: Any, part: Any) -> bool:
    return _text(part) in _text(value)


def _lower(value: Any) -> str:
    return _text(value).lower()


def _upper(value: Any) -> str:
    return _text(value).upper()


def _len(value: Any) -> int:
    return len(_text(value))


def _int(value: Any) -> int:
    text = _text(value).strip()
    digits = text.lstrip("+-")
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_INT_DIGITS:
        raise ValueError("the value is not a whole number")  # caller data stays out of logs
    return int(text)


def get(attrs: Mapping[str, Any], name: Any, default: Any = "") -> Any:
    """`get("key", "default")`: the attribute's text, or `default` when missing or empty."""
    value = attrs.get(_text(name))
    return value if isinstance(value, str) and value else default


#: name -> (function, numbers of arguments allowed, what it does). `get` also receives the
#: attributes view first (the planner passes it).
FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, ...], str]] = {
    "startswith": (_startswith, (2,), "startswith(text, prefix): text begins with prefix"),
    "endswith": (_endswith, (2,), "endswith(text, suffix): text ends with suffix"),
    "contains": (_contains, (2,), "contains(text, part): part occurs in text"),
    "lower": (_lower, (1,), "lower(text): text in lower case"),
    "upper": (_upper, (1,), "upper(text): text in upper case"),
    "len": (_len, (1,), "len(text): number of characters"),
    "int": (_int, (1,), "int(text): a whole number of at most 18 digits"),
    "get": (get, (1, 2), 'get("key", "default"): the attribute, or default when missing'),
}


class Expr(Cond):
    """A compiled `expr:` condition; evaluation errors make it false and are recorded."""

    __slots__ = ("_key", "attrs_used", "planned", "source_text")

    def __init__(self, source_text: str, planned: Planned, attrs_used: list[str], key: str) -> None:
        self.source_text = source_text
        self.planned = planned
        self.attrs_used = attrs_used
        self._key = key

    def test(self, ctx: Context) -> bool:
        try:
            return self.planned(ctx.view, ctx.kind) is True
        except Exception as exc:  # a caller's data never raises out of a decision
            ctx.error("expr", f"expr `{short(self.source_text, 40)}`: {_describe(exc)}")
            return False

    def why(self, ctx: Context) -> Check | None:
        if self.test(ctx):
            return None
        return Check("expr", None, self.expected())

    def label(self) -> str:
        return "expr"

    def expected(self) -> str:
        return f"`{short(self.source_text, 60)}` to be true"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("expr", self._key)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"attribute {exc} is missing"
    return f"{type(exc).__name__}: {short(str(exc), 80)}"
