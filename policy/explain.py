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
) -> str:
    s = s or Palette()
    shown = shown_attributes(policy, attrs, show_sensitive=show_sensitive)
    lines = [
        f"caller: {kind} participant with {len(attrs)} attribute{'s' if len(attrs) != 1 else ''}"
    ]
    lines += [f"  {k} = {shown[k]}" for k in sorted(shown)]
    if d.rule is not None:
        rule = next(r for r in policy.rules if r.name == d.rule)
        file = str(policy.path or "rules.yaml")
        variant = f", variant `{d.variant}`" if d.variant is not None else ""
        lines.append(
            s.bold(f"decision: rule `{d.rule}` ({rule.file or file}:{rule.line}){variant}")
        )
    else:
        lines.append(s.bold("decision: no rule matched; the defaults apply"))
    lines += ["", "outcome:", *_outcome(d, s), "", "rules, in order:", *_trace(d.trace, s)]
    lines += _would_match(d)
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


def _would_match(d: Decision) -> list[str]:
    """The shadow rules that would have decided if switched on, and what they would set."""
    lines: list[str] = []
    for m in d.would_match:
        variant = f", variant `{m.variant}`" if m.variant is not None else ""
        lines += ["", f"would match (shadow): rule `{m.rule}`{variant}, if switched on:"]
        a, b = d.outcome.to_dict(), m.outcome.to_dict()
        changed = [k for k in a if k != "sources" and a[k] != b[k]]
        for k in changed:
            lines.append(f"  {k:<13} {_brief(b[k])}  (now {_brief(a[k])})")
        if not changed:
            lines.append("  the same outcome as now")
    return lines


def _brief(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) if value else "(none)"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else "(none)"
    if value is None or value == "":
        return "(not set)"
    text = " ".join(str(value).split())
    return text if len(text) <= 70 else text[:69] + "…"


def _trace(trace: tuple[TraceStep, ...], s: Palette) -> list[str]:
    lines: list[str] = []
    decided = False
    for step in trace:
        where = f"{step.file}:{step.line}" if step.file else f"line {step.line}"
        if step.error is not None and step.error.startswith("shadow"):
            state = "holds; shadow, never decides" if step.matched else str(step.failed)
            lines.append(f"  {s.dim('shadow')} {step.rule} ({where}): {state}")
        elif step.error == "disabled":
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
