"""What `sip-policy explain` prints: a decision made by `Policy.explain`, rendered as text
for people or as JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .runtime.decision import Decision, TraceStep
from .runtime.engine import Policy
from .runtime.facts import FACTS

Paint = Callable[[str], str]
_PLAIN: Paint = str

#: What a caller's masked value looks like in `explain` (`--show-sensitive` shows it).
HIDDEN = "(sensitive, hidden)"


def shown_attributes(
    policy: Policy, attrs: Mapping[str, str], *, show_sensitive: bool = False
) -> dict[str, str]:
    """The caller's attributes as `explain` prints them: attributes the rules declare
    `sensitive: true` are hidden unless asked for."""
    if show_sensitive:
        return dict(attrs)
    hidden = {name for name, info in policy.declared.items() if info.sensitive}
    return {k: HIDDEN if k in hidden else v for k, v in attrs.items()}


def to_json(
    decision: Decision,
    attrs: Mapping[str, str],
    kind: str,
    policy: Policy,
    *,
    show_sensitive: bool = False,
) -> dict[str, Any]:
    out = decision.to_dict()
    out["kind"] = kind
    out["attributes"] = shown_attributes(policy, attrs, show_sensitive=show_sensitive)
    return out


class Palette:
    """How text is coloured (plain by default)."""

    def __init__(
        self,
        bold: Paint = _PLAIN,
        dim: Paint = _PLAIN,
        green: Paint = _PLAIN,
        red: Paint = _PLAIN,
    ) -> None:
        self.bold, self.dim, self.green, self.red = bold, dim, green, red


def to_text(
    policy: Policy,
    d: Decision,
    attrs: Mapping[str, str],
    kind: str,
    s: Palette | None = None,
    *,
    show_sensitive: bool = False,
    at: str | None = None,
    rows: bool = False,
) -> str:
    s = s or Palette()
    shown = shown_attributes(policy, attrs, show_sensitive=show_sensitive)
    lines = [
        f"caller: {kind} participant with {len(attrs)} attribute{'s' if len(attrs) != 1 else ''}"
    ]
    lines += [f"  {k} = {shown[k]}" for k in sorted(shown)]
    if at is not None:
        lines.append(f"time: {at}")
    if d.rule is not None:
        rule = next(r for r in policy.rules if r.name == d.rule)
        file = str(policy.path or "rules.yaml")
        where = f"({rule.file or file}:{rule.line})"
        if rule.table_rule is not None:
            decided = f"decision: rule `{rule.table_rule}`, row `{d.rule}` {where}"
        else:
            decided = f"decision: rule `{d.rule}` {where}"
        lines.append(s.bold(decided))
    else:
        lines.append(s.bold("decision: no rule matched; the defaults apply"))
    trace = _trace(d.trace, s) if rows else _folded(policy, d.trace, s)
    lines += ["", "outcome:", *_outcome(d, s), "", "rules, in order:", *trace]
    if d.facts:
        lines += ["", "derived facts:"]
        for name in sorted(d.facts):
            value = d.facts[name]
            desc = FACTS[name].description if name in FACTS else ""
            if not desc and name.startswith("schedule."):
                desc = "the schedule at the decision time (`during:` / `outside:`)"
            lines.append(f"  {name} = {value if value is not None else '(unknown)'}  {s.dim(desc)}")
    if d.errors:
        lines += ["", "errors met (each made its condition false):"]
        lines += [f"  {e}" for e in d.errors]
    lines += ["", s.dim(f"revision {d.revision}")]
    return "\n".join(lines)


def _outcome(d: Decision, s: Palette) -> list[str]:
    lines: list[str] = []
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
            lines.append(f"  {name:<13} {note}".rstrip())
            lines += [f"    | {line}" for line in text.splitlines() or [""]]
        else:
            lines.append(f"  {name:<13} {text}  {note}".rstrip())
    return lines


def _trace(trace: tuple[TraceStep, ...], s: Palette, *, decided: bool = False) -> list[str]:
    lines: list[str] = []
    for step in trace:
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
    if not trace:
        lines.append("  (the file has no rules)")
    return lines


def _folded(policy: Policy, trace: tuple[TraceStep, ...], s: Palette) -> list[str]:
    """The trace with each table as one line (the row that matched, if any); `--rows`
    lists the rows instead."""
    tables = {r.name: r.table_rule for r in policy.rules if r.table_rule is not None}
    lines: list[str] = []
    decided = False
    i = 0
    while i < len(trace):
        group = tables.get(trace[i].rule)
        if group is None:
            step_lines = _trace(trace[i : i + 1], s, decided=decided)
            decided = decided or (trace[i].matched and trace[i].error != "disabled")
            lines += step_lines
            i += 1
            continue
        j = i
        while j < len(trace) and tables.get(trace[j].rule) == group:
            j += 1
        steps = trace[i:j]
        first = steps[0]
        where = f"{first.file}, {len(steps)} row{'s' if len(steps) != 1 else ''}"
        hit = next((t for t in steps if t.matched and t.error != "disabled"), None)
        if all(t.error == "disabled" for t in steps):
            lines.append(f"  {s.dim('off  ')} {group} ({where}): disabled (`enabled: false`)")
        elif hit is not None and not decided:
            decided = True
            lines.append(
                f"  {s.green('MATCH')} {group} ({where}): row `{hit.rule}` ({hit.file}:"
                f"{hit.line}) matches; this rule decides"
            )
        elif hit is not None:
            lines.append(
                f"  {s.dim('also ')} {group} ({where}): row `{hit.rule}` would match too, but an "
                "earlier rule decided"
            )
        else:
            lines.append(
                f"  {s.red('no   ')} {group} ({where}): no row matches (--rows shows each)"
            )
        i = j
    if not trace:
        lines.append("  (the file has no rules)")
    return lines
