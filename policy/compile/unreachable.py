"""Rules that can never match because an earlier rule catches all their callers, reported
as warnings. Candidates come from shared exact values and prefixes, so this stays near
linear at 100,000 rules; a budget bounds the pairs compared on the rest."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Code
from ..runtime.conditions import All, Always, AnyOf, Cond, Equals, Prefix, Regex, top_conditions
from ..runtime.expr import Expr
from ..runtime.index import index_condition
from ..runtime.rule import CompiledRule
from ..runtime.sources import KindSource, Source
from .state import Compiler, Where

SHADOW_PAIR_BUDGET = 2_000_000
#: Conditions that only the very same condition implies (see `Cond.implies`).
_KEYED_ONLY = (Regex, Expr, AnyOf)


def _keyed_only(cond: Cond) -> tuple[Cond, ...]:
    """The top conditions of `cond` when every one of them is keyed-only, else ()."""
    tops = top_conditions(cond)
    return tops if tops and all(isinstance(t, _KEYED_ONLY) for t in tops) else ()


@dataclass
class _Candidates:
    """Where to look for later rules an earlier one may shadow."""

    rules: list[CompiledRule]
    by_value: dict[tuple[Source, str], list[int]] = field(default_factory=dict)
    #: per source, (literal, position) sorted, for prefixes and the values they cover
    prefixed: dict[Source, list[tuple[str, int]]] = field(default_factory=dict)
    by_key: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: list[CompiledRule]) -> _Candidates:
        out = cls(rules)
        with_prefixes: set[Source] = set()
        for pos, r in enumerate(rules):
            for cond in top_conditions(r.cond):
                if isinstance(cond, Equals) and cond.source is not None:
                    for v in cond.values:
                        out.by_value.setdefault((cond.source, v), []).append(pos)
                elif isinstance(cond, Prefix) and cond.source is not None:
                    with_prefixes.add(cond.source)
        for pos, r in enumerate(rules) if with_prefixes else ():
            for cond in top_conditions(r.cond):
                if isinstance(cond, Prefix | Equals) and cond.source in with_prefixes:
                    values = cond.prefixes if isinstance(cond, Prefix) else cond.values
                    out.prefixed.setdefault(cond.source, []).extend((v, pos) for v in values)
        for lst in out.prefixed.values():
            lst.sort()
        return out

    def later(self, pos: int, earlier: Cond, budget: int) -> Sequence[int] | None:
        """Positions after `pos` that `earlier` may shadow; None to skip it (no candidate
        can be found cheaply and the budget would not cover a scan)."""
        if earlier.__class__ is Equals and len(earlier.values) == 1:  # most rules at scale
            (value,) = earlier.values
            same = self.by_value.get((earlier.source, value), ())  # type: ignore[arg-type]
            return None if len(same) <= 1 else sorted({p for p in same if p > pos})
        key = index_condition(earlier)
        if isinstance(earlier, Always):
            return range(pos + 1, len(self.rules))
        if isinstance(key, Equals) and key.source is not None:
            hits = [self.by_value.get((key.source, v), ()) for v in key.values]
            if len(hits) == 1 and len(hits[0]) <= 1:
                return None  # the usual case at scale: no other rule has this value
            return sorted({p for ids in hits for p in ids if p > pos})
        if isinstance(key, Prefix) and key.source is not None:
            lst = self.prefixed.get(key.source, [])
            found: set[int] = set()
            for pre in key.prefixes:
                i = bisect.bisect_left(lst, (pre, -1))
                while i < len(lst) and lst[i][0].startswith(pre) and len(found) < 10_000:
                    if lst[i][1] > pos:
                        found.add(lst[i][1])
                    i += 1
            return sorted(found)
        tops = _keyed_only(earlier)
        if tops:  # only a rule with the very same regex/expression/any can imply these
            if not self.by_key:
                for q, r in enumerate(self.rules):
                    for cond in top_conditions(r.cond):
                        if isinstance(cond, _KEYED_ONLY):
                            self.by_key.setdefault(cond.key, []).append(q)
            return [p for p in self.by_key.get(tops[0].key, ()) if p > pos]
        if budget < len(self.rules) - pos:
            return None
        return range(pos + 1, len(self.rules))


def warn_unreachable(c: Compiler) -> None:
    """Warn about rules that can never match (only when the file has no errors)."""
    if c.reporter.has_errors():
        return
    enabled = [r for r in c.rules if r.live]
    candidates = _Candidates.of(enabled)
    budget = SHADOW_PAIR_BUDGET
    reported: set[int] = set()
    for pos, earlier in enumerate(enabled):
        later = candidates.later(pos, earlier.cond, budget)
        for p in later or ():
            budget -= 1
            rule = enabled[p]
            if p not in reported and (
                isinstance(earlier.cond, Always) or rule.cond.implies(_for(rule, earlier))
            ):
                reported.add(p)
                _report(c, earlier, rule)
            if budget <= 0:
                return
    _warn_covered(c, enabled, candidates, reported)


def _sip_only(cond: Cond) -> bool:
    """LiveKit sets `sip.*` attributes on SIP participants only: a rule that needs one
    meets SIP callers only."""
    return any(
        isinstance(t, Equals | Prefix)
        and t.source is not None
        and getattr(t.source, "name", "").startswith("sip.")
        for t in top_conditions(cond)
    )


def _for(rule: CompiledRule, earlier: CompiledRule) -> Cond:
    """`earlier`'s condition as `rule` meets it: `kind: sip` holds for a rule that needs a
    `sip.*` attribute."""
    tops = top_conditions(earlier.cond)
    rest = [t for t in tops if not _is_kind_sip(t)]
    if len(rest) == len(tops) or not rest or not _sip_only(rule.cond):
        return earlier.cond
    return rest[0] if len(rest) == 1 else All(rest)


def _is_kind_sip(cond: Cond) -> bool:
    return (
        isinstance(cond, Equals) and isinstance(cond.source, KindSource) and cond.values == {"sip"}
    )


def _warn_covered(
    c: Compiler, enabled: list[CompiledRule], candidates: _Candidates, reported: set[int]
) -> None:
    """A rule listing several values (`[+1510..., +1415...]`) that earlier rules (table rows,
    often) catch one value each."""
    for p, rule in enumerate(enabled):
        tops = top_conditions(rule.cond)
        first, others = tops[0], tops[1:]
        if p in reported or not isinstance(first, Equals) or not 1 < len(first.values) <= 64:
            continue
        source = first.source
        if source is None:
            continue
        catchers: list[CompiledRule] = []
        for value in sorted(first.values):
            one = Equals(source, (value,))
            restricted = All([one, *others]) if others else one
            found = next(
                (
                    enabled[q]
                    for q in candidates.by_value.get((source, value), ())
                    if q < p and restricted.implies(_for(rule, enabled[q]))
                ),
                None,
            )
            if found is None:
                break
            catchers.append(found)
        else:
            reported.add(p)
            _report(c, catchers[-1], rule, others=[r.name for r in catchers[:-1]])


def _report(
    c: Compiler, earlier: CompiledRule, rule: CompiledRule, others: Sequence[str] = ()
) -> None:
    where = f"{earlier.file}:{earlier.line}" if earlier.file else f"line {earlier.line}"
    if others:
        names = ", ".join(f"`{n}`" for n in dict.fromkeys(others))
        where += f", with {names} for its other values"
    table = c.tables.get(rule.file) if rule.file else None
    at: Where = (
        table.position(rule.line) if table is not None else (rule.path or ("rules", rule.index))
    )
    c.warning(
        Code.UNREACHABLE_RULE,
        f"rule `{rule.name}` can never match: rule `{earlier.name}` ({where}) "
        "comes first and catches all its callers",
        at,
        help=f"move `{rule.name}` above `{earlier.name}`, or make its conditions differ",
    )


__all__ = ["warn_unreachable"]
