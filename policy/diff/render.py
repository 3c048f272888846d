"""`sip-policy diff` output: text for people, JSON for programs, markdown for a pull-request
comment. The same `Diff` gives the same bytes."""

from __future__ import annotations

import json
from typing import Any

from .compare import Change, Diff, Move

#: Moves shown in text and markdown (a pull-request comment has a size limit); JSON has all.
MAX_MOVES = 30


def rule_name(name: str | None) -> str:
    return f"`{name}`" if name is not None else "no rule (defaults)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def value(v: Any, limit: int = 70) -> str:
    if v is None or v == "":
        return "(not set)"
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return json.dumps(text, ensure_ascii=False) if isinstance(v, str) else text


def headline(m: Move) -> str:
    n = _plural(len(m.changes), "caller")
    if m.stays:
        rules = m.rules
        if len(rules) == 1:
            return f"{n} keep rule {rule_name(rules[0])}, with another outcome"
        shown = ", ".join(rule_name(r) for r in rules[:3])
        more = f" and {len(rules) - 3} more" if len(rules) > 3 else ""
        return f"{n} keep their rule ({shown}{more}), with another outcome"
    return f"{n}: {rule_name(m.old_rule)} → {rule_name(m.new_rule)}"


def _example(c: Change, indent: str) -> list[str]:
    lines = [f"{indent}e.g. {c.caller.describe()}  ({c.caller.origin})"]
    for name, (a, b) in c.fields.items():
        lines.append(f"{indent}  {name}: {value(a)} → {value(b)}")
    return lines


def _counts(diff: Diff) -> str:
    c = diff.counts
    text = (
        f"{_plural(c.get('cases', 0), 'test case')}, {c.get('generated', 0)} generated, "
        f"{c.get('recorded', 0)} recorded"
    )
    return text + (" (generation capped)" if diff.capped else "")


def to_text(diff: Diff, old_label: str, new_label: str) -> str:
    lines = [
        f"old: {old_label}, revision {diff.old_revision}",
        f"new: {new_label}, revision {diff.new_revision}",
        f"callers: {_counts(diff)}",
        "",
    ]
    moves = diff.moves()
    if not diff.changed:
        lines.append("no decision changes")
    for m in moves[:MAX_MOVES]:
        lines += [headline(m), *_example(m.changes[0], "  "), ""]
    if len(moves) > MAX_MOVES:
        rest = moves[MAX_MOVES:]
        n = sum(len(m.changes) for m in rest)
        lines += [
            f"… and {_plural(len(rest), 'smaller move')} ({_plural(n, 'caller')}): --format json lists them all",
            "",
        ]
    if moves:
        total = sum(len(m.changes) for m in moves)
        lines += [
            f"{_plural(total, 'caller')} decided differently, in {_plural(len(moves), 'move')}",
            "",
        ]
    for s in diff.splits:
        lines.append(
            f"split of rule `{s.rule}`: {_weights(s.old)} → {_weights(s.new)}: an expected "
            f"{s.moved:.1%} of its callers change variant"
        )
    if diff.splits:
        lines.append("")
    shadow = diff.moves(diff.shadow)
    if shadow:
        lines.append("if the shadow rules were switched on:")
        for m in shadow:
            lines += ["  " + headline(m), *_example(m.changes[0], "    ")]
        lines.append("")
    lines += _replay_lines(diff)
    return "\n".join(lines).rstrip() + "\n"


def _replay_lines(diff: Diff) -> list[str]:
    lines: list[str] = []
    if diff.flagged:
        lines.append(
            f"{_plural(len(diff.flagged), 'recorded call')} flagged: replayed under the "
            "revision that decided it, another rule decides now (a time-dependent rule, or a "
            "pseudonymised value):"
        )
        for f in diff.flagged[:20]:
            lines.append(
                f"  {f.caller.origin}: recorded {rule_name(f.recorded_rule)}, "
                f"replays as {rule_name(f.replayed_rule)}"
            )
        if len(diff.flagged) > 20:
            lines.append(f"  … and {len(diff.flagged) - 20} more (--format json lists them all)")
    if diff.replay_unknown:
        lines.append(
            f"{_plural(diff.replay_unknown, 'recorded call')} from other revisions: re-decided, "
            "not checked against the recorded rule"
        )
    return lines


def _weights(w: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in w.items())


def to_json(diff: Diff, old_label: str, new_label: str) -> str:
    out = {"old": old_label, "new": new_label, **diff.to_dict()}
    return json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(diff: Diff, old_label: str, new_label: str) -> str:
    moves = diff.moves()
    total = sum(len(m.changes) for m in moves)
    title = (
        f"{_plural(len(moves), 'move')}, {_plural(total, 'caller')} decided differently"
        if diff.changed
        else "no decision changes"
    )
    lines = [
        f"### sip-policy diff: {title}",
        "",
        f"{_cell(old_label)} → {_cell(new_label)} · callers: {_counts(diff)}",
        "",
    ]
    if moves:
        lines += [
            "| callers | from | to | what changes | example caller |",
            "| ---: | --- | --- | --- | --- |",
        ]
        for m in moves[:MAX_MOVES]:
            example = m.changes[0].caller.describe()
            old = rule_name(m.old_rule) if len(m.rules) == 1 or not m.stays else "(same rule)"
            new = rule_name(m.new_rule) if len(m.rules) == 1 or not m.stays else "(same rule)"
            lines.append(
                f"| {len(m.changes)} | {_cell(old)} | {_cell(new)} | "
                f"{', '.join(m.fields) or 'rule only'} | `{_cell(example)}` |"
            )
        if len(moves) > MAX_MOVES:
            lines.append(f"| … | {len(moves) - MAX_MOVES} more moves | | | `--format json` |")
        lines += ["", "<details><summary>outcome fields, one example per move</summary>", ""]
        for m in moves[:MAX_MOVES]:
            lines.append(f"- **{_cell(headline(m))}**")
            for name, (a, b) in m.changes[0].fields.items():
                lines.append(f"  - {name}: {_cell(value(a))} → {_cell(value(b))}")
        lines += ["", "</details>", ""]
    for s in diff.splits:
        lines.append(
            f"- split of rule `{s.rule}`: {_weights(s.old)} → {_weights(s.new)}: an expected "
            f"**{s.moved:.1%}** of its callers change variant"
        )
    shadow = diff.moves(diff.shadow)
    if shadow:
        lines += ["", "**If the shadow rules were switched on:**", ""]
        lines += [f"- {_cell(headline(m))}" for m in shadow]
    replay = _replay_lines(diff)
    if replay:
        lines += ["", "```", *replay, "```"]
    return "\n".join(lines).rstrip() + "\n"
