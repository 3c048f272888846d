"""Two policies, the same callers, every decision that differs: the engine of
`sip-policy diff`. Pure and deterministic: no git, no files, no clock (the caller passes
the time callers without one of their own are decided at)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runtime.conditions import All, AnyOf, Cond, Not
from ..runtime.decision import OUTCOME_FIELDS, Decision
from ..runtime.engine import Policy
from ..runtime.outcome import Plan, Template
from ..runtime.rule import CompiledRule, Split, moved_share
from ..runtime.schedule import ScheduleSource
from .callers import MAX_CALLERS, Caller, Generator, make_caller

#: Policies up to this many rules get callers for every rule; larger ones only for the
#: rules an edit touched (and their neighbours in a reordering), which is enough: a caller
#: moves only if it meets a changed rule's conditions, old or new.
FULL_LIMIT = 2_000
FIELDS = (*OUTCOME_FIELDS, "variant")


@dataclass(frozen=True)
class Recorded:
    """A call from a capture file: the caller, and the rule and revision that decided it."""

    caller: Caller
    rule: str | None
    revision: str | None


@dataclass
class Change:
    caller: Caller
    old_rule: str | None
    new_rule: str | None
    fields: dict[str, tuple[Any, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "caller": self.caller.to_dict(),
            "old_rule": self.old_rule,
            "new_rule": self.new_rule,
            "fields": {k: {"old": a, "new": b} for k, (a, b) in self.fields.items()},
        }


@dataclass
class Move:
    """Every change from one rule to another, with an example; or, when the rule stays
    (`old_rule == new_rule`), every change of the same fields from the same values to the
    same values, across rules (a profile edit is one move, however many rules use it)."""

    old_rule: str | None
    new_rule: str | None
    changes: list[Change]

    @property
    def stays(self) -> bool:
        return self.old_rule == self.new_rule

    @property
    def rules(self) -> list[str | None]:
        """The rules whose callers keep their rule (a staying move), in order met."""
        return list(dict.fromkeys(c.old_rule for c in self.changes))

    @property
    def fields(self) -> list[str]:
        seen = {f for c in self.changes for f in c.fields}
        return [f for f in FIELDS if f in seen]

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_rule": self.old_rule,
            "new_rule": self.new_rule,
            "count": len(self.changes),
            "fields": self.fields,
            "rules": self.rules if self.stays else None,
            "example": self.changes[0].to_dict(),
        }


@dataclass
class SplitChange:
    rule: str
    old: dict[str, float]
    new: dict[str, float]
    moved: float

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "old": self.old, "new": self.new, "moved_share": self.moved}


@dataclass
class Flagged:
    """A recorded call whose replay under its own revision gives another rule."""

    caller: Caller
    recorded_rule: str | None
    replayed_rule: str | None
    revision: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "caller": self.caller.to_dict(),
            "recorded_rule": self.recorded_rule,
            "replayed_rule": self.replayed_rule,
            "revision": self.revision,
        }


@dataclass
class Diff:
    old_revision: str
    new_revision: str
    counts: dict[str, int] = field(default_factory=dict)
    capped: bool = False
    changes: list[Change] = field(default_factory=list)
    shadow: list[Change] = field(default_factory=list)
    splits: list[SplitChange] = field(default_factory=list)
    flagged: list[Flagged] = field(default_factory=list)
    replay_unknown: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.splits)

    def moves(self, changes: Sequence[Change] | None = None) -> list[Move]:
        """Changes grouped by (old rule, new rule), largest first, then by name."""
        groups: dict[tuple[Any, ...], list[Change]] = {}
        for c in self.changes if changes is None else changes:
            if c.old_rule == c.new_rule:
                key: tuple[Any, ...] = ("stays", json.dumps(c.fields, sort_keys=True, default=str))
            else:
                key = ("moves", c.old_rule or "", c.new_rule or "")
            groups.setdefault(key, []).append(c)
        moves = [Move(cs[0].old_rule, cs[0].new_rule, cs) for cs in groups.values()]
        return sorted(
            moves, key=lambda m: (-len(m.changes), m.stays, m.old_rule or "", m.new_rule or "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "old_revision": self.old_revision,
            "new_revision": self.new_revision,
            "callers": dict(self.counts),
            "generation_capped": self.capped,
            "moves": [m.to_dict() for m in self.moves()],
            "changes": [c.to_dict() for c in self.changes],
            "splits": [s.to_dict() for s in self.splits],
            "shadow": {
                "moves": [m.to_dict() for m in self.moves(self.shadow)],
                "changes": [c.to_dict() for c in self.shadow],
            },
            "replay": {
                "flagged": [f.to_dict() for f in self.flagged],
                "unknown_revision": self.replay_unknown,
            },
        }


def compare(
    old: Policy,
    new: Policy,
    *,
    base: dt.datetime,
    cases: Iterable[Caller] = (),
    recorded: Iterable[Recorded] = (),
) -> Diff:
    """Decide every caller under both policies: the test cases, callers generated from both
    policies' conditions, and the recorded calls. Callers without a time are decided at
    `base`."""
    diff = Diff(old.revision, new.revision)
    case_list = list(cases)
    generated, diff.capped = generate(old, new, base)
    known = {c.key for c in case_list}
    generated = [c for c in generated if c.key not in known]
    recorded = list(recorded)
    diff.counts = {
        "cases": len(case_list),
        "generated": len(generated),
        "recorded": len(recorded),
    }
    live = _shadows_live(new) if any(r.shadow for r in new.rules) else None
    for caller in [*case_list, *generated]:
        _decide(diff, old, new, live, caller, base)
    for r in recorded:
        a, b = _decide(diff, old, new, live, r.caller, base)
        own = a if r.revision == old.revision else b if r.revision == new.revision else None
        _replay(diff, r, own)
    diff.splits = split_changes(old, new)
    return diff


def _decide(
    diff: Diff, old: Policy, new: Policy, live: Policy | None, caller: Caller, base: dt.datetime
) -> tuple[Decision, Decision]:
    """Decide `caller` under both policies (and with the shadows on); record what differs."""
    when = caller.at or base
    attrs = dict(caller.attributes)
    a = old.decide(attrs, caller.kind, now=when, variant=caller.variant)
    b = new.decide(attrs, caller.kind, now=when, variant=caller.variant)
    change = _change(caller, a, b)
    if change is not None:
        diff.changes.append(change)
    if live is not None:
        on = live.decide(attrs, caller.kind, now=when, variant=caller.variant)
        change = _change(caller, b, on)
        if change is not None:
            diff.shadow.append(change)
    return a, b


def _replay(diff: Diff, r: Recorded, own: Decision | None) -> None:
    """Flag a recorded call that the revision that recorded it now decides otherwise."""
    if own is None:
        diff.replay_unknown += 1
    elif own.rule != r.rule:
        diff.flagged.append(Flagged(r.caller, r.rule, own.rule, r.revision))


def _value(decision: Decision, name: str) -> Any:
    if name == "variant":
        return decision.variant
    value = getattr(decision.outcome, name)
    if name == "tools":
        return list(value)
    if name == "metadata":
        return json.loads(json.dumps(dict(value), sort_keys=True, default=str))
    return value


def _change(caller: Caller, a: Decision, b: Decision) -> Change | None:
    if a.rule == b.rule and a.variant == b.variant and a.outcome == b.outcome:
        return None
    fields = {}
    for name in FIELDS:
        x, y = _value(a, name), _value(b, name)
        if x != y:
            fields[name] = (x, y)
    if a.rule == b.rule and not fields:
        return None
    return Change(caller, a.rule, b.rule, fields)


def _shadows_live(policy: Policy) -> Policy:
    """The same policy with its shadow rules switched on."""
    rules = [dataclasses.replace(r, shadow=False) for r in policy.rules]
    return Policy(
        rules=rules,
        default=policy.default,
        revision=policy.revision + "+shadow",
        path=policy.path,
        files=policy.files,
        warnings=policy.warnings,
        settings=policy.settings,
        declared=policy.declared,
        kinds=policy.kinds(),
    )


def split_changes(old: Policy, new: Policy) -> list[SplitChange]:
    """Split rules in both policies whose weights (or variants, or `split_by`) changed, with
    the expected share of their callers that change variant."""
    before = {r.name: r.split for r in old.rules if r.split is not None}
    out = []
    for r in new.rules:
        was = before.get(r.name)
        if r.split is None or was is None:
            continue
        share = moved_share(was, r.split) if was.by == r.split.by else 1.0
        if share > 1e-9:
            out.append(SplitChange(r.name, _weights(was), _weights(r.split), round(share, 6)))
    return out


def _weights(split: Split) -> dict[str, float]:
    return {v.name: v.weight for v in split.variants}


# -- which rules get callers -------------------------------------------------------------


def generate(old: Policy, new: Policy, base: dt.datetime) -> tuple[list[Caller], bool]:
    """Callers from both policies' rules (only the changed ones for large policies)."""
    rules: list[tuple[Policy, CompiledRule]] = []
    if max(len(old.rules), len(new.rules)) <= FULL_LIMIT or old.settings != new.settings:
        rules = [(p, r) for p in (old, new) for r in p.rules]
    else:
        names = changed_rules(old, new)
        rules = [(p, r) for p in (old, new) for r in p.rules if r.name in names]
    seen: dict[tuple[Any, ...], Caller] = {}
    capped = False
    generators = {id(p): Generator(p.settings, base) for p in (old, new)}
    for policy, rule in rules:
        for attrs, kind, at in generators[id(policy)].for_rule(rule):
            caller = make_caller(attrs, kind, at, origin=f"generated from rule `{rule.name}`")
            seen.setdefault(caller.key, caller)
        if len(seen) >= MAX_CALLERS:
            capped = True
            break
    callers = [make_caller({}, "sip", origin="generated: a caller with no attributes")]
    callers += [c for c in seen.values() if c.key != callers[0].key]
    return callers, capped


def changed_rules(old: Policy, new: Policy) -> set[str]:
    """Names of rules added, removed, moved, or whose condition, outcome, mode or split
    differ."""
    a, b = [r.name for r in old.rules], [r.name for r in new.rules]
    changed = set(a) ^ set(b)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    kept = {a[blk.a + k] for blk in matcher.get_matching_blocks() for k in range(blk.size)}
    changed |= (set(a) | set(b)) - kept
    ours = {r.name: r for r in old.rules}
    for r in new.rules:
        was = ours.get(r.name)
        if was is not None and rule_signature(was) != rule_signature(r):
            changed.add(r.name)
    return changed


def rule_signature(rule: CompiledRule) -> tuple[Any, ...]:
    split = None
    if rule.split is not None:
        split = (
            rule.split.by,
            tuple((v.name, v.weight, plan_signature(v.plan)) for v in rule.split.variants),
        )
    return (
        rule.cond.key,
        tuple(_schedules(rule.cond)),
        plan_signature(rule.plan),
        rule.enabled,
        rule.shadow,
        split,
    )


def _schedules(cond: Cond) -> Iterable[Any]:
    if isinstance(cond, (All, AnyOf)):
        for c in cond.conds:
            yield from _schedules(c)
    elif isinstance(cond, Not):
        yield from _schedules(cond.inner)
    elif isinstance(cond.source, ScheduleSource):
        yield cond.source.schedule


def plan_signature(plan: Plan) -> tuple[Any, ...]:
    """What a plan gives callers, every field but where each came from."""
    fields = {k: v for k, v in plan.base.to_dict().items() if k != "sources"}
    return (
        json.dumps(fields, sort_keys=True, default=str),
        _template(plan.instructions),
        _template(plan.greeting) if plan.greeting is not None else None,
    )


def _template(t: Template) -> tuple[Any, ...]:
    return tuple(p if isinstance(p, str) else (p[0].name, p[1]) for p in t.parts)


__all__ = ["Change", "Diff", "Move", "Recorded", "compare", "make_caller"]
