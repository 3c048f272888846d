"""`sip-policy check | test | explain | schema`: the rules, offline, in CI and on a laptop.

Results go to stdout, problems to stderr; colour only on a terminal; `--format json`
wherever results are printed. Exit 0 when all is well, 1 on errors or failed cases, 2 on a
wrong command line. Never imports livekit (except `check --tools`, which imports your module).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .decision import Decision
from .engine import Policy
from .errors import Diagnostic, Location, PolicyError
from .loader import load

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


def _print_diagnostics(diags: Sequence[Diagnostic], stream: TextIO) -> None:
    style = Style(stream)
    for d in diags:
        text = d.render()
        head, _, rest = text.partition("\n")
        color = style.red if d.is_error else style.yellow
        print(color(head) + ("\n" + rest if rest else ""), file=stream)


def _load(rules: str, fmt: str) -> Policy | None:
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
        _print_diagnostics(exc.diagnostics, sys.stderr)
        errors = len(exc.errors)
        print(
            f"{rules}: {plural(errors, 'error')}, {plural(len(exc.warnings), 'warning')}",
            file=sys.stderr,
        )
        return None


# -- check ------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    policy = _load(args.rules, args.format)
    if policy is None:
        return 1
    diagnostics = list(policy.warnings)
    if args.tools:
        from .tools import load_registry

        try:
            if os.getcwd() not in sys.path:  # `--tools my_tools` finds ./my_tools.py
                sys.path.insert(0, os.getcwd())
            registry = load_registry(args.tools)
        except Exception as exc:
            print(f"error: cannot import the tools module `{args.tools}`: {exc}", file=sys.stderr)
            return 1
        for name in sorted(registry.missing(policy.tool_names())):
            diagnostics.append(
                Diagnostic(
                    "unknown-tool",
                    f"the rules name the tool `{name}`, which `{args.tools}` does not register",
                    Location(str(policy.path or args.rules)),
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
    _print_diagnostics(diagnostics, sys.stderr)
    if args.format != "json":
        style = Style(sys.stdout)
        verdict = style.red("failed") if failed else style.green("ok")
        print(
            f"{args.rules}: {verdict}: {plural(len(policy.rules), 'rule')}, "
            f"{plural(len(errors), 'error')}, {plural(len(warnings), 'warning')} "
            f"(revision {policy.revision})"
        )
    return 1 if failed else 0


# -- explain ----------------------------------------------------------------------------


def _read_attrs_file(path: str) -> tuple[dict[str, str], str | None]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("attributes"), dict):
        return {str(k): str(v) for k, v in data["attributes"].items()}, data.get("kind")
    if isinstance(data, dict):
        return {str(k): str(v) for k, v in data.items()}, None
    raise ValueError("the file must hold a JSON object of attributes")


def parse_time(text: str) -> dt.datetime:
    """`--at` values: ISO 8601. Without an offset the time is local to each schedule
    (18:30 means 18:30 where the office is); with one (`-08:00`, `Z`) it is that instant."""
    return dt.datetime.fromisoformat(text)


def cmd_explain(args: argparse.Namespace) -> int:
    attrs: dict[str, str] = {}
    kind = None
    if args.attrs:
        try:
            attrs, kind = _read_attrs_file(args.attrs)
        except (OSError, ValueError) as exc:
            print(f"error: cannot read attributes from `{args.attrs}`: {exc}", file=sys.stderr)
            return 2
    for item in args.attr or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(
                f"error: `--attr {item}` must be KEY=VALUE, e.g. --attr sip.phoneNumber=+15105550100",
                file=sys.stderr,
            )
            return 2
        attrs[key] = value
    kind = args.kind or kind or "sip"
    now = None
    if args.at:
        try:
            now = parse_time(args.at)
        except ValueError:
            print(
                f"error: `--at {args.at}` is not a date and time like 2026-12-24T18:30",
                file=sys.stderr,
            )
            return 2
    policy = _load(args.rules, args.format)
    if policy is None:
        return 1
    decision = policy.explain(attrs, kind, now=now)
    if args.format == "json":
        out = decision.to_dict()
        out["kind"] = kind
        out["attributes"] = attrs
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(render_explanation(policy, decision, attrs, kind, Style(sys.stdout)))
    return 0


def render_explanation(
    policy: Policy, d: Decision, attrs: dict[str, str], kind: str, s: Style
) -> str:
    file = str(policy.path or DEFAULT_RULES)
    lines = [
        f"caller: {kind} participant with {len(attrs)} attribute{'s' if len(attrs) != 1 else ''}"
    ]
    for k in sorted(attrs):
        lines.append(f"  {k} = {attrs[k]}")
    if d.rule is not None:
        rule = next(r for r in policy.rules if r.name == d.rule)
        lines.append(s.bold(f"decision: rule `{d.rule}` ({rule.file or file}:{rule.line})"))
    else:
        lines.append(s.bold("decision: no rule matched; the defaults apply"))
    lines.append("")
    lines.append("outcome:")
    o = d.outcome
    for name in ("stt", "llm", "tts", "tools", "greeting", "metadata", "instructions"):
        value: Any = getattr(o, name)
        if name == "tools":
            value = ", ".join(value) if value else "(none)"
        elif name == "metadata":
            value = json.dumps(dict(value), ensure_ascii=False) if value else "(none)"
        elif value is None or value == "":
            value = "(not set)"
        origin = o.sources.get(name)
        note = s.dim("from " + origin) if origin else ""
        text = str(value)
        if name == "instructions":
            first, *rest = text.splitlines() or [""]
            lines.append(f"  {name:<13} {note}".rstrip())
            for line in [first, *rest]:
                lines.append(f"    | {line}")
        else:
            lines.append(f"  {name:<13} {text}  {note}".rstrip())
    lines.append("")
    lines.append("rules, in order:")
    decided = False
    for step in d.trace:
        where = f"{step.file}:{step.line}" if step.file else f"line {step.line}"
        if step.error == "disabled":
            lines.append(f"  {s.dim('off  ')} {step.rule} ({where}): disabled (`enabled: false`)")
        elif step.matched and not decided:
            decided = True
            lines.append(
                f"  {s.green('MATCH')} {step.rule} ({where}): all conditions hold; this rule decides"
            )
        elif step.matched:
            lines.append(
                f"  {s.dim('also ')} {step.rule} ({where}): would match too, but an earlier rule decided"
            )
        else:
            why = str(step.failed) if step.failed else "did not match"
            if step.error:
                why += f" ({step.error})"
            lines.append(f"  {s.red('no   ')} {step.rule} ({where}): {why}")
    if not d.trace:
        lines.append("  (the file has no rules)")
    if d.facts:
        lines.append("")
        lines.append("derived facts:")
        from .sources import FACTS

        for name in sorted(d.facts):
            value = d.facts[name]
            desc = FACTS[name].description if name in FACTS else ""
            if not desc and name.startswith("schedule."):
                desc = "the schedule at the decision time (`during:` / `outside:`)"
            lines.append(f"  {name} = {value if value is not None else '(unknown)'}  {s.dim(desc)}")
    if d.errors:
        lines.append("")
        lines.append("errors met (each made its condition false):")
        lines.extend(f"  {e}" for e in d.errors)
    lines.append("")
    lines.append(s.dim(f"revision {d.revision}"))
    return "\n".join(lines)


# -- test -------------------------------------------------------------------------------


def cmd_test(args: argparse.Namespace) -> int:
    from .testing import discover_cases, run_cases

    policy = _load(args.rules, args.format)
    if policy is None:
        return 1
    files = [Path(p) for p in args.cases] if args.cases else discover_cases(Path(args.rules))
    if not files:
        print(
            f"error: no test cases found; write them in {Path(args.rules).with_suffix('.tests.yaml')} "
            "or pass case files",
            file=sys.stderr,
        )
        return 1
    report = run_cases(policy, files)
    if report.diagnostics:
        _print_diagnostics(report.diagnostics, sys.stderr)
        if any(d.is_error for d in report.diagnostics):
            print(
                f"{plural(len([d for d in report.diagnostics if d.is_error]), 'error')} "
                "in the test cases",
                file=sys.stderr,
            )
            return 1
    if args.format == "json":
        json.dump(report.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        s = Style(sys.stdout)
        for r in report.results:
            mark = s.green("PASS") if r.passed else s.red("FAIL")
            got = f"rule `{r.rule}`" if r.rule else "no rule (defaults)"
            print(f"{mark}  {r.name}  ({r.location}) → {got}")
            for f in r.failures:
                print(f"        {f}")
        total = len(policy.rules)
        reached = total - len(report.unreached)
        print()
        print(
            f"coverage: {reached} of {total} rules reached by a case"
            + (f"; never reached: {', '.join(report.unreached)}" if report.unreached else "")
        )
        print(f"{report.passed} passed, {report.failed} failed")
    return 0 if report.failed == 0 else 1


# -- schema -----------------------------------------------------------------------------


def cmd_schema(args: argparse.Namespace) -> int:
    from .model import json_schema

    json.dump(json_schema(), sys.stdout, indent=2)
    print()
    return 0


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
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("schema", help="print the JSON Schema of the rules file")
    p.set_defaults(func=cmd_schema, format="json")
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
