"""`sip-policy diff`: the decisions an edit changes, before it ships.

With no paths, in a git repository: the rules file at HEAD (or `--against REV`), with the
files it references from the same revision, against the working copy. With one path: that
rules file, the same way. With two: OLD against NEW. Exit 0 when no decision changes, 1 when
some do, 2 on errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..capture import CaptureError
from ..compile import load
from ..diff import compare
from ..diff.inputs import InputError, cases_for, checkout, recorded_calls
from ..diff.render import to_json, to_markdown, to_text
from ..errors import PolicyError
from ..runtime.engine import Policy
from .common import DEFAULT_RULES, plural, print_diagnostics
from .explain import parse_time


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="what an edit changes: every caller decided differently, grouped by move",
        description="Compare two versions of the rules on the test cases, on callers generated "
        "from both versions' conditions, and on recorded calls. Exit 0: no decision changes; "
        "1: some do; 2: errors.",
    )
    p.add_argument(
        "old",
        nargs="?",
        metavar="OLD",
        help="the old rules file; given alone, the rules file to compare with its committed "
        f"version (default: ./{DEFAULT_RULES} against HEAD)",
    )
    p.add_argument("new", nargs="?", metavar="NEW", help="the new rules file")
    p.add_argument(
        "--against",
        metavar="REV",
        help="compare with the rules as committed at this git revision (default: HEAD)",
    )
    p.add_argument(
        "--calls",
        action="append",
        metavar="FILE",
        help="recorded calls to re-decide (a capture file, SIP_POLICY_CAPTURE; repeat)",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        help="decide callers without a time of their own at this time (default: now)",
    )
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.set_defaults(func=cmd_diff)


def _load(path: Path, label: str) -> Policy | None:
    try:
        return load(path)
    except PolicyError as exc:
        print_diagnostics(exc.diagnostics, sys.stderr)
        print(f"error: {label} has {plural(len(exc.errors), 'error')}", file=sys.stderr)
        return None


def cmd_diff(args: argparse.Namespace) -> int:
    if args.old and args.new and args.against:
        print("error: give two rules files or --against REV, not both", file=sys.stderr)
        return 2
    base = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    if args.at:
        try:
            base = parse_time(args.at)
        except ValueError:
            print(
                f"error: `--at {args.at}` is not a date and time like 2026-12-24T18:30",
                file=sys.stderr,
            )
            return 2
    try:
        recorded = recorded_calls(args.calls or [])
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sip-policy-diff-") as tmp:
        if args.old and args.new:
            old_path, new_path = Path(args.old), Path(args.new)
            old_label, new_label = args.old, args.new
        else:
            new_path = Path(args.old or DEFAULT_RULES)
            rev = args.against or "HEAD"
            if not new_path.is_file():
                print(f"error: the rules file `{new_path}` does not exist", file=sys.stderr)
                return 2
            try:
                old_path, commit = checkout(new_path, rev, Path(tmp))
            except InputError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            old_label, new_label = f"{new_path} at {rev} ({commit})", f"{new_path}, working copy"
        old = _load(old_path, old_label)
        new = _load(new_path, new_label)
        if old is None or new is None:
            return 2
        cases = cases_for([old_path, new_path])
        diff = compare(old, new, base=base, cases=cases, recorded=recorded)
    render = {"json": to_json, "markdown": to_markdown}.get(args.format, to_text)
    sys.stdout.write(render(diff, old_label, new_label))
    return 1 if diff.changed else 0
