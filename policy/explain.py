"""What `sip-policy explain` prints: a decision made by `Policy.explain`, rendered as text
for people or as JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
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


def hide_sensitive(policy: Policy, d: Decision) -> Decision:
    """`d` with the values of `sensitive: true` attributes hidden where the trace quotes them
    (the first failed check of each rule)."""
    hidden = {name for name, info in policy.declared.items() if info.sensitive}
    if not hidden:
        return d
    trace = tuple(
        step._replace(failed=replace(step.failed, actual=HIDDEN))
        if step.failed is not None
        and step.failed.actual is not None
        and step.failed.attribute in hidden
        else step
        for step in d.trace
    )
    return d._replace(trace=trace)


def to_json(
    decision: Decision,
    attrs: Mapping[str, str],
    kind: str,
    policy: Policy,
    *,
    show_sensitive: bool = False,
) -> dict[str, Any]:
    if not show_sensitive:
        decision = hide_sensitive(policy, decision)
    out = decision.to_dict()
    out["action"] = action_of(decision)
    out["kind"] = kind
    out["attributes"] = shown_attributes(policy, attrs, show_sensitive=show_sensitive)
    return out


def action_of(decision: Decision) -> dict[str, Any] | None:
    """What the worker does instead of starting the agent: `reject` or `transfer`, with its
    details; None when the agent answers."""
    o = decision.outcome
    if o.reject is not None:
        return {"type": "reject", "say": o.reject.say, "hang_up": True}
    if o.transfer is not None:
        return {"type": "transfer", "to": o.transfer.to, "say": o.transfer.say}
    return None


def _action_line(decision: Decision) -> str:
    o = decision.outcome
    if o.reject is not None:
        said = f'say "{o.reject.say}", then ' if o.reject.say else ""
        return f"action: reject: {said}hang up; no agent starts"
    if o.transfer is not None:
        said = f'say "{o.transfer.say}", then ' if o.transfer.say else ""
        return f"action: transfer: {said}transfer the call to {o.transfer.to} (cold SIP transfer)"
    return "action: the agent answers"


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
    if not show_sensitive:
        d = hide_sensitive(policy, d)
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
        variant = f", variant `{d.variant}`" if d.variant is not None else ""
        if rule.table_rule is not None:
            decided = f"decision: rule `{rule.table_rule}`, row `{d.rule}` {where}{variant}"
        else:
            decided = f"decision: rule `{d.rule}` {where}{variant}"
        lines.append(s.bold(decided))
    else:
        lines.append(s.bold("decision: no rule matched; the defaults apply"))
    lines.append(s.bold(_action_line(d)))
    trace = _trace(d.trace, s) if rows else _folded(policy, d.trace, s)
    lines += ["", "outcome:", *_outcome(d, s), *_call_fields(d, s)]
    lines += ["", "rules, in order:", *trace]
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


def _call_fields(d: Decision, s: Palette) -> list[str]:
    """`session` options one per line, `transfer_to`, `max_duration`, and the split of the
    instructions for prompt caching."""
    o = d.outcome

    def note(key: str) -> str:
        origin = o.sources.get(key)
        return "  " + s.dim("from " + origin) if origin else ""

    lines: list[str] = []
    if o.session:
        lines.append("  session")
        for key in sorted(o.session):
            value = json.dumps(o.session[key], ensure_ascii=False)
            lines.append(f"    {key:<28} {value}{note('session.' + key)}")
    else:
        lines.append("  session       (none: livekit-agents defaults)")
    lines.append(f"  transfer_to   {o.transfer_to or '(not set)'}{note('transfer_to')}".rstrip())
    limit = o.max_duration
    if limit is None:
        lines.append("  max_duration  (none)")
    else:
        bye = f', then say "{limit.say}"' if limit.say else ", then the LLM says goodbye"
        lines.append(f"  max_duration  {limit.seconds:g} s{bye}{note('max_duration')}")
    if o.instructions_call:
        lines.append("  per-call part of the instructions (sent after the cacheable part)")
        lines += [f"    | {line}" for line in o.instructions_call.splitlines()]
    return lines


def _trace(trace: tuple[TraceStep, ...], s: Palette, *, decided: bool = False) -> list[str]:
    lines: list[str] = []
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
