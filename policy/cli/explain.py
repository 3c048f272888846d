"""`sip-policy explain`: what a caller would get, and why."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from ..explain import Palette, to_json, to_text
from .common import Style, load_or_report


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
    policy = load_or_report(args.rules, args.format)
    if policy is None:
        return 1
    variants = sorted({v.name for r in policy.rules if r.split for v in r.split.variants})
    if args.variant is not None and args.variant not in variants:
        listed = ", ".join(variants) if variants else "none: the rules have no `split:`"
        print(
            f"error: `--variant {args.variant}` is not a variant (variants: {listed})",
            file=sys.stderr,
        )
        return 2
    if now is None:  # the clock, read once, so the time printed is the time decided at
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        at = f"{now.isoformat()} (now, by this machine's clock; choose one with --at)"
    else:
        at = f"{now.isoformat()} (--at)"
    decision = policy.explain(attrs, kind, now=now, variant=args.variant)
    show = bool(args.show_sensitive)
    if args.format == "json":
        out = to_json(decision, attrs, kind, policy, show_sensitive=show)
        out["at"] = now.isoformat()
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        s = Style(sys.stdout)
        palette = Palette(bold=s.bold, dim=s.dim, green=s.green, red=s.red)
        print(
            to_text(
                policy, decision, attrs, kind, palette, show_sensitive=show, at=at, rows=args.rows
            )
        )
    return 0
