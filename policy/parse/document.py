"""Strict YAML reading with positions.

PyYAML's `safe_load` silently keeps the last of two duplicate keys, turns `yes` into True,
`+15105550100` into an integer and `0207...` into octal, expands alias bombs, and libyaml
segfaults on very deep nesting. This module composes the node tree with the safe loader,
refuses what a rules file never needs (aliases, merge keys, custom tags, duplicate keys,
absurd sizes and depths), and returns plain data plus a map from each path in the data to
its position, so that every later stage can point at a line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from ..errors import Code, Diagnostic, Location, Position, Severity

try:  # the C composer is several times faster; fall back to pure Python where absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 64

Path_ = tuple[str | int, ...]

_STD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class Scalar(NamedTuple):
    """What the text said before YAML typed it: kept for "put it in quotes" messages (a
    named tuple: a 100,000-rule file has a million of them)."""

    text: str
    tag: str
    quoted: bool


@dataclass
class Document:
    """Plain data plus where each piece of it stands in the file."""

    file: str
    data: Any
    lines: list[str]
    value_at: dict[Path_, Location] = field(default_factory=dict)
    key_at: dict[Path_, Location] = field(default_factory=dict)
    scalars: dict[Path_, Scalar] = field(default_factory=dict)
    spans: dict[Path_, int] = field(default_factory=dict)

    def alias(self, old: Path_, new: Path_) -> None:
        """Positions under `old` answer for `new` too (a misspelled section read under its
        right name points at the text as written)."""
        n = len(old)
        tables: tuple[dict[Path_, Any], ...] = (
            self.value_at,
            self.key_at,
            self.scalars,
            self.spans,
        )
        for table in tables:
            for path in [p for p in table if p[:n] == old]:
                table[(*new, *path[n:])] = table[path]

    def loc(self, path: Path_, *, key: bool = False) -> Location:
        """The position of `path` (its key when `key`), or of its closest parent."""
        table = self.key_at if key else self.value_at
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if key and p in self.value_at:
                return self.value_at[p]
            p = p[:-1]
        return Location(self.file, 1, 1)

    def position(self, path: Path_, *, key: bool = False) -> Position:
        """Where `path` stands (its key when `key`), with its line and the span to underline."""
        return self.position_at(self.loc(path, key=key), path, key=key)

    def position_at(self, loc: Location, path: Path_ = (), *, key: bool = False) -> Position:
        """A position at `loc`, underlining the value (or key) at `path` when it is there."""
        line = self.lines[loc.line - 1] if 0 < loc.line <= len(self.lines) else None
        span = 1
        if line is not None:
            rest = line[loc.column - 1 :]
            if key and isinstance(path[-1] if path else None, str):
                span = max(len(str(path[-1])), 1)
            else:
                span = max(min(self.spans.get(tuple(path), len(rest.rstrip())), len(rest)), 1)
        return Position(loc, line, span)

    def diagnostic(
        self,
        code: Code,
        message: str,
        path: Path_,
        *,
        key: bool = False,
        help: str | None = None,
        location: Location | None = None,
        severity: Severity = "error",
    ) -> Diagnostic:
        """A problem at `path` (its key when `key`), or at `location` underlining `path`."""
        position = (
            self.position(path, key=key)
            if location is None
            else self.position_at(location, path, key=key)
        )
        return Diagnostic.at(position, code, message, help=help, severity=severity)


class YamlProblem(Exception):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


def _mark(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


_BRACKETS = re.compile(r"[\[\]{}]")


def _flow_depth(text: str) -> tuple[int, int]:
    """An upper bound on bracket nesting, checked before libyaml sees the text: the peak and
    the 1-based line where it first went past MAX_DEPTH (0 when it never did)."""
    depth = peak = over_line = 0
    # only the brackets are visited (a Python loop over every character of a 14 MB file
    # took a second); the line is counted once, where the depth first passes the limit
    for m in _BRACKETS.finditer(text):
        if m.group() in "[{":
            depth += 1
            if depth > peak:
                peak = depth
                if peak == MAX_DEPTH + 1:
                    over_line = text.count("\n", 0, m.start()) + 1
        else:  # an unbalanced file is refused by the parser anyway: keep counting
            depth = max(depth - 1, 0)
    return peak, over_line


def parse(text: str, file: str) -> Document:
    """Parse YAML text into a Document, or raise YamlProblem with every problem found."""
    doc = Document(file=file, data=None, lines=text.splitlines())
    _check_text(doc, text)
    node = _compose(doc, text)
    if node is None:
        doc.data = {}
        return doc
    problems: list[Diagnostic] = []
    doc.data = _convert(node, (), doc, problems, set(), 0)
    if problems:
        raise YamlProblem(problems)
    return doc


def _fail(
    doc: Document, code: Code, message: str, line: int = 1, column: int = 1, help: str | None = None
) -> YamlProblem:
    """A problem that stops the parse, at `line:column`."""
    where = Location(doc.file, line, column)
    return YamlProblem([doc.diagnostic(code, message, (), help=help, location=where)])


def _check_text(doc: Document, text: str) -> None:
    """What libyaml must never see: lone surrogates, huge files, NUL, absurd nesting."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate: libyaml would raise this raw
        line = text.count("\n", 0, exc.start) + 1
        column = exc.start - (text.rfind("\n", 0, exc.start) + 1) + 1
        raise _fail(
            doc,
            Code.YAML_SYNTAX,
            "the text holds an invalid character (a lone surrogate)",
            line,
            column,
            help="save the file as UTF-8",
        ) from None
    if size > MAX_FILE_BYTES:
        raise _fail(
            doc,
            Code.FILE_TOO_LARGE,
            f"the file is {size // (1024 * 1024)} MiB; the limit is "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB",
            help="move long lists of numbers into a table file (`table:`)",
        )
    nul = text.find("\x00")
    if nul >= 0:
        line, column = line_column(text, nul)
        raise _fail(
            doc,
            Code.YAML_SYNTAX,
            "the file contains a NUL byte (a zero byte that text never holds)",
            line,
            column,
            help="delete it; the file may have been saved by a program that writes UTF-16 or binary",
        )
    _check_spaces(doc)
    flow, flow_line = _flow_depth(text)
    block, block_line = _indent_bound(text), 0
    if block > MAX_DEPTH:
        block, block_line = _indent_depth(doc.lines)
    if flow > MAX_DEPTH or block > MAX_DEPTH:
        raise _fail(
            doc,
            Code.TOO_DEEP,
            f"the file nests more than {MAX_DEPTH} levels deep",
            flow_line if flow > MAX_DEPTH else block_line,
            help="flatten the conditions: a rule rarely needs more than a few levels",
        )


def line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of the character at `index` in `text`."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def decode(raw: bytes, file: str) -> str:
    """UTF-8 bytes as text (a leading BOM dropped), or YamlProblem at the line and column of
    the first byte that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8")
        line, column = line_column(good, len(good))
        lines = raw.decode("utf-8", "replace").splitlines()
        doc = Document(file=file, data=None, lines=lines)
        raise _fail(
            doc,
            Code.INVALID_FILE,
            f"the file is not UTF-8 text: the byte 0x{raw[exc.start]:02x} here is not a "
            "UTF-8 character",
            line,
            column,
            help="save the file as UTF-8 (in most editors: Save As, encoding UTF-8), "
            "or retype this character",
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


#: A non-breaking space where YAML needs a plain one: after `key:`, after `-`, or indenting.
_NBSP = re.compile(
    r"^[ \t]*(\u00a0)|^[ \t]*-(\u00a0)|^[ \t]*(?:-[ \t]+)?[^\s:#'\"{}\[\],]+:(\u00a0)"
)


def _check_spaces(doc: Document) -> None:
    """Non-breaking spaces (pasted from a web page or a word processor) where YAML needs a
    plain space: YAML reads them as text and reports a problem lines later."""
    problems = []
    for number, line in enumerate(doc.lines, 1):
        m = _NBSP.search(line)
        if m is None:
            continue
        column = next(m.start(g) for g in (1, 2, 3) if m.start(g) >= 0) + 1
        problems.append(
            Diagnostic.at(
                Position.in_lines(doc.lines, doc.file, number, column),
                Code.YAML_SYNTAX,
                "a non-breaking space stands where YAML needs a plain space",
                help="replace it with a normal space (it often comes from copying text out of "
                "a web page or a word processor)",
            )
        )
    if problems:
        raise YamlProblem(problems)


def _compose(doc: Document, text: str) -> yaml.Node | None:
    """The YAML node tree (types not yet applied), or YamlProblem for invalid YAML."""
    try:
        loader = _Loader(text)
        try:
            node: yaml.Node | None = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = _mark(doc.file, mark) if mark is not None else Location(doc.file, 1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise _fail(
            doc,
            Code.YAML_SYNTAX,
            f"this is not valid YAML: {problem}",
            loc.line,
            loc.column,
            help=_syntax_help(doc.lines, loc),
        ) from None
    except yaml.YAMLError as exc:
        raise _fail(doc, Code.YAML_SYNTAX, f"this is not valid YAML: {exc}") from None
    except RecursionError:
        raise _fail(doc, Code.TOO_DEEP, "the file nests too deeply") from None
    return node


def _syntax_help(lines: list[str], loc: Location) -> str:
    """Advice for the syntax errors people make most."""
    line = lines[loc.line - 1] if 0 < loc.line <= len(lines) else ""
    if "\t" in line[: len(line) - len(line.lstrip())]:
        return "YAML does not allow tabs for indentation: indent with spaces"
    return "check the indentation, and put text that contains `: ` or `#` in quotes"


#: a line indented 32 columns or more, or one that starts with two indicators (`- - x`,
#: `- ? x`); each search starts at a `\n`, which keeps it fast
_DEEP_LINE = re.compile(r"\n(?:[ \t]{32}|[ \t]*[-?:][ \t]+[-?:](?:[ \t\n]|\Z))")
#: where `str.splitlines` breaks lines besides `\n`
_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _indent_bound(text: str) -> int:
    """An upper bound on `_indent_depth`, found by one search in C. The levels on the stack
    are distinct columns, and those below a line's own are left of its indentation; so when
    no line is indented 32 columns or more and none starts with two indicators, the depth is
    at most 31 + 1 + 1 = 33. Otherwise (or with line breaks other than `\n`) MAX_DEPTH + 1:
    count exactly."""
    if any(ch in text for ch in _OTHER_BREAKS) or _DEEP_LINE.search("\n" + text):
        return MAX_DEPTH + 1
    return 33


def _indent_depth(lines: list[str]) -> tuple[int, int]:
    """Block nesting: distinct indentation levels on the way down, a cheap upper bound.
    Compact entries on one line (`- - - x`, `? - x`) nest too, one level per indicator.
    Returns the peak and the line where it first went past MAX_DEPTH (0 when it never did)."""
    stack: list[int] = []
    peak = over_line = 0
    for number, line in enumerate(lines, 1):
        end = len(line)
        i = end - len(line.lstrip(" \t"))
        if i == end or line[i] == "#":
            continue
        levels = [i]
        while i < end and line[i] in "-?:" and (i + 1 == end or line[i + 1] in " \t"):
            i += 1
            while i < end and line[i] in " \t":
                i += 1
            levels.append(i)
        for indent in levels:
            while stack and stack[-1] >= indent:
                stack.pop()
            stack.append(indent)
        if len(stack) > peak:
            if peak <= MAX_DEPTH < len(stack):
                over_line = number
            peak = len(stack)
    return peak, over_line


def _convert(
    node: yaml.Node,
    path: Path_,
    doc: Document,
    problems: list[Diagnostic],
    seen: set[int],
    depth: int,
) -> Any:
    if id(node) in seen:
        problems.append(
            doc.diagnostic(
                Code.YAML_ALIAS,
                "anchors and aliases (`&name`, `*name`) are not supported",
                path,
                location=_mark(doc.file, node.start_mark),
                help="write the value out, or put shared settings in a profile and use `extends`",
            )
        )
        return None
    seen.add(id(node))
    if depth > MAX_DEPTH:
        problems.append(
            doc.diagnostic(
                Code.TOO_DEEP,
                f"this nests more than {MAX_DEPTH} levels deep",
                path,
                location=_mark(doc.file, node.start_mark),
            )
        )
        return None
    doc.value_at[path] = _mark(doc.file, node.start_mark)
    if node.tag not in _STD_TAGS:
        problems.append(
            doc.diagnostic(
                Code.YAML_TAG,
                f"the tag `{node.tag}` is not allowed in a rules file",
                path,
                location=_mark(doc.file, node.start_mark),
                help="remove the `!` tag: values are plain text, lists and mappings",
            )
        )
        return None
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, path, doc, problems, seen, depth)
    if isinstance(node, yaml.SequenceNode):
        return [
            _child(item, (*path, i), doc, problems, seen, depth + 1)
            for i, item in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node, path, doc)


def _scalar(node: yaml.ScalarNode, path: Path_, doc: Document) -> Any:
    quoted = node.style in _QUOTED
    doc.scalars[path] = Scalar(node.value, node.tag, quoted)
    start, end = node.start_mark, node.end_mark
    if start.line == end.line:
        doc.spans[path] = max(end.column - start.column, 1)
    return _construct_scalar(node)


_QUOTED = ("'", '"', "|", ">")
_STR = "tag:yaml.org,2002:str"


def _child(
    node: yaml.Node,
    path: Path_,
    doc: Document,
    problems: list[Diagnostic],
    seen: set[int],
    depth: int,
) -> Any:
    """`_convert`, with the common case inline: a text scalar met once, not too deep (most
    of the million values in a 100,000-rule file)."""
    if node.__class__ is not yaml.ScalarNode or node.tag != _STR or depth > MAX_DEPTH:
        return _convert(node, path, doc, problems, seen, depth)
    key = id(node)
    if key in seen:
        return _convert(node, path, doc, problems, seen, depth)
    seen.add(key)
    start, end = node.start_mark, node.end_mark
    doc.value_at[path] = Location(doc.file, start.line + 1, start.column + 1)
    doc.scalars[path] = Scalar(node.value, _STR, node.style in _QUOTED)
    if start.line == end.line:
        doc.spans[path] = max(end.column - start.column, 1)
    return node.value


def _convert_mapping(
    node: yaml.MappingNode,
    path: Path_,
    doc: Document,
    problems: list[Diagnostic],
    seen: set[int],
    depth: int,
) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or (
            isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and not key_node.style
        ):
            problems.append(
                doc.diagnostic(
                    Code.YAML_ALIAS,
                    "merge keys (`<<`) are not supported",
                    path,
                    location=_mark(doc.file, key_node.start_mark),
                    help="use a profile with `extends` to share settings",
                )
            )
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(
                doc.diagnostic(
                    Code.INVALID_KEY,
                    "a key must be plain text",
                    path,
                    location=_mark(doc.file, key_node.start_mark),
                    help="write one `name: value` per line; use `any:` when either is enough",
                )
            )
            continue
        key: str = key_node.value
        kpath = (*path, key)
        kloc = _mark(doc.file, key_node.start_mark)
        if key in out:
            first = doc.key_at.get(kpath)
            where = f" (first at line {first.line})" if first else ""
            problems.append(
                doc.diagnostic(
                    Code.DUPLICATE_KEY,
                    f"`{key}` appears twice in the same mapping{where}",
                    kpath,
                    location=kloc,
                    help="YAML would silently keep only the last one: remove or merge one of them",
                )
            )
            continue
        doc.key_at[kpath] = kloc
        out[key] = _child(value_node, kpath, doc, problems, seen, depth + 1)
    return out


def _construct_scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag == "tag:yaml.org,2002:str":
        return node.value
    constructor = yaml.SafeLoader.yaml_constructors.get(tag)
    if constructor is None:  # pragma: no cover - _STD_TAGS guards this
        return node.value
    try:
        return constructor(yaml.SafeLoader(""), node)
    except (ValueError, OverflowError, yaml.YAMLError):
        return node.value


def describe_scalar(value: Any, scalar: Scalar | None) -> tuple[str, str] | None:
    """When YAML typed a value that was meant as text: (what it became, advice)."""
    if isinstance(value, str):
        return None
    text = scalar.text if scalar else str(value)
    if isinstance(value, bool):
        return (
            f"`{text}` is read by YAML as {'true' if value else 'false'}, not as text",
            f'put it in quotes: "{text}"',
        )
    if isinstance(value, int | float):
        return (
            f"`{text}` is read by YAML as a number, not as text"
            + (
                " (a leading 0 makes it octal)"
                if text.lstrip("+-").startswith("0") and len(text) > 1
                else ""
            ),
            f'put it in quotes: "{text}"',
        )
    if isinstance(value, dt.date | dt.datetime):
        return (f"`{text}` is read by YAML as a date, not as text", f'put it in quotes: "{text}"')
    if value is None:
        return ("this value is empty", 'write a value, or `""` for empty text')
    return None
