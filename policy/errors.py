"""Diagnostics: where a problem is in the rules file, what it is, and how to fix it.

Every stage reports the same way: a `Code` (stable, documented in docs/errors.md), a
message in the user's own words, a help line, and a `Position` (a location plus the source
line to show under it). `Reporter` collects them. This module imports nothing from its
siblings, so every stage can use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Severity = Literal["error", "warning"]

DOCS_ERRORS = "docs/errors.md"


class Code(StrEnum):
    """Every diagnostic code, each with its section `docs/errors.md#CODE`."""

    BAD_DATE = "bad-date"
    BAD_EXPRESSION = "bad-expression"
    BAD_HOURS = "bad-hours"
    BAD_MODEL = "bad-model"
    BAD_PHONE_NUMBER = "bad-phone-number"
    BAD_PHONE_PREFIX = "bad-phone-prefix"
    BAD_REGEX = "bad-regex"
    BAD_TOOL_NAME = "bad-tool-name"
    BAD_TRANSFER_TARGET = "bad-transfer-target"
    CURLY_QUOTES = "curly-quotes"
    CONFLICTING_KEYS = "conflicting-keys"
    DUPLICATE_KEY = "duplicate-key"
    DUPLICATE_RULE = "duplicate-rule"
    EMPTY_RULES = "empty-rules"
    EMPTY_WHEN = "empty-when"
    EXTENDS_CYCLE = "extends-cycle"
    FILE_TOO_LARGE = "file-too-large"
    FIXED_TIMEZONE = "fixed-timezone"
    IMPOSSIBLE_CONDITION = "impossible-condition"
    INVALID_CONDITION = "invalid-condition"
    INVALID_FILE = "invalid-file"
    INVALID_KEY = "invalid-key"
    INVALID_VALUE = "invalid-value"
    MISSING_FILE = "missing-file"
    MISPLACED_KEY = "misplaced-key"
    MISSING_KEY = "missing-key"
    MISSING_TIME = "missing-time"
    NO_RULES = "no-rules"
    NOT_A_PHONE_NUMBER = "not-a-phone-number"
    REALTIME_LLM = "realtime-llm"
    PLACEHOLDER_SYNTAX = "placeholder-syntax"
    TOO_DEEP = "too-deep"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    UNKNOWN_COUNTRY = "unknown-country"
    UNKNOWN_DAY = "unknown-day"
    UNKNOWN_KEY = "unknown-key"
    UNKNOWN_KIND = "unknown-kind"
    UNKNOWN_MODEL = "unknown-model"
    UNKNOWN_NUMBER_TYPE = "unknown-number-type"
    UNKNOWN_OPERATOR = "unknown-operator"
    UNKNOWN_OPTION = "unknown-option"
    UNKNOWN_PLACEHOLDER = "unknown-placeholder"
    UNKNOWN_PROFILE = "unknown-profile"
    UNKNOWN_RULE = "unknown-rule"
    UNKNOWN_SCHEDULE = "unknown-schedule"
    UNKNOWN_TIMEZONE = "unknown-timezone"
    UNKNOWN_TOOL = "unknown-tool"
    UNDECLARED_TOOLS = "undeclared-tools"
    UNKNOWN_TRUNK = "unknown-trunk"
    UNQUOTED_VALUE = "unquoted-value"
    UNREACHABLE_RULE = "unreachable-rule"
    YAML_ALIAS = "yaml-alias"
    YAML_SYNTAX = "yaml-syntax"
    YAML_TAG = "yaml-tag"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a file (PyYAML marks are 0-based; the parser adds 1)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Position:
    """Where a diagnostic points: the location, the text of that line, and how many
    characters the caret underlines. Documents and tables each know how to make one."""

    location: Location
    source_line: str | None = None
    span: int = 1

    @classmethod
    def in_lines(
        cls, lines: list[str], file: str, line: int, column: int, span: int = 1
    ) -> Position:
        text = lines[line - 1] if 0 < line <= len(lines) else None
        return cls(Location(file, line, column), text, max(span, 1))


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a rules or test-case file.

    `code` is stable and documented in docs/errors.md; `message` is one lower-case line with
    the user's own words in backticks; `help` is advice on a separate line.
    """

    code: str
    message: str
    location: Location
    severity: Severity = "error"
    help: str | None = None
    source_line: str | None = field(default=None, compare=False)
    span: int = field(default=1, compare=False)

    @classmethod
    def at(
        cls,
        position: Position,
        code: Code,
        message: str,
        *,
        help: str | None = None,
        severity: Severity = "error",
    ) -> Diagnostic:
        """The one way stages build a diagnostic: at a position, with a code."""
        return cls(
            str(code),
            message,
            position.location,
            severity,
            help,
            position.source_line,
            position.span,
        )

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.code)

    def render(self, *, snippet: bool = True) -> str:
        """The rustc/ruff-style text form: position, code, message, snippet, help."""
        out = [f"{self.location}: {self.severity}[{self.code}]: {self.message}"]
        if snippet and self.source_line is not None and self.location.line > 0:
            num = str(self.location.line)
            pad = " " * len(num)
            shown = self.source_line.rstrip().replace("\x00", "\u2400")  # ␀, visible
            out.append(f" {num} | {shown}")
            caret = " " * max(self.location.column - 1, 0) + "^" * max(self.span, 1)
            out.append(f" {pad} | {caret}")
        anchor = f"{DOCS_ERRORS}#{self.code}"
        out.append(f"  help: {self.help} ({anchor})" if self.help else f"  help: see {anchor}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "help": self.help,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
        }


class Reporter:
    """Collects the diagnostics of one load, in the order they were found."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def report(
        self,
        position: Position,
        code: Code,
        message: str,
        *,
        help: str | None = None,
        severity: Severity = "error",
    ) -> None:
        self.diagnostics.append(
            Diagnostic.at(position, code, message, help=help, severity=severity)
        )

    def has_errors(self, since: int = 0) -> bool:
        return any(d.is_error for d in self.diagnostics[since:])


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """`did you mean `x`?` for the choice closest to `word`, or None when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


class PolicyError(Exception):
    """Raised by `policy.load` when the rules file has errors; holds every diagnostic at once."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        errors = [d for d in self.diagnostics if d.is_error]
        first = errors[0] if errors else (self.diagnostics[0] if self.diagnostics else None)
        summary = f"{len(errors)} error(s) in the rules"
        if first is not None:
            summary += f"; first: {first.location}: {first.message}"
        super().__init__(summary)

    @classmethod
    def single(
        cls, code: Code, message: str, location: Location, *, help: str | None = None
    ) -> PolicyError:
        """A load that stops at its first problem (a missing or unreadable file)."""
        return cls([Diagnostic.at(Position(location), code, message, help=help)])

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)
