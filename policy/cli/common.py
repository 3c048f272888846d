"""What every sub-command shares: colour, counts in words, printing diagnostics, loading
the rules with every problem reported."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from ..compile import load
from ..errors import Diagnostic, PolicyError
from ..runtime.engine import Policy

DEFAULT_RULES = "rules.yaml"


class Style:
    """ANSI colour when writing to a terminal and NO_COLOR is unset."""

    def __init__(self, stream: TextIO) -> None:
        self.on = (
            stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        )

    def _c(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.on else text

    def red(self, t: str) -> str:
        return self._c("31", t)

    def green(self, t: str) -> str:
        return self._c("32", t)

    def yellow(self, t: str) -> str:
        return self._c("33", t)

    def bold(self, t: str) -> str:
        return self._c("1", t)

    def dim(self, t: str) -> str:
        return self._c("2", t)


def plural(n: int, word: str) -> str:
    """`1 rule`, `2 rules`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(file: str, ok: bool, *counts: str, revision: str | None = None) -> str:
    """The one summary line every command ends with: `FILE: ok|failed: COUNTS (revision R)`."""
    verdict = "ok" if ok else "failed"
    tail = f" (revision {revision})" if revision else ""
    return f"{file}: {verdict}: {', '.join(counts)}{tail}"


def github_annotations(diags: Sequence[Diagnostic]) -> None:
    """GitHub Actions workflow commands: each problem shown on its line of the pull request."""

    def esc(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    for d in diags:
        loc = d.location
        where = f"file={esc(loc.file)}"
        if loc.line > 0:
            where += f",line={loc.line}" + (f",col={loc.column}" if loc.column > 0 else "")
        text = d.message + (f" (help: {d.help})" if d.help else "")
        print(f"::{d.severity} {where},title={d.code}::{esc(text)}")


def print_diagnostics(diags: Sequence[Diagnostic], stream: TextIO, fmt: str = "text") -> None:
    if fmt == "github":
        github_annotations(diags)
        return
    style = Style(stream)
    for d in diags:
        text = d.render()
        head, _, rest = text.partition("\n")
        color = style.red if d.is_error else style.yellow
        print(color(head) + ("\n" + rest if rest else ""), file=stream)


def load_or_report(rules: str, fmt: str) -> Policy | None:
    try:
        return load(rules)
    except PolicyError as exc:
        if fmt == "json":
            json.dump(
                {"ok": False, "diagnostics": [d.to_dict() for d in exc.diagnostics]},
                sys.stdout,
                indent=2,
            )
            print()
        print_diagnostics(exc.diagnostics, sys.stderr, fmt)
        errors = len(exc.errors)
        print(
            summary(rules, False, plural(errors, "error"), plural(len(exc.warnings), "warning")),
            file=sys.stderr,
        )
        return None
