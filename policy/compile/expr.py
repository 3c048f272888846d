"""The `expr` escape hatch: checked against a whitelist and planned to closures at load.

simpleeval blocks escapes but still allows expressions that burn CPU or memory
(`4000000 ** 4000000`, `'%0999999999d' % 0`, `[[0]*9999]*9999`, deep `+` chains) and method
calls that mutate data. A timeout cannot save a worker (a thread cannot be killed), so the
whole question is settled at load: the expression's syntax tree is checked against a small
whitelist (comparisons, `and`/`or`/`not`, literals, `attrs["key"]`, `kind`, a few helper
functions), its size and depth are capped, and everything else is refused with a message.

What passes is planned, as cel-go's planner does: each node becomes a closure, so a decision
calls a few nested functions and walks no tree. The planned closures follow simpleeval's
semantics for this subset (`and`/`or` return the deciding value, comparisons chain); a
property test holds them to simpleeval's own evaluation.
"""

from __future__ import annotations

import ast
import difflib
import io
import operator as op
import tokenize
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import Code, Position
from ..parse.document import Path_
from ..runtime.conditions import Cond
from ..runtime.expr import FUNCTIONS, Expr, Planned, get
from .state import Compiler

MAX_SOURCE = 1000
MAX_NODES = 100
MAX_DEPTH = 12
MAX_LITERAL = 500
MAX_LIST = 100
MAX_INT_DIGITS = 18

NAMES = ("attrs", "kind")

_BOOL_CALLS = {"startswith", "endswith", "contains"}

_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: op.eq,
    ast.NotEq: op.ne,
    ast.Lt: op.lt,
    ast.LtE: op.le,
    ast.Gt: op.gt,
    ast.GtE: op.ge,
    ast.In: lambda x, y: x in y,
    ast.NotIn: lambda x, y: x not in y,
}


class ExprProblem(Exception):
    """A reason to refuse an expression at load, with the column in the expression."""

    def __init__(self, message: str, col: int = 0, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.help = help


def _attrs(attrs: Mapping[str, Any], kind: str) -> Any:
    return attrs


def _kind(attrs: Mapping[str, Any], kind: str) -> Any:
    return kind


def _constant(value: Any) -> Planned:
    return lambda attrs, kind: value


class _Planner:
    """Checks each node against the whitelist and returns its closure; `used` collects the
    attribute names read (for typo checks)."""

    def __init__(self) -> None:
        self.used: list[str] = []
        self.count = 0

    def plan(self, node: ast.AST, depth: int) -> Planned:
        self.count += 1
        col = getattr(node, "col_offset", 0)
        if self.count > MAX_NODES:
            raise ExprProblem(
                f"the expression is too long (more than {MAX_NODES} parts)",
                col,
                "split it into several conditions under `all:` or `any:`",
            )
        if depth > MAX_DEPTH:
            raise ExprProblem(f"the expression nests more than {MAX_DEPTH} levels", col)
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise ExprProblem(_refusal(node), col, _refusal_help(node))
        planned: Planned = method(node, depth + 1, col)
        return planned

    def _BoolOp(self, node: ast.BoolOp, depth: int, col: int) -> Planned:
        parts = tuple(self.plan(v, depth) for v in node.values)
        if isinstance(node.op, ast.And):

            def all_of(attrs: Mapping[str, Any], kind: str) -> Any:
                value: Any = False
                for part in parts:
                    value = part(attrs, kind)
                    if not value:
                        break
                return value

            return all_of

        def any_of(attrs: Mapping[str, Any], kind: str) -> Any:
            value: Any = False
            for part in parts:
                value = part(attrs, kind)
                if value:
                    break
            return value

        return any_of

    def _UnaryOp(self, node: ast.UnaryOp, depth: int, col: int) -> Planned:
        if isinstance(node.op, ast.Not):
            inner = self.plan(node.operand, depth)
            return lambda attrs, kind: not inner(attrs, kind)
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            self.plan(node.operand, depth)
            value = node.operand.value
            if isinstance(value, int | float):
                return _constant(-value)
            return lambda attrs, kind: -value  # type: ignore[operator]  # fails when evaluated, as before
        raise ExprProblem("only `not` and a minus sign before a number are allowed", col)

    def _Compare(self, node: ast.Compare, depth: int, col: int) -> Planned:
        for o in node.ops:
            if type(o) not in _COMPARE:
                raise ExprProblem(
                    f"the comparison `{type(o).__name__}` is not allowed",
                    col,
                    "use ==, !=, <, <=, >, >=, in, not in",
                )
        left = self.plan(node.left, depth)
        steps = tuple(
            (_COMPARE[type(o)], self.plan(c, depth))
            for o, c in zip(node.ops, node.comparators, strict=True)
        )
        if len(steps) == 1:
            ((compare, right),) = steps
            return lambda attrs, kind: compare(left(attrs, kind), right(attrs, kind))

        def chain(attrs: Mapping[str, Any], kind: str) -> Any:
            value = left(attrs, kind)
            result: Any = True
            for compare, right in steps:
                if not result:
                    break
                before, value = value, right(attrs, kind)
                result = compare(before, value)
            return result

        return chain

    def _Constant(self, node: ast.Constant, depth: int, col: int) -> Planned:
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
        return _constant(const)

    def _Name(self, node: ast.Name, depth: int, col: int) -> Planned:
        if node.id not in NAMES:
            close = difflib.get_close_matches(node.id, [*NAMES, *FUNCTIONS], n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise ExprProblem(
                f"unknown name `{node.id}`",
                col,
                hint + 'attributes are read as attrs["sip.phoneNumber"], never by dotted names',
            )
        return _attrs if node.id == "attrs" else _kind

    def _Subscript(self, node: ast.Subscript, depth: int, col: int) -> Planned:
        if not (isinstance(node.value, ast.Name) and node.value.id == "attrs"):
            raise ExprProblem("only `attrs[...]` can be indexed", col)
        key: ast.AST = node.slice
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            raise ExprProblem('the attribute name must be quoted text: attrs["name"]', col)
        self.used.append(key.value)
        name = key.value
        return lambda attrs, kind: attrs[name]

    def _Call(self, node: ast.Call, depth: int, col: int) -> Planned:
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
        fn, arity, usage = FUNCTIONS[node.func.id]
        if node.keywords:
            raise ExprProblem("functions take no named arguments", col)
        if len(node.args) not in arity or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExprProblem(
                f"`{node.func.id}` takes {' or '.join(map(str, arity))} argument(s)", col, usage
            )
        if fn is get:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self.used.append(first.value)
        args = tuple(self.plan(a, depth) for a in node.args)
        if fn is get:
            return lambda attrs, kind: get(attrs, *(a(attrs, kind) for a in args))
        if len(args) == 1:
            (only,) = args
            return lambda attrs, kind: fn(only(attrs, kind))
        return lambda attrs, kind: fn(*(a(attrs, kind) for a in args))

    def _items(self, node: ast.List | ast.Tuple | ast.Set, depth: int, col: int) -> list[Any]:
        if len(node.elts) > MAX_LIST:
            raise ExprProblem(f"lists are limited to {MAX_LIST} items", col)
        for e in node.elts:
            if not isinstance(e, ast.Constant):
                raise ExprProblem("list items must be plain text or numbers", col)
            self.plan(e, depth)
        return [e.value for e in node.elts if isinstance(e, ast.Constant)]

    def _List(self, node: ast.List, depth: int, col: int) -> Planned:
        return _constant(tuple(self._items(node, depth, col)))

    _Tuple = _List

    def _Set(self, node: ast.Set, depth: int, col: int) -> Planned:
        return _constant(frozenset(self._items(node, depth, col)))


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


def _tokens(text: str) -> list[tokenize.TokenInfo]:
    """The tokens of one line of expression, as far as Python can read them."""
    out: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            out.append(tok)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return out


def _check_lookalikes(tokens: list[tokenize.TokenInfo]) -> None:
    """Python reads `ａttrs` (fullwidth) as `attrs`; a rules file must say what it means."""
    for tok in tokens:
        if tok.type == tokenize.NAME and not tok.string.isascii():
            odd = next(ch for ch in tok.string if not ch.isascii())
            plain = unicodedata.normalize("NFKC", tok.string)
            raise ExprProblem(
                f"`{tok.string}` is written with a lookalike letter `{odd}` "
                f"(U+{ord(odd):04X}), not plain `{plain}`",
                tok.start[1],
                f"retype `{plain}` with plain letters; names in expressions are ASCII",
            )


def plan(source_text: str) -> Expr:
    """Parse, whitelist-check and plan an expression (raises `ExprProblem` to refuse it)."""
    source = source_text
    if len(source) > MAX_SOURCE:
        raise ExprProblem(
            f"the expression is longer than {MAX_SOURCE} characters",
            0,
            "split it into several conditions under `all:` or `any:`",
        )
    if "\n" in source.strip():
        source = " ".join(source.split("\n"))
    tokens = _tokens(source.strip())
    _check_lookalikes(tokens)
    try:
        with warnings.catch_warnings():  # `1in x` would print a SyntaxWarning to stderr
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        single = next((t for t in tokens if t.type == tokenize.OP and t.string == "="), None)
        if single is not None:
            raise ExprProblem(
                "`=` gives a value; it does not compare",
                single.start[1],
                'to compare, write `==`, e.g. attrs["customer.tier"] == "gold"',
            ) from None
        raise ExprProblem(
            f"the expression is not valid: {exc.msg}",
            max((exc.offset or 1) - 1, 0),
            'check quotes and brackets, e.g. attrs["customer.tier"] == "gold"',
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprProblem("the expression cannot be read") from None
    planner = _Planner()
    planned = planner.plan(tree.body, 0)
    if not _is_boolean(tree.body):
        raise ExprProblem(
            "the expression must be a yes/no question",
            0,
            'compare something, e.g. attrs["customer.tier"] == "gold"',
        )
    return Expr(source_text, planned, planner.used, ast.dump(tree))


def compile_expr(c: Compiler, value: Any, path: Path_) -> Cond | None:
    """The `expr:` keyword."""
    text = c.text(value, path, "`expr`")
    if text is None:
        return None
    try:
        cond = plan(text)
    except ExprProblem as problem:
        c.error(
            Code.BAD_EXPRESSION,
            problem.message,
            _inside(c, path, text, problem.col),
            help=problem.help,
        )
        return None
    for name in cond.attrs_used:
        c.attribute(name, path)
    return cond


def _inside(c: Compiler, path: Path_, text: str, col: int) -> Path_ | Position:
    """The position of column `col` of the expression, when the text is on the key's line."""
    doc = c.doc
    loc = doc.loc(path)
    scalar = doc.scalars.get(tuple(path))
    shift = 1 if scalar is not None and scalar.quoted and scalar.text == text else 0
    if loc.line and doc.lines and loc.line <= len(doc.lines):
        line = doc.lines[loc.line - 1]
        if line[loc.column - 1 :].lstrip("'\"").startswith(text.strip()[:10]):
            moved = type(loc)(loc.file, loc.line, loc.column + shift + col)
            return doc.position_at(moved, path)
    return path
