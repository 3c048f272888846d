"""`sip-policy check`: validate the rules file and report every problem."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import Code, Diagnostic, Location, Position
from .common import load_or_report, plural, print_diagnostics, summary


def cmd_check(args: argparse.Namespace) -> int:
    policy = load_or_report(args.rules, args.format)
    if policy is None:
        return 1
    diagnostics = list(policy.warnings)
    if args.tools:  # the module says which tools exist: the `tools:` section is not needed
        diagnostics = [d for d in diagnostics if d.code != Code.UNDECLARED_TOOLS]
        from ..tools import load_registry

        try:
            if os.getcwd() not in sys.path:  # `--tools my_tools` finds ./my_tools.py
                sys.path.insert(0, os.getcwd())
            registry = load_registry(args.tools)
        except Exception as exc:
            print(f"error: cannot import the tools module `{args.tools}`: {exc}", file=sys.stderr)
            return 1
        for name in sorted(registry.missing(policy.tool_names())):
            diagnostics.append(
                Diagnostic.at(
                    Position(Location(str(policy.path or args.rules))),
                    Code.UNKNOWN_TOOL,
                    f"the rules name the tool `{name}`, which `{args.tools}` does not register",
                    help="register it in that module, or fix the name in the rules",
                )
            )
    errors = [d for d in diagnostics if d.is_error]
    warnings = [d for d in diagnostics if not d.is_error]
    failed = bool(errors) or (args.strict and bool(warnings))
    if args.format == "json":
        json.dump(
            {
                "ok": not failed,
                "revision": policy.revision,
                "rules": len(policy.rules),
                "diagnostics": [d.to_dict() for d in diagnostics],
            },
            sys.stdout,
            indent=2,
        )
        print()
    print_diagnostics(diagnostics, sys.stderr, args.format)
    if args.format != "json":
        print(
            summary(
                args.rules,
                not failed,
                plural(len(policy.rules), "rule"),
                plural(len(errors), "error"),
                plural(len(warnings), "warning"),
                revision=policy.revision,
            )
        )
    return 1 if failed else 0
