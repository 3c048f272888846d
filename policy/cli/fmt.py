"""`sip-policy fmt [--check]`: the rules file in its canonical form, comments kept.

Canonical: two-space indentation, list items indented under their key (`  - name:`), one
space after `:` and `-`. Keys stay in the order written (moving a key would move the
comments YAML attaches around it), and so do quotes, comments, flow style (`{...}`,
`[...]`) and long lines.
ruamel.yaml does the round trip (PyYAML drops comments); the result is refused unless it reads
as exactly the same data as the file.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import yaml
from ruamel.yaml import YAML


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def format_text(text: str) -> str:
    """`text` in canonical form (ValueError when it is not YAML a rules file can hold)."""
    y = _yaml()
    data = y.load(text)
    out = io.StringIO()
    y.dump(data, out)
    formatted = out.getvalue()
    if yaml.safe_load(formatted) != yaml.safe_load(text):  # pragma: no cover - a guard
        raise ValueError("formatting would change what the file says; left as it is")
    return formatted


def cmd_fmt(args: argparse.Namespace) -> int:
    path = Path(args.rules)
    try:
        text = path.read_text(encoding="utf-8")
        formatted = format_text(text)
    except FileNotFoundError:
        print(f"error: the rules file `{path}` does not exist", file=sys.stderr)
        return 1
    except Exception as exc:  # any YAML or decoding problem: `check` explains it
        print(
            f"error: `{path}` cannot be formatted ({type(exc).__name__}); "
            f"run `sip-policy check {path}` to see why",
            file=sys.stderr,
        )
        return 1
    if formatted == text:
        print(f"{path}: ok: already formatted")
        return 0
    if args.check:
        print(f"{path}: failed: not formatted; run `sip-policy fmt {path}`")
        return 1
    path.write_text(formatted, encoding="utf-8")
    print(f"{path}: ok: formatted")
    return 0
