"""The index behind `Policy.decide`: each rule filed at load under one or more keys, so a
decision looks at a few candidate rules instead of every rule.

A rule is filed under one of its top-level conditions (all of which must hold):

- an exact match (`attr: x`, `one_of`, a fact such as `caller.country`) in a hash table per
  source, the fewest values first and attributes before facts (a fact costs a computation);
- an `any:` group whose every alternative can be filed: under each alternative's key;
- a prefix (`prefix`, `area`), or the literal start of a regex (`\\+4420[0-4]\\d{7}` under
  `+4420`), in a table keyed by prefix: the rule's own RE2 test confirms it;
- a regex without a literal start, in one RE2 set per source;
- a presence test (`exists`), in a list per source tried when the value is there;
- the participant kind (`kind: standard`), in the kind's hash table.

A rule with none of these (only `not`, `expr`, `missing`, schedules...) is tried for every
caller. A decision looks the caller's values up, merges the candidate lists in file order
and tests only those; `Policy.explain`, the plain scan, is the reference the tests hold it to.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from .conditions import All, AnyOf, Cond, Equals, Exists, Prefix, Regex, top_conditions
from .context import Context
from .rule import CompiledRule
from .sources import AttrSource, KindSource, Source

#: ("exact", source, value) | ("prefix", source, prefix) | ("regex", source, pattern) |
#: ("exists", source, "")
Key = tuple[str, Source, str]

_META = frozenset(".[](){}*+?|^$\\")
_QUANTIFIERS = frozenset("*+?{")


def literal_prefix(pattern: str) -> str:
    """The text every full match of `pattern` starts with ('' when unsure): literal
    characters and escaped punctuation up to the first operator; a character followed by a
    quantifier is left out, and a pattern with `|` anywhere has none."""
    if "|" in pattern:
        return ""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n or pattern[i + 1].isalnum() or pattern[i + 1] == "_":
                break  # \d, \w, \Q, \x41, \1, \p...: not a plain literal
            ch, step = pattern[i + 1], 2
        elif ch in _META:
            break
        else:
            step = 1
        if i + step < n and pattern[i + step] in _QUANTIFIERS:
            break  # `a?`, `a*`, `a{0,2}`: this character may not be there
        out.append(ch)
        i += step
    return "".join(out)


def _flatten(cond: Cond) -> list[Cond]:
    """The conditions that must all hold, with nested `all:` groups opened."""
    if isinstance(cond, All):
        return [c for inner in cond.conds for c in _flatten(inner)]
    return [cond]


def _equals_rank(c: Equals) -> tuple[int, int]:
    return (len(c.values), 0 if isinstance(c.source, AttrSource) else 1)


def index_keys(cond: Cond) -> list[Key]:
    """The keys a rule is filed under: a caller can only satisfy `cond` if one of them is
    hit. Empty: the rule is tried for every caller."""
    if cond.__class__ is Equals and cond.source.__class__ is not KindSource:
        return [("exact", cond.source, v) for v in cond.values]  # type: ignore[misc]
    tops = _flatten(cond)
    exact = [c for c in tops if isinstance(c, Equals) and not isinstance(c.source, KindSource)]
    if exact:
        best = min(exact, key=_equals_rank)
        assert best.source is not None
        return [("exact", best.source, v) for v in best.values]
    for c in tops:
        if isinstance(c, AnyOf) and c.conds:
            alternatives = [index_keys(alt) for alt in c.conds]
            if all(alternatives):
                return [k for keys in alternatives for k in keys]
    for c in tops:
        if isinstance(c, Prefix):
            assert c.source is not None
            return [("prefix", c.source, p) for p in c.prefixes]
    regexes = [c for c in tops if isinstance(c, Regex)]
    for c in regexes:
        start = literal_prefix(c.pattern)
        if start:
            assert c.source is not None
            return [("prefix", c.source, start)]
    if regexes:
        assert regexes[0].source is not None
        return [("regex", regexes[0].source, regexes[0].pattern)]
    for c in tops:
        if isinstance(c, Exists):
            assert c.source is not None
            return [("exists", c.source, "")]
    for c in tops:
        if isinstance(c, Equals):
            assert c.source is not None
            return [("exact", c.source, v) for v in c.values]
    return []


def index_condition(cond: Cond) -> Cond | None:
    """One top-level condition that says where to look for rules sharing a rule's callers
    (the unreachable-rule check): an exact match first, then a prefix, a regex, the kind."""
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
    """Exact, prefix, regex and presence tables over the live rules (enabled, not shadow),
    and the rules tried for every caller."""

    exact: list[tuple[Source, dict[str, list[int]]]] = field(default_factory=list)
    prefix: list[tuple[Source, dict[str, list[int]], tuple[int, ...]]] = field(default_factory=list)
    #: per source, one RE2 set of every pattern rules are filed under, and their rules
    regex: list[tuple[Source, Any, list[list[int]]]] = field(default_factory=list)
    exists: list[tuple[Source, list[int]]] = field(default_factory=list)
    always: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, rules: Sequence[CompiledRule]) -> Index:
        tables: dict[str, dict[Source, dict[str, list[int]]]] = {
            "exact": {},
            "prefix": {},
            "regex": {},
            "exists": {},
        }
        always: list[int] = []
        #: (how, id(source)) → its table: sources hash in Python, and 100,000 rules share a few
        by_id: dict[tuple[str, int], dict[str, list[int]]] = {}
        for r in rules:
            if not r.live:
                continue
            keys = index_keys(r.cond)
            if not keys:
                always.append(r.index)
            for how, source, value in keys:
                table = by_id.get((how, id(source)))
                if table is None:
                    table = by_id[how, id(source)] = tables[how].setdefault(source, {})
                ids = table.get(value)
                if ids is None:
                    table[value] = [r.index]
                elif ids[-1] != r.index:
                    ids.append(r.index)
        regex: list[tuple[Source, Any, list[list[int]]]] = []
        for source, by_pattern in tables["regex"].items():
            matcher = _regex_set(list(by_pattern))
            if matcher is None:  # RE2 refused the set (memory budget): try them in order
                always = sorted({*always, *(i for ids in by_pattern.values() for i in ids)})
            else:
                regex.append((source, matcher, list(by_pattern.values())))
        return cls(
            exact=list(tables["exact"].items()),
            prefix=[
                (s, t, tuple(sorted({len(p) for p in t}))) for s, t in tables["prefix"].items()
            ],
            regex=regex,
            exists=[(s, t[""]) for s, t in tables["exists"].items()],
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
        for source, ids in self.exists:
            if source.get(ctx) is not None:
                lists.append(ids)
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
