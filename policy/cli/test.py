"""`sip-policy test`: run the test cases against the rules."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..testing import discover_cases, run_cases
from .common import Style, load_or_report, plural, print_diagnostics, summary
from .junit import write_junit


def cmd_test(args: argparse.Namespace) -> int:
    policy = load_or_report(args.rules, args.format)
    files = [Path(p) for p in args.cases] if args.cases else discover_cases(Path(args.rules))
    if not files:
        print(
            f"error: no test cases found; write them in {Path(args.rules).with_suffix('.tests.yaml')} "
            "or pass case files",
            file=sys.stderr,
        )
        return 1
    # with rules that do not load, the cases are still read: every problem at once
    report = run_cases(policy, files)
    if report.diagnostics:
        print_diagnostics(report.diagnostics, sys.stderr, args.format)
    errors = [d for d in report.diagnostics if d.is_error]
    if errors or policy is None:
        warnings = len(report.diagnostics) - len(errors)
        where = str(files[0]) if len(files) == 1 else "the test cases"
        print(
            summary(where, not errors, plural(len(errors), "error"), plural(warnings, "warning")),
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
            if r.row:
                got += f", row `{r.row}`"
            print(f"{mark}  {r.name}  ({r.location}) → {got}")
            for f in r.failures:
                print(f"        {f}")
            if r.failures and args.format == "github":
                text = f"case `{r.name}` failed: " + "; ".join(r.failures)
                print(f"::error file={r.location.file},line={r.location.line}::{text}")
        total = report.total
        reached = total - len(report.unreached)
        print()
        print(
            f"coverage: {reached} of {total} rules reached by a case"
            + (f"; never reached: {', '.join(report.unreached)}" if report.unreached else "")
        )
        print(
            summary(
                args.rules, report.failed == 0, f"{report.passed} passed", f"{report.failed} failed"
            )
        )
    if args.junit:
        write_junit(report, Path(args.junit))
    if args.min_coverage is not None:
        total = report.total
        percent = (total - len(report.unreached)) * 100 // total if total else 100
        if percent < args.min_coverage:
            print(
                f"error: the cases reach {percent}% of the rules; --min-coverage asks for "
                f"{args.min_coverage}%: add cases for the rules never reached",
                file=sys.stderr,
            )
            return 1
    return 0 if report.failed == 0 else 1
