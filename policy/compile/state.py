"""What every compile stage shares: the document, what earlier stages found, the reporter,
and small typed readers that report what they refuse.

Stages read the raw data of the file (`doc.data`) and the results of earlier stages from a
`Compiler`, and leave their own results on it; `policy.compile.STAGES` lists them in order.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import attributes as catalogue
from ..errors import Code, Diagnostic, Location, Position, Reporter, Severity, did_you_mean
from ..model import AttributeInfo, Settings, ToolInfo
from ..parse.document import Document, Path_, describe_scalar
from ..parse.table import Table
from ..runtime.conditions import Cond
from ..runtime.facts import FACTS
from ..runtime.outcome import Plan, Template
from ..runtime.rule import CompiledRule
from ..runtime.schedule import Schedule
from ..runtime.sources import Source
from .names import resolve

#: `attr: {OPERATOR: ARG}` → a condition on `attr` (None after reporting a problem).
OperatorFn = Callable[["Compiler", Source, Any, Path_], Cond | None]
#: `when: {KEYWORD: VALUE}` → a condition (None after reporting a problem).
KeywordFn = Callable[["Compiler", Any, Path_], Cond | None]
#: Where a problem is: a path in the rules file, or a position (a table cell, a column
#: inside an expression).
Where = Path_ | Position


@dataclass(frozen=True)
class Vocabulary:
    """The words a `when:` may use: operators on one attribute, and keywords."""

    operators: dict[str, OperatorFn]
    keywords: dict[str, KeywordFn]
    aliases: dict[str, str]


@dataclass
class Compiler:
    """Shared state while one rules file is checked and compiled."""

    doc: Document
    base_dir: Path
    vocabulary: Vocabulary
    reporter: Reporter = field(default_factory=Reporter)
    # -- sections, as the stages leave them --------------------------------------------------
    settings: Settings = field(default_factory=Settings)
    declared: dict[str, AttributeInfo] = field(default_factory=dict)
    #: attribute name → the declared name it is a typo of (None: not a typo), computed once
    typos: dict[str, str | None] = field(default_factory=dict)
    #: the `tools:` section (None when the file has none)
    declared_tools: dict[str, ToolInfo] | None = None
    #: every schedule named in the file; None for one that has problems of its own
    schedules: dict[str, Schedule | None] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    #: profile name → its checked fields (only profiles whose structure is valid)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    extends: dict[str, str | None] = field(default_factory=dict)
    #: every profile name written in the file, valid or not (for "not defined" checks)
    profile_names: list[str] = field(default_factory=list)
    default_plan: Plan | None = None
    #: rule name → the line of its first definition (table rows included)
    rule_lines: dict[str, int] = field(default_factory=dict)
    rules: list[CompiledRule] = field(default_factory=list)
    # -- what the rules use, for checks at the end and for the worker ------------------------
    rule_name: str = ""
    used_attributes: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    templates: dict[Path_, Template] = field(default_factory=dict)
    #: outcome plans by their layers (origin and the identity of each layer's fields, which
    #: live as long as the compiler): rules with the same layers share one plan
    plans: dict[tuple[tuple[str, int], ...], tuple[Plan, Any]] = field(default_factory=dict)
    placeholders: list[tuple[str, Path_, str]] = field(default_factory=list)
    #: every tool name an outcome gives, with where
    tool_uses: list[tuple[str, Path_]] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    digests: dict[Path, bytes] = field(default_factory=dict)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.reporter.diagnostics

    def referenced(self, file: Path, data: bytes) -> None:
        """Record a file the policy is built from, with the digest of the very bytes used
        (the revision must describe what was compiled, not what is on disk a moment later)."""
        self.files.append(file)
        self.digests[file] = hashlib.sha256(data).digest()

    def read(self, rel: str, where: Where, what: str) -> bytes | None:
        """The bytes of `rel` (beside the rules file), recorded for the revision; None after
        reporting why it cannot be read. `what` names it: "the table", "the instructions file"."""
        file = (self.base_dir / rel).resolve()
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            near = _near_file(self.base_dir, rel)
            self.error(
                Code.MISSING_FILE,
                f"{what} `{rel}` does not exist",
                where,
                help=f"did you mean `{near}`? file names are case-sensitive on the server"
                if near
                else f"create it beside the rules file (looked for {file})",
            )
            return None
        except OSError as exc:
            self.error(Code.MISSING_FILE, f"{what} `{rel}` cannot be read: {exc.strerror}", where)
            return None
        self.referenced(file, data)
        return data

    # -- reporting -----------------------------------------------------------------------
    def position(self, where: Where, *, key: bool = False) -> Position:
        return where if isinstance(where, Position) else self.doc.position(where, key=key)

    def within(self, path: Path_, text: str, start: int, span: int) -> Where:
        """Where `text[start:start + span]` stands, when `text` is the one-line value at
        `path` as written; else `path` itself."""
        scalar = self.doc.scalars.get(tuple(path))
        if scalar is None or scalar.text != text or "\n" in text:
            return path
        loc = self.doc.loc(path)
        line = self.doc.lines[loc.line - 1] if 0 < loc.line <= len(self.doc.lines) else ""
        column = loc.column + (1 if scalar.quoted else 0) + start
        if line[column - 1 : column - 1 + span] != text[start : start + span]:
            return path
        return Position(Location(self.doc.file, loc.line, column), line, span)

    def error(
        self,
        code: Code,
        message: str,
        where: Where,
        *,
        key: bool = False,
        help: str | None = None,
        severity: Severity = "error",
    ) -> None:
        self.reporter.report(
            self.position(where, key=key), code, message, help=help, severity=severity
        )

    def warning(
        self, code: Code, message: str, where: Where, *, key: bool = False, help: str | None = None
    ) -> None:
        self.error(code, message, where, key=key, help=help, severity="warning")

    def not_text(self, value: Any, path: Path_, what: str, example: str = "gold") -> None:
        described = describe_scalar(value, self.doc.scalars.get(tuple(path)))
        if described is not None:
            message, advice = described
            self.error(Code.UNQUOTED_VALUE, f"{what}: {message}", path, help=advice)
        else:
            self.error(
                Code.INVALID_VALUE,
                f"{what} must be text",
                path,
                help=f'write it as text, e.g. "{example}"',
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
                    Code.INVALID_VALUE,
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

    def unknown(
        self, code: Code, message: str, where: Where, word: str, known: list[str], what: str
    ) -> None:
        """`word` is not one of `known`: say so, with "did you mean" and the list."""
        hint = did_you_mean(word, known)
        listed = f"{what}: " + ", ".join(known) if known else f"define it under `{what}:`"
        self.error(code, message, where, help=f"{hint} {listed}" if hint else listed)

    # -- names ---------------------------------------------------------------------------
    def source(self, name: str) -> Source:
        """What `name` reads in this file (see `policy.compile.names`)."""
        return resolve(
            name,
            declared=self.declared,
            region=self.settings.default_region,
            schedules=self.schedules,
        )

    def attribute(self, name: str, where: Where, *, who: str | None = None) -> Source:
        """The source for an attribute name a rule uses (`who`: "rule `x`" by default),
        with a typo check against LiveKit's keys."""
        self.used_attributes.add(name)
        if name not in self.declared and name not in FACTS:
            hint = catalogue.suggest(name)
            if hint is not None:
                never = name in catalogue.NEVER_SHIPPED or name.startswith("lk.sip.")
                why = "LiveKit never sets" if never else "LiveKit does not set"
                self.error(
                    Code.UNKNOWN_ATTRIBUTE,
                    f"{who or f'rule `{self.rule_name}`'} uses attribute `{name}`, which {why}",
                    where,
                    key=True,
                    help=f"did you mean `{hint}`? if `{name}` is your own attribute, "
                    "declare it under `attributes:`",
                )
            elif name not in catalogue.KNOWN_KEYS and not name.startswith("schedule."):
                self._declared_typo(name, where, who)
        return self.source(name)

    def _declared_typo(self, name: str, where: Where, who: str | None) -> None:
        """`nw.vpi` when the file declares `nw.vip`: a typo of the file's own attribute."""
        if name not in self.typos:
            self.typos[name] = next((d for d in self.declared if _is_typo(name, d)), None)
        meant = self.typos[name]
        if meant is None:
            return
        close = [meant]
        line = self.doc.loc(("attributes", meant), key=True).line
        self.error(
            Code.UNKNOWN_ATTRIBUTE,
            f"{who or f'rule `{self.rule_name}`'} uses attribute `{name}`, which the file "
            "does not declare",
            where,
            key=True,
            help=f"did you mean `{close[0]}` (declared at line {line})? if `{name}` is "
            "another attribute, declare it under `attributes:` too",
        )


def _is_typo(word: str, declared: str) -> bool:
    """`word` is `declared` with one or two letters wrong, swapped, missing or extra (and
    not another name that shares a prefix: `customer.tier` is no typo of `customer.name`)."""
    if len(declared) < 4 or abs(len(word) - len(declared)) > 2 or word == declared:
        return False
    limit = min(2, max(1, len(declared.rpartition(".")[2]) // 2))
    return _distance(word, declared) <= limit


def _distance(a: str, b: str) -> int:
    """Edits from `a` to `b`: insertions, deletions, substitutions, adjacent swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _near_file(base: Path, rel: str) -> str | None:
    """A file beside `rel` whose name differs only by case or a letter or two (as written
    relative to `base`), for "did you mean"."""
    wanted = Path(rel)
    folder = base / wanted.parent
    try:
        names = [p.name for p in folder.iterdir() if p.is_file()]
    except OSError:
        return None
    same = [n for n in names if n.lower() == wanted.name.lower()]
    close = same or difflib.get_close_matches(wanted.name, names, n=1, cutoff=0.8)
    return (wanted.parent / close[0]).as_posix() if close else None
