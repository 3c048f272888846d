"""`sip-policy watch`: re-check the rules on every save, as the worker would take them.

It runs the worker's own reload machinery (`PolicyHolder`: settle interval, refused edits
kept out, retries) and prints one line per accepted edit and per refused edit; with
`--format json`, one JSON object per line. Stop it with Ctrl+C.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import Diagnostic
from ..watch import SETTLE, PolicyHolder
from .common import Style, plural


class _Quiet:
    """The holder's logger: the lines this command prints are the report."""

    def _ignore(self, *_: Any, **__: Any) -> None:
        return None

    info = warning = error = exception = _ignore


class _Printer:
    def __init__(self, holder_ref: list[PolicyHolder], fmt: str) -> None:
        self.holder_ref = holder_ref
        self.fmt = fmt
        self.style = Style(sys.stdout)

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        if event == "policy.reloaded":
            self.accepted(fields)
        elif event in ("policy.reload_failed", "policy.reload_crashed"):
            self.refused(fields)
        sys.stdout.flush()

    def accepted(self, fields: dict[str, Any]) -> None:
        policy = self.holder_ref[0].current
        warnings = [d.to_dict() for d in policy.warnings]
        if self.fmt == "json":
            line = {
                "event": "accepted",
                "time": _now(),
                "file": fields["file"],
                "revision": fields["revision"],
                "previous_revision": fields["previous_revision"],
                "rules": len(policy.rules),
                "warnings": warnings,
            }
            print(json.dumps(line))
            return
        print(
            f"{_now()} {fields['file']}: {self.style.green('accepted')}: "
            f"{plural(len(policy.rules), 'rule')}, {plural(len(warnings), 'warning')} "
            f"(revision {fields['revision']})"
        )
        _print_rendered(policy.warnings)

    def refused(self, fields: dict[str, Any]) -> None:
        diagnostics = fields.get("diagnostics") or []
        kept = fields.get("kept_revision")
        if self.fmt == "json":
            line = {
                "event": "refused",
                "time": _now(),
                "file": fields["file"],
                "kept_revision": kept,
                "diagnostics": diagnostics,
            }
            if not diagnostics:
                line["error"] = fields.get("error")
            print(json.dumps(line))
            return
        errors = sum(1 for d in diagnostics if d.get("severity") == "error") or 1
        keeping = f"keeping revision {kept}" if kept else "no valid rules yet"
        print(
            f"{_now()} {fields['file']}: {self.style.red('refused')}: "
            f"{plural(errors, 'error')}; {keeping}"
        )
        rendered = fields.get("rendered") or fields.get("error") or ""
        print(rendered, file=sys.stderr, flush=True)


def _print_rendered(diagnostics: tuple[Diagnostic, ...]) -> None:
    for d in diagnostics:
        print(d.render(), file=sys.stderr)
    sys.stderr.flush()


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")


def cmd_watch(args: argparse.Namespace) -> int:
    holder_ref: list[PolicyHolder] = []
    printer = _Printer(holder_ref, args.format)
    holder = PolicyHolder(
        None,
        source=Path(args.rules),
        logger=_Quiet(),
        listener=printer,
        settle=args.settle,
    )
    holder_ref.append(holder)
    if args.format != "json":
        print(f"watching {args.rules} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    holder.poll(settle=0)  # the file as it is now: accepted or refused at once
    try:
        while True:
            time.sleep(args.interval)
            holder.poll()
    except KeyboardInterrupt:
        return 0


def watch_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `sip-policy watch` (besides RULES and --format)."""
    p.add_argument(
        "--interval", type=float, default=0.5, metavar="SECONDS", help="how often to look"
    )
    p.add_argument(
        "--settle",
        type=float,
        default=SETTLE,
        metavar="SECONDS",
        help="how long the file must be still before it is checked (as in the worker)",
    )
