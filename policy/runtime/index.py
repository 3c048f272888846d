"""The index behind `Policy.decide`: each rule filed at load under one of its conditions,
so a decision looks at a few candidate rules instead of every rule.

An exact match goes in a hash table, a prefix in a table keyed by prefix, a regex in one RE2
set per attribute; a rule with none of these is tried for every caller. A decision looks the
caller's values up, merges the candidates in file order and tests only those.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from .conditions import Cond, Equals, Prefix, Regex, top_conditions
from .context import Context
from .rule import CompiledRule
from .sources import KindSource, Source


def index_condition(cond: Cond) -> Cond | None:
    """The condition a rule is filed under: an exact match on an attribute or fact first,
    then a prefix, then the participant kind; None for rules tried for every caller."""
    tops = top_conditions(cond)
    best: Cond | None = None
    for c in tops:
        if isinstance(c, Equals) and not isinstance(c.source, KindSource):
            if best is None or not isinstance(best, Equals) or len(c.values) < len(best.values):
                best = c
    if best is None:
        best = next((c for c in tops if isinstance(c, Prefix)), None)
    if best is None:
        best = next((c for c in tops if isinstance(c, Regex)), None)
    if best is None:
        best = next((c for c in tops if isinstance(c, Equals)), None)
    return best


@dataclass
class Index:
    """Exact-match and prefix tables over the live rules (enabled, not shadow), and the rules tried always."""

    exact: list[tuple[Source, dict[str, list[int]]]] = field(default_factory=list)
    prefix: list[tuple[Source, dict[str, list[int]], tuple[int, ...]]] = field(default_factory=list)
    #: per source, one RE2 set of every pattern rules are filed under, and their rules
    regex: list[tuple[Source, Any, list[list[int]]]] = field(default_factory=list)
    always: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, rules: Sequence[CompiledRule]) -> Index:
        exact: dict[Source, dict[str, list[int]]] = {}
        prefix: dict[Source, dict[str, list[int]]] = {}
        patterns: dict[Source, dict[str, list[int]]] = {}
        always: list[int] = []
        for r in rules:
            if not r.live:
                continue
            c = index_condition(r.cond)
            if isinstance(c, Equals):
                assert c.source is not None
                table = exact.setdefault(c.source, {})
                for v in c.values:
                    table.setdefault(v, []).append(r.index)
            elif isinstance(c, Prefix):
                assert c.source is not None
                ptable = prefix.setdefault(c.source, {})
                for p in c.prefixes:
                    ids = ptable.setdefault(p, [])
                    if not ids or ids[-1] != r.index:
                        ids.append(r.index)
            elif isinstance(c, Regex):
                assert c.source is not None
                patterns.setdefault(c.source, {}).setdefault(c.pattern, []).append(r.index)
            else:
                always.append(r.index)
        regex: list[tuple[Source, Any, list[list[int]]]] = []
        for source, by_pattern in patterns.items():
            matcher = _regex_set(list(by_pattern))
            if matcher is None:  # RE2 refused the set (memory budget): try them in order
                always = sorted([*always, *(i for ids in by_pattern.values() for i in ids)])
            else:
                regex.append((source, matcher, list(by_pattern.values())))
        return cls(
            exact=list(exact.items()),
            prefix=[(s, t, tuple(sorted({len(p) for p in t}))) for s, t in prefix.items()],
            regex=regex,
            always=always,
        )

    def candidates(self, ctx: Context) -> Iterator[int] | list[int]:
        lists: list[list[int]] = []
        for source, table in self.exact:
            value = source.get(ctx)
            if value is not None:
                hit = table.get(value)
                if hit:
                    lists.append(hit)
        for source, ptable, lengths in self.prefix:
            value = source.get(ctx)
            if value is None:
                continue
            n = len(value)
            for length in lengths:
                if length > n:
                    break
                hit = ptable.get(value[:length])
                if hit:
                    lists.append(hit)
        for source, matcher, ids_of in self.regex:
            value = source.get(ctx)
            if value is None:
                continue
            try:
                found = matcher.Match(value.encode())
            except Exception:  # text RE2 cannot take: the rules' own tests report it
                found = range(len(ids_of))
            for k in found:
                lists.append(ids_of[k])
        if self.always:
            lists.append(self.always)
        if not lists:
            return []
        if len(lists) == 1:
            return lists[0]
        return _unique(heapq.merge(*lists))


def _regex_set(patterns: list[str]) -> Any:
    """One RE2 set that full-matches any of `patterns` (the options `Regex` compiles with):
    a decision asks it once per attribute instead of trying each pattern. None if RE2
    cannot build it."""
    options = re2.Options()
    options.log_errors = False
    try:
        matcher = re2.Set.FullMatchSet(options)
        for p in patterns:
            matcher.Add(p)
        matcher.Compile()
    except Exception:
        return None
    return matcher._set  # the binding itself: the wrapper re-encodes on every call


def _unique(ids: Iterable[int]) -> Iterator[int]:
    last = -1
    for i in ids:
        if i != last:
            yield i
            last = i
