"""`sip-policy check | test | explain | diff | playground | schema | watch`: the rules, offline,
in CI and on a laptop.

Results go to stdout, problems to stderr; colour only on a terminal; `--format json`
wherever results are printed. Exit 0 when all is well, 1 on errors or failed cases, 2 on a
wrong command line. Never imports livekit (except `check --tools`, which imports your module).
One module per sub-command; to add one, write `cmd_NAME` in its module and add its parser here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .check import cmd_check
from .common import DEFAULT_RULES
from .diff import add_parser as add_diff_parser
from .explain import cmd_explain
from .playground import cmd_playground, playground_arguments
from .schema import cmd_schema
from .test import cmd_test
from .watch import cmd_watch, watch_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sip-policy",
        description="Check, test and explain the rules that set up your LiveKit voice agent per call.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(p: argparse.ArgumentParser, rules: bool = True) -> None:
        if rules:
            p.add_argument(
                "rules",
                nargs="?",
                default=DEFAULT_RULES,
                metavar="RULES",
                help=f"the rules file (default: ./{DEFAULT_RULES})",
            )
        p.add_argument("--format", choices=("text", "json"), default="text", help="output format")

    p = sub.add_parser("check", help="validate the rules file and report every problem")
    common(p)
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument(
        "--tools",
        metavar="MODULE",
        help="a Python module that registers the agent's tools; every tool the rules name must be there",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("test", help="run test cases against the rules")
    common(p)
    p.add_argument(
        "cases",
        nargs="*",
        metavar="CASES",
        help="test case files (default: RULES with .tests.yaml beside it)",
    )
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("explain", help="show what a caller would get, and why")
    common(p)
    p.add_argument(
        "--attr", action="append", metavar="KEY=VALUE", help="an attribute of the caller (repeat)"
    )
    p.add_argument("--attrs", metavar="FILE.json", help="attributes from a JSON file")
    p.add_argument("--kind", help="participant kind: sip (default), standard, connector...")
    p.add_argument(
        "--at",
        metavar="TIME",
        help="decide as if at this time, e.g. 2026-12-24T18:30 (each schedule's local time; "
        "add an offset such as -08:00 for an exact instant)",
    )
    p.add_argument(
        "--show-sensitive",
        action="store_true",
        help="show the values of attributes the rules declare `sensitive: true`",
    )
    p.add_argument("--variant", metavar="PROFILE", help="pin the variant of a `split:` rule")
    p.set_defaults(func=cmd_explain)

    add_diff_parser(sub)
    p = sub.add_parser(
        "playground", help="edit, check, explain and test the rules on a local web page"
    )
    playground_arguments(p)
    p.set_defaults(func=cmd_playground)

    p = sub.add_parser("schema", help="print the JSON Schema of the rules file")
    p.set_defaults(func=cmd_schema, format="json")

    p = sub.add_parser(
        "watch", help="re-check the rules on every save, as the worker would take them"
    )
    common(p)
    watch_arguments(p)
    p.set_defaults(func=cmd_watch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "explain" and not (args.attr or args.attrs or args.kind):
        print(
            "error: give the caller's attributes with --attr KEY=VALUE or --attrs FILE.json",
            file=sys.stderr,
        )
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0
    except KeyboardInterrupt:  # pragma: no cover
        return 130
