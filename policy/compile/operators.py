"""The operators on one attribute: `equals`, `one_of`, `prefix`, `suffix`, `contains`,
`regex`, `exists`, `missing` (the phone operators are in `policy.compile.phone`).

Each takes the compiler, the source the attribute name resolved to, the operator's argument
and its path, and returns a condition (or None after reporting). Literals are checked and
normalized through the source's own contract, so phone numbers compare in E.164.
"""

from __future__ import annotations

import re
from typing import Any

import re2

from ..errors import Code
from ..parse.document import Path_
from ..runtime.conditions import Cond, Contains, Equals, Exists, Missing, Prefix, Regex, Suffix
from ..runtime.sources import Source
from .state import Compiler

#: Words people reach for, and the operator they mean.
ALIASES = {
    "startswith": "prefix",
    "starts_with": "prefix",
    "begins_with": "prefix",
    "endswith": "suffix",
    "ends_with": "suffix",
    "in": "one_of",
    "any_of": "one_of",
    "oneof": "one_of",
    "eq": "equals",
    "is": "equals",
    "equal": "equals",
    "matches": "regex",
    "match": "regex",
    "regexp": "regex",
    "pattern": "regex",
    "present": "exists",
    "absent": "missing",
    "includes": "contains",
}


def literals(
    c: Compiler, source: Source, arg: Any, path: Path_, what: str, *, prefix: bool = False
) -> list[str] | None:
    """One text or a list of texts, each checked against the source (a phone number that is
    not one is reported) and normalized as the source compares it."""
    values = c.texts(arg, path, what)
    if values is None:
        return None
    for i, value in enumerate(values):
        problem = source.literal_problem(value, prefix)
        if problem is not None:
            where = (*path, i) if isinstance(arg, list) else path
            c.error(problem.code, problem.message, where, help=problem.help)
    if prefix:
        return [source.normalize_prefix(v) for v in values]
    return [source.normalize(v) for v in values]


def equals(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    if not isinstance(arg, str):
        c.not_text(arg, path, "`equals`")
        return None
    values = literals(c, source, arg, path, "`equals`")
    return Equals(source, values) if values is not None else None


def one_of(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    values = literals(c, source, arg, path, "`one_of`")
    return Equals(source, values) if values else None


def prefix(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    texts = c.texts(arg, path, "`prefix`")
    if not texts:
        return None
    if any(v == "" for v in texts):
        c.error(
            Code.INVALID_VALUE,
            "an empty prefix matches everything",
            path,
            help="use `exists: true` to test that the attribute is present",
        )
        return None
    values = literals(c, source, arg, path, "`prefix`", prefix=True)
    return Prefix(source, values) if values else None


def suffix(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    values = c.texts(arg, path, "`suffix`")
    return Suffix(source, values) if values else None


def contains(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    values = c.texts(arg, path, "`contains`")
    return Contains(source, values) if values else None


_UNSUPPORTED_RE = [
    (
        re.compile(r"\(\?<?[=!]"),
        "lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`)",
        "match the text itself, or combine conditions with `not:` and `all:`",
    ),
    (
        re.compile(r"\\[1-9]"),
        "backreferences (`\\1`)",
        "repeat the group's pattern instead of referring back to it",
    ),
    (re.compile(r"\(\?P=|\\k<"), "named backreferences", "repeat the group's pattern instead"),
    (
        re.compile(r"\(\?>|[*+?}][+]"),
        "atomic groups and possessive quantifiers",
        "use a plain group and quantifier",
    ),
]
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _blank_escape(m: re.Match[str]) -> str:
    """`\\+` → `__` (same length), but backreferences `\\1`, `\\k<n>` stay visible."""
    return m[0] if m[1] in "123456789k" else "__"


#: `+`, `*` or `?` where nothing comes before it to repeat
_BARE_REPEAT = re.compile(r"(?:^|[(|^])([+*?])")
MAX_PATTERN = 1000


def regex(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    pattern = c.text(arg, path, "`regex`")
    if pattern is None:
        return None
    if len(pattern) > MAX_PATTERN:
        c.error(
            Code.BAD_REGEX,
            f"the pattern is {len(pattern):,} characters long; the limit is {MAX_PATTERN:,}",
            path,
            help="match lists of numbers with `one_of:` or `prefix:`, or put them in a table "
            "file (`table:`); split the rest into several conditions under `any:`",
        )
        return None
    try:
        options = re2.Options()
        options.log_errors = False
        compiled = re2.compile(pattern, options)
    except Exception as exc:
        message, advice = _regex_refusal(pattern, exc)
        c.error(Code.BAD_REGEX, message, path, help=advice)
        return None
    return Regex(source, pattern, compiled)


def _regex_refusal(pattern: str, exc: Exception) -> tuple[str, str]:
    """(message, help) for a pattern RE2 refused. RE2 decides what is refused; the finders
    only explain it. Escaped characters (`\\++`, `\\\\1`, `\\p{Nd}+`) are blanked so they
    are not taken for operators."""
    unescaped = _ESCAPED.sub(_blank_escape, pattern)
    for finder, what, advice in _UNSUPPORTED_RE:
        m = finder.search(unescaped)
        if m is not None:
            return (
                f"`{pattern}` uses {what} at position {m.start() + 1}, which rules cannot use",
                advice + " (rules use RE2, which runs in linear time)",
            )
    reason = exc.args[0] if exc.args else exc
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    bare = _BARE_REPEAT.search(unescaped)
    if bare is not None and "repetition" in str(reason):
        ch, at = bare.group(1), bare.start(1)
        fixed = pattern[:at] + "\\" + pattern[at:]
        return (
            f"`{pattern}` has `{ch}` at position {at + 1} with nothing before it to repeat",
            f"to match a plain `{ch}` (as in +1510), write `\\{ch}`: `{fixed}`",
        )
    return (
        f"`{pattern}` is not a valid regular expression: {reason}",
        "rules use RE2 syntax; the whole value must match",
    )


def exists(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    return _flag(c, source, arg, path, "exists")


def missing(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    return _flag(c, source, arg, path, "missing")


def _flag(c: Compiler, source: Source, arg: Any, path: Path_, name: str) -> Cond | None:
    if arg is True or arg is False:
        return Exists(source) if arg == (name == "exists") else Missing(source)
    c.error(Code.INVALID_VALUE, f"`{name}` takes true or false", path, help=f"write `{name}: true`")
    return None
