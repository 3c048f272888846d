"""`sip-policy check | test | explain | diff | init | fmt | playground | schema | watch`: the
rules, offline, in CI and on a laptop.

Results go to stdout, problems to stderr; colour only on a terminal; `--format json`
wherever results are printed. Exit 0 when all is well, 1 on errors or failed cases, 2 on a
wrong command line. Never imports livekit (except `check --tools`, which imports your module).
One module per sub-command; to add one, write `cmd_NAME` in its module and add its parser here.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence
from typing import Any

from .check import cmd_check
from .common import DEFAULT_RULES
from .diff import add_parser as add_diff_parser
from .explain import cmd_explain
from .fmt import cmd_fmt
from .init import cmd_init
from .playground import cmd_playground, playground_arguments
from .schema import cmd_schema
from .test import cmd_test
from .watch import cmd_watch, watch_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sip-policy",
        description="Check, test and explain the rules that set up your LiveKit voice agent per call.",
        epilog="start with `sip-policy init`; the guide: docs/guide.md",
    )
    parser.add_argument("--version", action="version", version=f"sip-policy {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _check_parser(sub)
    _test_parser(sub)
    _explain_parser(sub)
    _tool_parsers(sub)
    p = _command(
        sub,
        "init",
        "write a commented starter policy, its tests and a prompt",
        "sip-policy init my-lines",
        "docs/guide.md",
        rules=False,
        fmt=False,
    )
    p.add_argument("folder", nargs="?", default=".", help="where to write (default: here)")
    p.set_defaults(func=cmd_init)
    p = _command(
        sub,
        "fmt",
        "rewrite the rules file in canonical form, keeping comments",
        "sip-policy fmt --check rules.yaml",
        REFERENCE_CLI,
        fmt=False,
    )
    p.add_argument("--check", action="store_true", help="change nothing; fail when not formatted")
    p.set_defaults(func=cmd_fmt)
    p = _command(
        sub,
        "schema",
        "print the JSON Schema of the rules file",
        "sip-policy schema > rules.schema.json",
        "docs/guide.md#completion-in-your-editor",
        rules=False,
        fmt=False,
    )
    p.set_defaults(func=cmd_schema, format="json")
    return parser


REFERENCE_CLI = "docs/reference.md#command-line"


def _command(
    sub: Any, name: str, help: str, example: str, doc: str, *, rules: bool = True, fmt: bool = True
) -> argparse.ArgumentParser:
    """A sub-command whose --help ends with an example and the doc to read."""
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=f"example:\n  {example}\n\nmore: {doc}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if rules:
        p.add_argument(
            "rules",
            nargs="?",
            default=DEFAULT_RULES,
            metavar="RULES",
            help=f"the rules file (default: ./{DEFAULT_RULES})",
        )
    if fmt:
        p.add_argument(
            "--format",
            choices=("text", "json", "github"),
            default="text",
            help="output format (github: annotations on the lines of a pull request)",
        )
    return p


def _check_parser(sub: Any) -> None:
    p = _command(
        sub,
        "check",
        "validate the rules file and report every problem",
        "sip-policy check rules.yaml --strict",
        "docs/guide.md#checking-the-file-sip-policy-check",
    )
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument(
        "--tools",
        metavar="MODULE",
        help="a Python module that registers the agent's tools; every tool the rules name must be there",
    )
    p.set_defaults(func=cmd_check)


def _test_parser(sub: Any) -> None:
    p = _command(
        sub,
        "test",
        "run test cases against the rules",
        "sip-policy test rules.yaml --min-coverage 80 --junit report.xml",
        "docs/guide.md#testing-your-rules-sip-policy-test",
    )
    p.add_argument(
        "cases",
        nargs="*",
        metavar="CASES",
        help="test case files (default: RULES with .tests.yaml beside it)",
    )
    p.add_argument(
        "--min-coverage",
        type=int,
        metavar="N",
        help="fail when the cases reach fewer than N%% of the rules (rounded down)",
    )
    p.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    p.set_defaults(func=cmd_test)


def _explain_parser(sub: Any) -> None:
    p = _command(
        sub,
        "explain",
        "show what a caller would get, and why",
        "sip-policy explain --attr sip.trunkPhoneNumber=+15105550123 --at 2026-12-22T10:00",
        "docs/guide.md#asking-what-would-this-caller-get-sip-policy-explain",
    )
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
    p.add_argument(
        "--rows", action="store_true", help="list each row of a table rule (one line per table)"
    )
    p.add_argument("--variant", metavar="PROFILE", help="pin the variant of a `split:` rule")
    p.set_defaults(func=cmd_explain)


def _tool_parsers(sub: Any) -> None:
    """`diff`, `playground` and `watch`: each keeps its options beside its command."""
    add_diff_parser(sub)
    p = _command(
        sub,
        "playground",
        "edit, check, explain and test the rules on a local web page",
        "sip-policy playground rules.yaml",
        "docs/guide.md#playground-try-your-edit-in-a-browser",
        rules=False,
        fmt=False,
    )
    playground_arguments(p)
    p.set_defaults(func=cmd_playground)
    p = _command(
        sub,
        "watch",
        "re-check the rules on every save, as the worker would take them",
        "sip-policy watch rules.yaml --format json",
        REFERENCE_CLI,
        fmt=False,
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    watch_arguments(p)
    p.set_defaults(func=cmd_watch)


def _version() -> str:
    try:
        return importlib.metadata.version("sip-policy")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


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
