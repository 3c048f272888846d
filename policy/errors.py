"""Diagnostics: where a problem is in the rules file, what it is, and how to fix it.

This module imports nothing from its siblings so that every stage can report problems
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]

DOCS_ERRORS = "docs/errors.md"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a file (PyYAML marks are 0-based; the loader adds 1)."""

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
            out.append(f" {num} | {self.source_line.rstrip()}")
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

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)
