"""rules.yaml → validated, compiled `Policy`, with every problem reported at once.

Stages: strict YAML with positions (`source`), structure and types (pydantic `model`),
then our own checks (conditions, profiles, files, placeholders, model strings, unreachable
rules), then compilation (`conditions`, `expr`, `outcome`, `engine`).
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re2
from pydantic import BaseModel, ValidationError

from . import attributes as catalogue
from .conditions import (
    All,
    Always,
    AnyOf,
    Cond,
    Contains,
    Equals,
    Exists,
    Missing,
    Not,
    Prefix,
    Regex,
    Suffix,
)
from .engine import CompiledRule, Policy, index_condition, top_conditions
from .errors import Diagnostic, Location, PolicyError
from .expr import Expr, ExprProblem
from .model import AttributeInfo, OutcomeFields, Profile, Rule, RulesFile, Settings
from .outcome import PLACEHOLDER, Plan, Template
from .source import Document, Path_, YamlProblem, describe_scalar, parse
from .sources import FACTS, AttrSource, KindSource, Source, source_for

MODEL_STRING = re.compile(
    r"^[a-z0-9][a-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*(:[A-Za-z0-9_.\-]+)?$"
)
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SHADOW_PAIR_BUDGET = 2_000_000

OperatorFn = Callable[["Compiler", Source, Any, Path_], Cond | None]
KeywordFn = Callable[["Compiler", Any, Path_], Cond | None]

#: Operators on one attribute (`attr: {prefix: "+1510"}`); modules may register more.
OPERATORS: dict[str, OperatorFn] = {}
#: Keys of `when` that are not attribute names (`kind`, `all`, `any`, `not`, `expr`, ...).
KEYWORDS: dict[str, KeywordFn] = {}


#: Words people reach for, and the operator they mean.
OPERATOR_ALIASES = {
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


def operator(name: str) -> Callable[[OperatorFn], OperatorFn]:
    def deco(fn: OperatorFn) -> OperatorFn:
        OPERATORS[name] = fn
        return fn

    return deco


def keyword(name: str) -> Callable[[KeywordFn], KeywordFn]:
    def deco(fn: KeywordFn) -> KeywordFn:
        KEYWORDS[name] = fn
        return fn

    return deco


def did_you_mean(word: str, choices: Any) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


@dataclass
class Compiler:
    """Shared state while one rules file is checked and compiled."""

    doc: Document
    base_dir: Path
    diagnostics: list[Diagnostic] = field(default_factory=list)
    declared: dict[str, AttributeInfo] = field(default_factory=dict)
    settings: Settings = field(default_factory=lambda: Settings())
    schedules: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    rule_name: str = ""
    used_attributes: set[str] = field(default_factory=set)
    templates: dict[Path_, Template] = field(default_factory=dict)
    placeholders: list[tuple[str, Path_, str]] = field(default_factory=list)
    digests: dict[Path, bytes] = field(default_factory=dict)

    def referenced(self, file: Path, data: bytes) -> None:
        """Record a file the policy is built from, with the digest of the very bytes used
        (the revision must describe what was compiled, not what is on disk a moment later)."""
        self.files.append(file)
        self.digests[file] = hashlib.sha256(data).digest()

    # -- reporting -----------------------------------------------------------------------
    def error(
        self,
        code: str,
        message: str,
        path: Path_,
        *,
        key: bool = False,
        help: str | None = None,
        location: Location | None = None,
    ) -> None:
        self.diagnostics.append(
            self.doc.diag(code, message, path, key=key, help=help, location=location)
        )

    def warning(
        self, code: str, message: str, path: Path_, *, key: bool = False, help: str | None = None
    ) -> None:
        self.diagnostics.append(
            self.doc.diag(code, message, path, key=key, help=help, severity="warning")
        )

    def not_text(self, value: Any, path: Path_, what: str) -> None:
        described = describe_scalar(value, self.doc.scalars.get(tuple(path)))
        if described is not None:
            message, advice = described
            code = "unquoted-value"
            self.error(code, f"{what}: {message}", path, help=advice)
        else:
            self.error(
                "invalid-value", f"{what} must be text", path, help='write it as text, e.g. "gold"'
            )

    # -- small typed readers -------------------------------------------------------------
    def text(self, value: Any, path: Path_, what: str) -> str | None:
        if isinstance(value, str):
            return value
        self.not_text(value, path, what)
        return None

    def texts(self, value: Any, path: Path_, what: str) -> list[str] | None:
        """One text or a list of texts."""
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            if not value:
                self.error(
                    "invalid-value",
                    f"{what}: the list is empty",
                    path,
                    help="list at least one value",
                )
                return None
            out: list[str] = []
            ok = True
            for i, item in enumerate(value):
                if isinstance(item, str):
                    out.append(item)
                else:
                    self.not_text(item, (*path, i), what)
                    ok = False
            return out if ok else None
        self.not_text(value, path, what)
        return None

    # -- attribute names -----------------------------------------------------------------
    def attribute(self, name: str, path: Path_) -> Source:
        """The source for an attribute name, with a typo check against LiveKit's keys."""
        self.used_attributes.add(name)
        if name not in self.declared and name not in FACTS:
            hint = catalogue.suggest(name)
            if hint is not None:
                never = name in catalogue.NEVER_SHIPPED or name.startswith("lk.sip.")
                why = "LiveKit never sets" if never else "LiveKit does not set"
                self.error(
                    "unknown-attribute",
                    f"rule `{self.rule_name}` uses attribute `{name}`, which {why}",
                    path,
                    key=True,
                    help=f"did you mean `{hint}`? if `{name}` is your own attribute, "
                    "declare it under `attributes:`",
                )
        return source_for(name, self)

    # -- conditions ----------------------------------------------------------------------
    def when(self, spec: Any, path: Path_) -> Cond | None:
        if spec is None:
            return Always()
        if not isinstance(spec, dict):
            self.error(
                "invalid-condition",
                "conditions must be a mapping of `name: value`",
                path,
                help='e.g. when: {sip.trunkPhoneNumber: "+15105550123"}',
            )
            return None
        if not spec:
            return Always()
        conds: list[Cond] = []
        ok = True
        for key, value in spec.items():
            kpath = (*path, key)
            kw = KEYWORDS.get(key)
            cond = (
                kw(self, value, kpath)
                if kw is not None
                else self.attribute_condition(key, value, kpath)
            )
            if cond is None:
                ok = False
            else:
                conds.append(cond)
        if not ok:
            return None
        return conds[0] if len(conds) == 1 else All(conds)

    def attribute_condition(self, name: str, value: Any, path: Path_) -> Cond | None:
        source = self.attribute(name, path)
        if isinstance(value, dict):
            if not value:
                self.error(
                    "invalid-condition",
                    f"no operator given for `{name}`",
                    path,
                    help='e.g. {prefix: "+1510"}; operators: ' + ", ".join(OPERATORS),
                )
                return None
            conds: list[Cond] = []
            ok = True
            for op, arg in value.items():
                opath = (*path, op)
                fn = OPERATORS.get(op)
                if fn is None:
                    alias = OPERATOR_ALIASES.get(op.lower())
                    hint = f"did you mean `{alias}`?" if alias else did_you_mean(op, OPERATORS)
                    self.error(
                        "unknown-operator",
                        f"`{op}` is not an operator",
                        opath,
                        key=True,
                        help=(hint + " " if hint else "") + "operators: " + ", ".join(OPERATORS),
                    )
                    ok = False
                    continue
                cond = fn(self, source, arg, opath)
                if cond is None:
                    ok = False
                else:
                    conds.append(cond)
            if not ok:
                return None
            return conds[0] if len(conds) == 1 else All(conds)
        values = self.texts(value, path, f"the value for `{name}`")
        if values is None:
            return None
        return Equals(source, [normalize(source, v) for v in values])


def normalize(source: Source, value: str) -> str:
    """A rule's literal as the source compares it (phone numbers in E.164, for one)."""
    fn = getattr(source, "normalize", None)
    return fn(value) if fn is not None else value


# -- operators --------------------------------------------------------------------------


@operator("equals")
def _op_equals(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    value = c.text(arg, path, "`equals`")
    return Equals(source, [normalize(source, value)]) if value is not None else None


@operator("one_of")
def _op_one_of(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    values = c.texts(arg, path, "`one_of`")
    return Equals(source, [normalize(source, v) for v in values]) if values else None


@operator("prefix")
def _op_prefix(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    values = c.texts(arg, path, "`prefix`")
    if not values:
        return None
    if any(v == "" for v in values):
        c.error(
            "invalid-value",
            "an empty prefix matches everything",
            path,
            help="use `exists: true` to test that the attribute is present",
        )
        return None
    return Prefix(source, [normalize_prefix(source, v) for v in values])


def normalize_prefix(source: Source, value: str) -> str:
    fn = getattr(source, "normalize_prefix", None)
    return fn(value) if fn is not None else value


@operator("suffix")
def _op_suffix(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    values = c.texts(arg, path, "`suffix`")
    return Suffix(source, values) if values else None


@operator("contains")
def _op_contains(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
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


@operator("regex")
def _op_regex(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    pattern = c.text(arg, path, "`regex`")
    if pattern is None:
        return None
    try:
        options = re2.Options()
        options.log_errors = False
        compiled = re2.compile(pattern, options)
    except Exception as exc:
        # RE2 decides what is refused; the finders only explain it. Escaped characters
        # (`\++`, `\\1`, `\p{Nd}+`) are blanked so they are not taken for operators.
        unescaped = _ESCAPED.sub(_blank_escape, pattern)
        for finder, what, advice in _UNSUPPORTED_RE:
            m = finder.search(unescaped)
            if m is not None:
                c.error(
                    "bad-regex",
                    f"`{pattern}` uses {what} at position {m.start() + 1}, which rules cannot use",
                    path,
                    help=advice + " (rules use RE2, which runs in linear time)",
                )
                return None
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        c.error(
            "bad-regex",
            f"`{pattern}` is not a valid regular expression: {reason}",
            path,
            help="rules use RE2 syntax; the whole value must match",
        )
        return None
    return Regex(source, pattern, compiled)


@operator("exists")
def _op_exists(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    return _flag(c, source, arg, path, "exists", Exists, Missing)


@operator("missing")
def _op_missing(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    return _flag(c, source, arg, path, "missing", Missing, Exists)


def _flag(
    c: Compiler,
    source: Source,
    arg: Any,
    path: Path_,
    name: str,
    yes: type[Exists] | type[Missing],
    no: type[Exists] | type[Missing],
) -> Cond | None:
    if arg is True:
        return yes(source)
    if arg is False:
        return no(source)
    c.error("invalid-value", f"`{name}` takes true or false", path, help=f"write `{name}: true`")
    return None


# -- keywords ---------------------------------------------------------------------------


@keyword("kind")
def _kw_kind(c: Compiler, value: Any, path: Path_) -> Cond | None:
    kinds = c.texts(value, path, "`kind`")
    if kinds is None:
        return None
    ok = True
    for i, k in enumerate(kinds):
        if k not in catalogue.KINDS:
            hint = (
                "web and app users are `standard`"
                if k.lower() in ("web", "webrtc", "app", "browser", "user")
                else did_you_mean(k.lower(), catalogue.KINDS)
            )
            c.error(
                "unknown-kind",
                f"`{k}` is not a participant kind",
                (*path, i) if isinstance(value, list) else path,
                help=(hint + "; " if hint else "") + "kinds: " + ", ".join(catalogue.KINDS),
            )
            ok = False
    return Equals(KindSource(), kinds) if ok else None


def _kw_group(cls: type[All] | type[AnyOf], name: str) -> KeywordFn:
    def compile_group(c: Compiler, value: Any, path: Path_) -> Cond | None:
        if not isinstance(value, list) or not value:
            c.error(
                "invalid-condition",
                f"`{name}` takes a list of conditions",
                path,
                help=f"e.g. {name}: [{{customer.tier: gold}}, {{kind: standard}}]",
            )
            return None
        parts = [c.when(item, (*path, i)) for i, item in enumerate(value)]
        if any(p is None for p in parts):
            return None
        return cls([p for p in parts if p is not None])

    return compile_group


KEYWORDS["all"] = _kw_group(All, "all")
KEYWORDS["any"] = _kw_group(AnyOf, "any")


@keyword("not")
def _kw_not(c: Compiler, value: Any, path: Path_) -> Cond | None:
    if not isinstance(value, dict) or not value:
        c.error(
            "invalid-condition",
            "`not` takes conditions",
            path,
            help="e.g. not: {customer.tier: gold}",
        )
        return None
    inner = c.when(value, path)
    return Not(inner) if inner is not None else None


@keyword("expr")
def _kw_expr(c: Compiler, value: Any, path: Path_) -> Cond | None:
    text = c.text(value, path, "`expr`")
    if text is None:
        return None
    try:
        cond = Expr(text)
    except ExprProblem as problem:
        loc = c.doc.loc(path)
        scalar = c.doc.scalars.get(tuple(path))
        shift = 1 if scalar is not None and scalar.quoted and scalar.text == text else 0
        if loc.line and c.doc.lines and loc.line <= len(c.doc.lines):
            line = c.doc.lines[loc.line - 1]
            if line[loc.column - 1 :].lstrip("'\"").startswith(text.strip()[:10]):
                loc = Location(loc.file, loc.line, loc.column + shift + problem.col)
        c.error("bad-expression", problem.message, path, help=problem.help, location=loc)
        return None
    for name in cond.attrs_used:
        c.attribute(name, path)
    return cond


# -- the whole file ---------------------------------------------------------------------


def _pydantic_problems(
    c: Compiler, model: type[BaseModel], data: Any, path: Path_
) -> BaseModel | None:
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        seen: set[tuple[Any, ...]] = set()
        for err in exc.errors():
            loc = (*path, *err["loc"])
            if loc in seen:
                continue
            seen.add(loc)
            _report(c, model, err, loc, path)
        return None


def _fields_at(model: type[BaseModel], rel: tuple[Any, ...]) -> list[str]:
    """The keys allowed at `rel` inside `model` (for "did you mean")."""
    import typing

    current: Any = model
    for part in rel:
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(str(part))
            if f is None:
                return []
            current = f.annotation
        else:
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if typing.get_origin(current) in (list, dict) and args:
                current = args[-1]
            elif args:
                current = args[0]
            else:
                return []
            if (
                isinstance(current, type)
                and issubclass(current, BaseModel)
                and isinstance(part, str)
            ):
                pass
        while not (isinstance(current, type) and issubclass(current, BaseModel)):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if not args or typing.get_origin(current) in (list, dict):
                break
            current = args[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _where(path: tuple[Any, ...]) -> str:
    """A path in words: `rule 3`, `profile `vip``, `the file`."""
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        return f"rule {path[1] + 1}" + (f" (`{'.'.join(map(str, path[2:]))}`)" if path[2:] else "")
    if len(path) >= 2 and path[0] == "profiles":
        return f"profile `{path[1]}`"
    return f"`{'.'.join(map(str, path))}`" if path else "the file"


def _report(
    c: Compiler, model: type[BaseModel], err: Any, loc: tuple[Any, ...], base: Path_
) -> None:
    kind = err["type"]
    field_name = str(loc[-1]) if loc else ""
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, tuple(loc[len(base) : -1]))
        hint = did_you_mean(field_name, allowed)
        if value is None and not hint and (" " in field_name or "," in field_name or len(loc) > 2):
            hint = "if this is the rest of a text that contains `, ` or `: `, put the whole text in quotes;"
        c.error(
            "unknown-key",
            f"`{field_name}` is not a known key here",
            loc,
            key=True,
            help=(hint + " " if hint else "")
            + ("known keys: " + ", ".join(allowed) if allowed else ""),
        )
    elif kind == "missing":
        c.error(
            "missing-key",
            f"{_where(loc[:-1])} has no `{field_name}`",
            loc[:-1],
            help=f"add `{field_name}:`",
        )
    elif kind == "string_type":
        c.not_text(value, loc, f"`{field_name}`")
    elif kind in ("list_type",):
        c.error(
            "invalid-value",
            f"`{field_name}` must be a list",
            loc,
            help=f"write it as a list, e.g. {field_name}: [{value if isinstance(value, str) else 'a, b'}]",
        )
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        c.error("invalid-value", f"`{field_name}` must be a mapping of `key: value`", loc)
    elif kind in ("bool_type", "bool_parsing"):
        c.error("invalid-value", f"`{field_name}` must be true or false", loc)
    elif kind in ("int_type", "int_parsing"):
        c.error("invalid-value", f"`{field_name}` must be a whole number", loc)
    else:
        c.error("invalid-value", f"`{field_name}`: {err['msg'].lower()}", loc)


def _read_text(c: Compiler, rel: str, path: Path_) -> str | None:
    file = (c.base_dir / rel).resolve()
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        c.error(
            "missing-file",
            f"the instructions file `{rel}` does not exist",
            path,
            help=f"create it beside the rules file (looked for {file})",
        )
        return None
    except OSError as exc:
        c.error(
            "missing-file", f"the instructions file `{rel}` cannot be read: {exc.strerror}", path
        )
        return None
    c.referenced(file, data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        c.error("invalid-value", f"the instructions file `{rel}` is not UTF-8 text", path)
        return None


def _template(c: Compiler, text: str, path: Path_, what: str) -> Template:
    parts: list[str | tuple[Source, str]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        parts.append(text[pos : m.start()])
        name, fallback = m.group(1), m.group(2) or ""
        if not name:
            c.error(
                "unknown-placeholder",
                f"an empty placeholder `{m.group(0)}` in {what}",
                path,
                help="write the attribute name inside, e.g. {{ customer.name | there }}",
            )
        else:
            c.placeholders.append((name, path, what))
        parts.append((source_for(name, c), fallback))
        pos = m.end()
    parts.append(text[pos:])
    merged: list[str | tuple[Source, str]] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif p != "":
            merged.append(p)
    return Template(tuple(merged))


def _check_placeholders(c: Compiler) -> None:
    """Placeholders name a LiveKit key, a derived fact, a declared attribute, or one the
    rules test; checked once every rule is read, so the order of sections does not matter."""
    seen: set[tuple[str, Path_]] = set()
    for name, path, what in c.placeholders:
        if (name, path) in seen:
            continue
        seen.add((name, path))
        known = (
            name in catalogue.KNOWN_KEYS
            or name in FACTS
            or not isinstance(source_for(name, c), AttrSource)
            or name in c.declared
            or name in c.used_attributes
            or (name.startswith("sip.h.") and name == name.lower())
        )
        if known:
            continue
        close = difflib.get_close_matches(name, [*c.declared, *FACTS, *c.used_attributes], n=1)
        hint = catalogue.suggest(name) or (close[0] if close else None)
        c.error(
            "unknown-placeholder",
            f"the placeholder `{{{{ {name} }}}}` in {what} names no known attribute",
            path,
            help=(f"did you mean `{hint}`? " if hint else "")
            + "if it is your own attribute, declare it under `attributes:`",
        )


def _cached_template(c: Compiler, text: str, path: Path_, what: str) -> Template:
    """One template per place in the file, so a profile used by many rules is checked once."""
    key = tuple(path)
    if key not in c.templates:
        c.templates[key] = _template(c, text, path, what)
    return c.templates[key]


def _check_fields(c: Compiler, fields: OutcomeFields, path: Path_) -> dict[str, Any]:
    """The fields set in one outcome block, checked; instructions read from their file."""
    out: dict[str, Any] = {}
    for key in ("stt", "llm", "tts"):
        value = getattr(fields, key)
        if value is None:
            continue
        if not MODEL_STRING.match(value):
            example = {
                "stt": "deepgram/nova-2-phonecall:es",
                "llm": "openai/gpt-4.1-mini",
                "tts": "cartesia/sonic-2",
            }[key]
            c.error(
                "bad-model",
                f"`{value}` is not a model name of the form `provider/model[:language]`",
                (*path, key),
                help=f'e.g. {key}: "{example}"',
            )
        out[key] = value
    if fields.instructions is not None and fields.instructions_file is not None:
        c.error(
            "conflicting-keys",
            "give either `instructions` or `instructions_file`, not both",
            (*path, "instructions_file"),
            key=True,
        )
    if fields.instructions is not None:
        out["instructions"] = (fields.instructions, (*path, "instructions"), "instructions")
    elif fields.instructions_file is not None:
        text = _read_text(c, fields.instructions_file, (*path, "instructions_file"))
        if text is not None:
            what = f"the instructions file `{fields.instructions_file}`"
            out["instructions"] = (text, (*path, "instructions_file"), what)
    if fields.greeting is not None:
        out["greeting"] = (fields.greeting, (*path, "greeting"), "the greeting")
    if fields.tools is not None:
        for i, tool in enumerate(fields.tools):
            if not TOOL_NAME.match(tool):
                c.error(
                    "bad-tool-name",
                    f"`{tool}` is not a tool name",
                    (*path, "tools", i),
                    help="tool names are letters, digits and `_`, e.g. transfer_to_human",
                )
        out["tools"] = tuple(dict.fromkeys(fields.tools))
    if fields.metadata is not None:
        out["metadata"] = fields.metadata
    return out


def _make_plan(c: Compiler, layers: list[tuple[str, dict[str, Any]]]) -> Plan:
    """Merge outcome layers, lowest first (defaults, base profiles, profile, rule)."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for origin, fields in layers:
        for key, value in fields.items():
            merged[key] = value
            sources[key] = origin
    plan = Plan(sources=sources)
    plan.stt, plan.llm, plan.tts = merged.get("stt"), merged.get("llm"), merged.get("tts")
    plan.tools = merged.get("tools", ())
    plan.metadata = merged.get("metadata", {})
    if "instructions" in merged:
        text, path, what = merged["instructions"]
        plan.instructions = _cached_template(c, text, path, what)
    if "greeting" in merged:
        text, path, what = merged["greeting"]
        plan.greeting = _cached_template(c, text, path, what)
    plan.freeze()
    return plan


def _profile_layers(
    c: Compiler, profiles: dict[str, Profile], checked: dict[str, dict[str, Any]], name: str
) -> list[tuple[str, dict[str, Any]]]:
    chain: list[str] = []
    current: str | None = name
    while current is not None and current in profiles:
        if current in chain:
            break
        chain.append(current)
        current = profiles[current].extends
    return [(f"profile:{p}", checked.get(p, {})) for p in reversed(chain)]


#: Conditions that only the very same condition implies (see `Cond.implies`).
_KEYED_ONLY = (Regex, Expr, AnyOf)


def _keyed_only(cond: Cond) -> tuple[Cond, ...]:
    """The top conditions of `cond` when every one of them is keyed-only, else ()."""
    tops = top_conditions(cond)
    return tops if tops and all(isinstance(t, _KEYED_ONLY) for t in tops) else ()


def _shadow_warnings(c: Compiler, rules: list[CompiledRule]) -> None:
    """Warn about rules that can never match because an earlier rule catches all their
    callers. Candidates come from shared exact values and prefixes, so this stays near
    linear at 100,000 rules."""
    enabled = [r for r in rules if r.enabled]
    by_value: dict[tuple[Source, str], list[int]] = {}
    with_prefixes: set[Source] = set()
    for pos, r in enumerate(enabled):
        for cond in top_conditions(r.cond):
            if isinstance(cond, Equals) and cond.source is not None:
                for v in cond.values:
                    by_value.setdefault((cond.source, v), []).append(pos)
            elif isinstance(cond, Prefix) and cond.source is not None:
                with_prefixes.add(cond.source)
    prefixed: dict[Source, list[tuple[str, int]]] = {}
    for pos, r in enumerate(enabled) if with_prefixes else ():
        for cond in top_conditions(r.cond):
            if isinstance(cond, Prefix | Equals) and cond.source in with_prefixes:
                values = cond.prefixes if isinstance(cond, Prefix) else cond.values
                prefixed.setdefault(cond.source, []).extend((v, pos) for v in values)
    for lst in prefixed.values():
        lst.sort()
    budget = SHADOW_PAIR_BUDGET
    reported: set[int] = set()
    by_key: dict[tuple[Any, ...], list[int]] = {}
    import bisect

    for pos, earlier in enumerate(enabled):
        key = index_condition(earlier.cond)
        if isinstance(earlier.cond, Always):
            later: Sequence[int] = range(pos + 1, len(enabled))
        elif isinstance(key, Equals) and key.source is not None:
            hits = [by_value.get((key.source, v), ()) for v in key.values]
            if len(hits) == 1 and len(hits[0]) <= 1:
                continue  # the usual case at scale: no other rule has this value
            later = sorted({p for ids in hits for p in ids if p > pos})
        elif isinstance(key, Prefix) and key.source is not None:
            lst = prefixed.get(key.source, [])
            found: set[int] = set()
            for pre in key.prefixes:
                i = bisect.bisect_left(lst, (pre, -1))
                while i < len(lst) and lst[i][0].startswith(pre) and len(found) < 10_000:
                    if lst[i][1] > pos:
                        found.add(lst[i][1])
                    i += 1
            later = sorted(found)
        elif tops := _keyed_only(earlier.cond):
            # only a rule with the very same regex/expression/any can imply these
            if not by_key:
                for q, r in enumerate(enabled):
                    for cond in top_conditions(r.cond):
                        if isinstance(cond, _KEYED_ONLY):
                            by_key.setdefault(cond.key, []).append(q)
            later = [p for p in by_key.get(tops[0].key, ()) if p > pos]
        else:
            if budget < len(enabled) - pos:
                continue
            later = range(pos + 1, len(enabled))
        for p in later:
            budget -= 1
            if p in reported:
                continue
            rule = enabled[p]
            if isinstance(earlier.cond, Always) or rule.cond.implies(earlier.cond):
                reported.add(p)
                where = f"{earlier.file}:{earlier.line}" if earlier.file else f"line {earlier.line}"
                c.warning(
                    "unreachable-rule",
                    f"rule `{rule.name}` can never match: rule `{earlier.name}` ({where}) "
                    "comes first and catches all its callers",
                    rule.path or ("rules", rule.index),
                    help=f"move `{rule.name}` above `{earlier.name}`, or make its conditions differ",
                )
                if rule.file:  # a table row: point at its line in the table
                    d = c.diagnostics[-1]
                    c.diagnostics[-1] = Diagnostic(
                        d.code, d.message, Location(rule.file, rule.line, 1), "warning", d.help
                    )
            if budget <= 0:
                return


def compile_document(doc: Document, base_dir: Path, content_hash: str) -> Policy:
    c = Compiler(doc=doc, base_dir=base_dir)
    data = doc.data
    if not isinstance(data, dict):
        c.error(
            "invalid-file",
            "the rules file must be a mapping with `rules:` (and `defaults:`, `profiles:`)",
            (),
            help="start from the sample rules.yaml",
        )
        raise PolicyError(c.diagnostics)
    top = {k: v for k, v in data.items() if k != "rules"}
    # structure first, section by section, so one bad rule does not hide the others
    shallow = {k: (v if k in ("version",) else None) for k, v in top.items()}
    if "version" in top and top["version"] != 1 and isinstance(top["version"], int):
        c.error(
            "invalid-value",
            f"`version: {top['version']}` is not a format this sip-policy reads",
            ("version",),
            help="write `version: 1`, or upgrade sip-policy",
        )
    _pydantic_problems(c, RulesFile, shallow, ())
    settings = _pydantic_problems(c, Settings, top.get("settings") or {}, ("settings",))
    if isinstance(settings, Settings):
        c.settings = settings
    if isinstance(top.get("attributes"), dict):
        for name, info in top["attributes"].items():
            model = _pydantic_problems(c, AttributeInfo, info or {}, ("attributes", name))
            if isinstance(model, AttributeInfo):
                c.declared[name] = model
    elif top.get("attributes") is not None:
        c.error(
            "invalid-value", "`attributes` must be a mapping of attribute names", ("attributes",)
        )
    if isinstance(top.get("schedules"), dict):
        c.schedules = dict(top["schedules"])
    for hook in LOAD_HOOKS:
        hook(c, data)

    defaults_fields: dict[str, Any] = {}
    if top.get("defaults") is not None:
        d = _pydantic_problems(c, OutcomeFields, top["defaults"], ("defaults",))
        if isinstance(d, OutcomeFields):
            defaults_fields = _check_fields(c, d, ("defaults",))

    profiles: dict[str, Profile] = {}
    raw_profiles = top.get("profiles")
    if isinstance(raw_profiles, dict):
        for name, body in raw_profiles.items():
            p = _pydantic_problems(c, Profile, body if body is not None else {}, ("profiles", name))
            if isinstance(p, Profile):
                profiles[name] = p
    elif raw_profiles is not None:
        c.error("invalid-value", "`profiles` must be a mapping of profile names", ("profiles",))
    checked_profiles = {
        name: _check_fields(c, p, ("profiles", name)) for name, p in profiles.items()
    }
    for name, p in profiles.items():
        if p.extends is None:
            continue
        if p.extends not in profiles and (
            not isinstance(raw_profiles, dict) or p.extends not in raw_profiles
        ):
            hint = did_you_mean(p.extends, profiles)
            c.error(
                "unknown-profile",
                f"profile `{name}` extends `{p.extends}`, which is not a profile",
                ("profiles", name, "extends"),
                help=hint or "profiles: " + ", ".join(profiles),
            )
            continue
        seen = [name]
        current: str | None = p.extends
        while current is not None and current in profiles:
            if current in seen:
                cycle = " → ".join([*seen[seen.index(current) :], current])
                if seen[0] == name and current == name:
                    c.error(
                        "extends-cycle",
                        f"profiles extend each other in a circle: {cycle}",
                        ("profiles", name, "extends"),
                        help="one of them must not extend the others",
                    )
                break
            seen.append(current)
            current = profiles[current].extends

    compiled: list[CompiledRule] = []
    raw_rules = data.get("rules")
    names: dict[str, int] = {}
    if raw_rules is None:
        c.warning(
            "no-rules",
            "the file has no `rules:`; every caller gets the defaults",
            (),
            help="add rules under `rules:`",
        )
        raw_rules = []
    if not isinstance(raw_rules, list):
        c.error(
            "invalid-value", "`rules` must be a list, each item starting with `- name:`", ("rules",)
        )
        raw_rules = []
    default_plan = _make_plan(c, [("defaults", defaults_fields)])
    for i, raw in enumerate(raw_rules):
        path: Path_ = ("rules", i)
        c.rule_name = raw.get("name", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        if not isinstance(c.rule_name, str):
            c.rule_name = f"#{i + 1}"
        # `when` is checked by the compiler, which knows operators and positions
        shape = {k: v for k, v in raw.items() if k != "when"} if isinstance(raw, dict) else raw
        rule = _pydantic_problems(c, Rule, shape, path)
        cond = c.when(raw.get("when"), (*path, "when")) if isinstance(raw, dict) else None
        if not isinstance(rule, Rule):
            continue
        if rule.name in names:
            c.error(
                "duplicate-rule",
                f"two rules are named `{rule.name}` (the first at line {names[rule.name]})",
                (*path, "name"),
                help="give each rule its own name: decisions and logs show it",
            )
        line = doc.loc(path).line
        names.setdefault(rule.name, line)
        layers: list[tuple[str, dict[str, Any]]] = [("defaults", defaults_fields)]
        if rule.use is not None:
            if rule.use not in profiles:
                if not isinstance(raw_profiles, dict) or rule.use not in raw_profiles:
                    known = list(raw_profiles) if isinstance(raw_profiles, dict) else []
                    hint = did_you_mean(rule.use, known)
                    listed = (
                        "profiles: " + ", ".join(known) if known else "define it under `profiles:`"
                    )
                    c.error(
                        "unknown-profile",
                        f"rule `{rule.name}` uses profile `{rule.use}`, which is not defined",
                        (*path, "use"),
                        help=f"{hint} {listed}" if hint else listed,
                    )
            else:
                layers += _profile_layers(c, profiles, checked_profiles, rule.use)
        if rule.set is not None:
            layers.append((f"rule:{rule.name}", _check_fields(c, rule.set, (*path, "set"))))
        if cond is None:
            continue
        if rule.table is not None:
            from .tables import expand_table  # imports this module

            own = [layers[0], *(layers[-1:] if rule.set is not None else [])]

            def plan_for(use: str | None, own: list[Any] = own) -> Plan:
                profile = _profile_layers(c, profiles, checked_profiles, use or "")
                return _make_plan(c, [own[0], *profile, *own[1:]])

            known = list(raw_profiles) if isinstance(raw_profiles, dict) else []
            compiled += expand_table(c, rule, cond, path, len(compiled), names, plan_for, known)
            continue
        compiled.append(
            CompiledRule(
                index=len(compiled),
                name=rule.name,
                line=line,
                cond=cond,
                plan=_make_plan(c, layers),
                enabled=rule.enabled,
                path=path,
            )
        )
    _check_placeholders(c)
    if not any(d.is_error for d in c.diagnostics):
        _shadow_warnings(c, compiled)
    errors = [d for d in c.diagnostics if d.is_error]
    if errors:
        raise PolicyError(c.diagnostics)
    revision = _revision(content_hash, c.digests)
    return Policy(
        rules=compiled,
        default=default_plan,
        revision=revision,
        path=Path(doc.file),
        files=(Path(doc.file), *dict.fromkeys(c.files)),
        warnings=tuple(sorted(c.diagnostics, key=Diagnostic.sort_key)),
        settings=c.settings,
        declared=c.declared,
    )


#: Functions called with the compiler and the raw data before rules are compiled
#: (schedules, tables and other sections register here).
LOAD_HOOKS: list[Callable[[Compiler, dict[str, Any]], None]] = []


def _revision(content_hash: str, digests: dict[Path, bytes]) -> str:
    """The rules' content hash combined with every referenced file's, in reading order."""
    h = hashlib.sha256(content_hash.encode())
    for digest in digests.values():
        h.update(digest)
    return h.hexdigest()[:12]


def loads(text: str, *, file: str = "rules.yaml", base_dir: str | Path | None = None) -> Policy:
    """Compile rules from text; `file` names it in diagnostics, `base_dir` resolves files."""
    content_hash = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    with _gc_paused():
        try:
            doc = parse(text, file)
        except YamlProblem as problem:
            raise PolicyError(problem.diagnostics) from None
        return compile_document(
            doc, Path(base_dir) if base_dir else Path(file).resolve().parent, content_hash
        )


_gc_lock = threading.Lock()
_gc_loads = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a load builds its many small objects (it
    rescans them all again and again: loads take 2-3 times longer at 100,000 rules).
    Counted, so loads in several threads at once turn it back on only when the last one
    ends, and only if it was on; reference counting frees memory as usual meanwhile."""
    global _gc_loads, _gc_was_enabled
    with _gc_lock:
        if _gc_loads == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_loads += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_loads -= 1
            if _gc_loads == 0 and _gc_was_enabled:
                gc.enable()


def load(path: str | Path) -> Policy:
    """Load, validate and compile a rules file. Raises `PolicyError` with every problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PolicyError(
            [
                Diagnostic(
                    "missing-file",
                    f"the rules file `{p}` does not exist",
                    Location(str(p)),
                    help="pass the path of your rules.yaml",
                )
            ]
        ) from None
    except OSError as exc:
        raise PolicyError(
            [
                Diagnostic(
                    "missing-file",
                    f"the rules file `{p}` cannot be read: {exc.strerror}",
                    Location(str(p)),
                )
            ]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(
            [
                Diagnostic(
                    "invalid-file",
                    f"the rules file is not UTF-8 text (byte {exc.start})",
                    Location(str(p)),
                    help="save the file as UTF-8",
                )
            ]
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return loads(text, file=str(path), base_dir=p.resolve().parent)


# Modules that register operators, keywords, facts and load hooks of their own (imported last:
# they build on the names above).
from . import phone, schedule  # noqa: E402, F401
