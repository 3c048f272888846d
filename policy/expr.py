"""The `expr` escape hatch: a small language evaluated with simpleeval, not Python.

simpleeval blocks escapes but still allows expressions that burn CPU or memory
(`4000000 ** 4000000`, `'%0999999999d' % 0`, `[[0]*9999]*9999`, deep `+` chains) and method
calls that mutate data. A timeout cannot save a worker (a thread cannot be killed), so the
whole question is settled at load: the expression's syntax tree is checked against a small
whitelist (comparisons, `and`/`or`/`not`, literals, `attrs["key"]`, `kind`, a few helper
functions), its size and depth are capped, and everything else is refused with a message.
At call time each evaluation gets a read-only view of the attributes; an error makes the
condition false and is recorded, never raised.
"""

from __future__ import annotations

import ast
import difflib
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from simpleeval import SimpleEval

from .conditions import Cond
from .context import Context
from .decision import Check, _short

MAX_SOURCE = 1000
MAX_NODES = 100
MAX_DEPTH = 12
MAX_LITERAL = 500
MAX_LIST = 100
MAX_INT_DIGITS = 18

NAMES = ("attrs", "kind")


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


#: name -> (function, number of arguments, what it does). `get` is bound per evaluation.
FUNCTIONS: dict[str, tuple[Callable[..., Any] | None, tuple[int, ...], str]] = {
    "startswith": (_startswith, (2,), "startswith(text, prefix): text begins with prefix"),
    "endswith": (_endswith, (2,), "endswith(text, suffix): text ends with suffix"),
    "contains": (_contains, (2,), "contains(text, part): part occurs in text"),
    "lower": (_lower, (1,), "lower(text): text in lower case"),
    "upper": (_upper, (1,), "upper(text): text in upper case"),
    "len": (_len, (1,), "len(text): number of characters"),
    "int": (_int, (1,), "int(text): a whole number of at most 18 digits"),
    "get": (None, (1, 2), 'get("key", "default"): the attribute, or default when missing'),
}

_BOOL_CALLS = {"startswith", "endswith", "contains"}

_ALLOWED_CMP = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)


class ExprProblem(Exception):
    """A reason to refuse an expression at load, with the column in the expression."""

    def __init__(self, message: str, col: int = 0, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.help = help


def _check(tree: ast.Expression) -> list[str]:
    """Refuse anything outside the whitelist; return the attribute names read."""
    used: list[str] = []
    count = 0

    def visit(node: ast.AST, depth: int) -> None:
        nonlocal count
        count += 1
        col = getattr(node, "col_offset", 0)
        if count > MAX_NODES:
            raise ExprProblem(
                f"the expression is too long (more than {MAX_NODES} parts)",
                col,
                "split it into several conditions under `all:` or `any:`",
            )
        if depth > MAX_DEPTH:
            raise ExprProblem(f"the expression nests more than {MAX_DEPTH} levels", col)
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                visit(v, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                visit(node.operand, depth + 1)
            elif isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
                visit(node.operand, depth + 1)
            else:
                raise ExprProblem("only `not` and a minus sign before a number are allowed", col)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if not isinstance(op, _ALLOWED_CMP):
                    raise ExprProblem(
                        f"the comparison `{type(op).__name__}` is not allowed",
                        col,
                        "use ==, !=, <, <=, >, >=, in, not in",
                    )
            visit(node.left, depth + 1)
            for c in node.comparators:
                visit(c, depth + 1)
        elif isinstance(node, ast.Constant):
            const = node.value
            if isinstance(const, str) and len(const) > MAX_LITERAL:
                raise ExprProblem(f"text longer than {MAX_LITERAL} characters", col)
            if (
                isinstance(const, int)
                and not isinstance(const, bool)
                and abs(const) >= 10**MAX_INT_DIGITS
            ):
                raise ExprProblem(f"numbers are limited to {MAX_INT_DIGITS} digits", col)
            if not isinstance(const, str | int | float | bool) and const is not None:
                raise ExprProblem("only text, numbers, true/false and None are allowed", col)
        elif isinstance(node, ast.Name):
            if node.id not in NAMES:
                close = difflib.get_close_matches(node.id, [*NAMES, *FUNCTIONS], n=1)
                hint = f"did you mean `{close[0]}`? " if close else ""
                raise ExprProblem(
                    f"unknown name `{node.id}`",
                    col,
                    hint + 'attributes are read as attrs["sip.phoneNumber"], never by dotted names',
                )
        elif isinstance(node, ast.Subscript):
            if not (isinstance(node.value, ast.Name) and node.value.id == "attrs"):
                raise ExprProblem("only `attrs[...]` can be indexed", col)
            key: ast.AST = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise ExprProblem('the attribute name must be quoted text: attrs["name"]', col)
            used.append(key.value)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                raise ExprProblem(_refusal(node.func), col, _refusal_help(node.func))
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else None
                shown = f"`{name}`" if name else "this call"
                close = difflib.get_close_matches(name or "", list(FUNCTIONS), n=1)
                raise ExprProblem(
                    f"{shown} is not an allowed function"
                    + (" (methods are not allowed)" if name is None else ""),
                    col,
                    (f"did you mean `{close[0]}`? " if close else "")
                    + "allowed: "
                    + ", ".join(FUNCTIONS),
                )
            if node.keywords:
                raise ExprProblem("functions take no named arguments", col)
            arity = FUNCTIONS[node.func.id][1]
            if len(node.args) not in arity or any(isinstance(a, ast.Starred) for a in node.args):
                raise ExprProblem(
                    f"`{node.func.id}` takes {' or '.join(map(str, arity))} argument(s)",
                    col,
                    FUNCTIONS[node.func.id][2],
                )
            if node.func.id == "get":
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    used.append(first.value)
            for a in node.args:
                visit(a, depth + 1)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            if len(node.elts) > MAX_LIST:
                raise ExprProblem(f"lists are limited to {MAX_LIST} items", col)
            for e in node.elts:
                if not isinstance(e, ast.Constant):
                    raise ExprProblem("list items must be plain text or numbers", col)
                visit(e, depth + 1)
        else:
            raise ExprProblem(_refusal(node), col, _refusal_help(node))

    visit(tree.body, 0)
    return used


def _dotted(node: ast.AST) -> str | None:
    """`customer.tier` when the node is a chain of plain names, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _refusal(node: ast.AST) -> str:
    dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
    if dotted is not None and dotted.split(".")[0] not in NAMES:
        return f"`{dotted}` cannot be read like this: expressions have no dotted names"
    if isinstance(node, ast.BinOp):
        return "arithmetic and `%` formatting are not allowed in expressions"
    if isinstance(node, ast.Attribute):
        return f"`.{node.attr}` is not allowed: expressions cannot use methods or dotted names"
    if isinstance(node, ast.JoinedStr):
        return "f-strings are not allowed"
    if isinstance(node, ast.Lambda | ast.ListComp | ast.GeneratorExp | ast.DictComp | ast.SetComp):
        return "functions and comprehensions are not allowed"
    if isinstance(node, ast.IfExp):
        return "`x if c else y` is not allowed"
    return f"this kind of expression ({type(node).__name__}) is not allowed"


def _refusal_help(node: ast.AST) -> str:
    dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
    if dotted is not None and dotted.split(".")[0] not in NAMES:
        return f'read the attribute as attrs["{dotted}"]'
    if isinstance(node, ast.Attribute):
        return 'read attributes as attrs["sip.phoneNumber"]; use startswith(...), lower(...)'
    return 'use comparisons, and/or/not, attrs["..."], and the helper functions'


def _is_boolean(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare | ast.BoolOp):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _BOOL_CALLS
    )


def parse(source: str) -> tuple[ast.Expression, list[str]]:
    """Parse and whitelist-check an expression; returns the tree and the attributes it reads."""
    if len(source) > MAX_SOURCE:
        raise ExprProblem(
            f"the expression is longer than {MAX_SOURCE} characters",
            0,
            "split it into several conditions under `all:` or `any:`",
        )
    if "\n" in source.strip():
        source = " ".join(source.split("\n"))
    try:
        with warnings.catch_warnings():  # `1in x` would print a SyntaxWarning to stderr
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprProblem(
            f"the expression is not valid: {exc.msg}",
            max((exc.offset or 1) - 1, 0),
            'check quotes and brackets, e.g. attrs["customer.tier"] == "gold"',
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprProblem("the expression cannot be read") from None
    used = _check(tree)
    if not _is_boolean(tree.body):
        raise ExprProblem(
            "the expression must be a yes/no question",
            0,
            'compare something, e.g. attrs["customer.tier"] == "gold"',
        )
    return tree, used


_FUNCS = {name: fn for name, (fn, _, _) in FUNCTIONS.items() if fn is not None}

# simpleeval's plain evaluator has no lists; `_check` allows them with constant items only,
# so they are read as fresh, immutable values (`attrs["tier"] in ["gold", "platinum"]`).
_COLLECTIONS: dict[type, Callable[[Any], Any]] = {
    ast.List: lambda node: tuple(e.value for e in node.elts),
    ast.Tuple: lambda node: tuple(e.value for e in node.elts),
    ast.Set: lambda node: frozenset(e.value for e in node.elts),
}


_LOCAL = threading.local()


def _evaluator() -> SimpleEval:
    """One simpleeval evaluator per thread, reused by every expression (building one costs
    more than most evaluations); each evaluation sets its own names and `get`."""
    evaluator = getattr(_LOCAL, "evaluator", None)
    if evaluator is None:
        evaluator = SimpleEval(functions=dict(_FUNCS), names={})
        evaluator.nodes.update(_COLLECTIONS)
        _LOCAL.evaluator = evaluator
    return evaluator


class Expr(Cond):
    """A compiled `expr:` condition; evaluation errors make it false and are recorded."""

    __slots__ = ("attrs_used", "source_text", "tree")

    def __init__(self, source_text: str) -> None:
        self.source_text = source_text
        self.tree, self.attrs_used = parse(source_text)

    def _evaluate(self, ctx: Context) -> bool:
        view: Mapping[str, Any] = ctx.view

        def get(name: Any, default: Any = "") -> Any:
            value = view.get(_text(name))
            return value if isinstance(value, str) and value else default

        evaluator = _evaluator()
        evaluator.functions["get"] = get
        evaluator.names = {"attrs": view, "kind": ctx.kind}
        return evaluator.eval(self.source_text, previously_parsed=self.tree.body) is True

    def test(self, ctx: Context) -> bool:
        try:
            return self._evaluate(ctx)
        except Exception as exc:  # a caller's data never raises out of a decision
            ctx.errors.append(f"expr `{_short(self.source_text, 40)}`: {_describe(exc)}")
            return False

    def why(self, ctx: Context) -> Check | None:
        if self.test(ctx):
            return None
        return Check("expr", None, f"`{_short(self.source_text, 60)}` to be true")

    def label(self) -> str:
        return "expr"

    def expected(self) -> str:
        return f"`{_short(self.source_text, 60)}` to be true"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("expr", ast.dump(self.tree))


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name in ("KeyError", "AttributeDoesNotExist", "NameNotDefined"):
        return f"attribute {exc} is missing"
    return f"{name}: {_short(str(exc), 80)}"
