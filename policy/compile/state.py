"""What every compile stage shares: the document, what earlier stages found, the reporter,
and small typed readers that report what they refuse.

Stages read the raw data of the file (`doc.data`) and the results of earlier stages from a
`Compiler`, and leave their own results on it; `policy.compile.STAGES` lists them in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import attributes as catalogue
from ..errors import Code, Diagnostic, Position, Reporter, Severity, did_you_mean
from ..model import AttributeInfo, Settings
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
            self.error(
                Code.MISSING_FILE,
                f"{what} `{rel}` does not exist",
                where,
                help=f"create it beside the rules file (looked for {file})",
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
        return self.source(name)
