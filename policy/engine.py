"""`Policy.decide`: pure, synchronous, no I/O, never raises on any attribute data.

Rules are tried top to bottom and the first match wins. To keep a decision in microseconds at
100,000 rules, each rule is filed at load under one of its conditions: an exact match in a
hash table, a prefix in a table keyed by prefix, or, when it has neither, in the short list of
rules tried for every caller. A decision looks up the caller's values in those tables, merges
the few candidate rules in file order, and tests only those. `explain` is the plain in-order
scan over every rule; tests prove both give the same answer.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re2

from .attributes import KINDS
from .conditions import All, Cond, Equals, Prefix, Regex
from .context import Context
from .decision import Check, Decision, Outcome, TraceStep
from .errors import Diagnostic
from .outcome import Plan
from .sources import FACTS, KindSource, Source


@dataclass
class CompiledRule:
    index: int
    name: str
    line: int
    cond: Cond
    plan: Plan
    enabled: bool = True
    #: the table file a row came from (None: the rules file), and the rule's path in the rules
    file: str | None = None
    path: tuple[str | int, ...] = ()


def top_conditions(cond: Cond) -> tuple[Cond, ...]:
    """The conditions side by side at the top of a rule (all must hold)."""
    return cond.conds if isinstance(cond, All) else (cond,)


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
class _Index:
    """Exact-match and prefix tables over the enabled rules, and the rules tried always."""

    exact: list[tuple[Source, dict[str, list[int]]]] = field(default_factory=list)
    prefix: list[tuple[Source, dict[str, list[int]], tuple[int, ...]]] = field(default_factory=list)
    #: per source, one RE2 set of every pattern rules are filed under, and their rules
    regex: list[tuple[Source, Any, list[list[int]]]] = field(default_factory=list)
    always: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, rules: list[CompiledRule]) -> _Index:
        exact: dict[Source, dict[str, list[int]]] = {}
        prefix: dict[Source, dict[str, list[int]]] = {}
        patterns: dict[Source, dict[str, list[int]]] = {}
        always: list[int] = []
        for r in rules:
            if not r.enabled:
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


_KIND_NAMES = frozenset(KINDS)


def kind_name(kind: Any) -> str:
    """`sip`, `standard`... from a string or an enum such as rtc.ParticipantKind (by name,
    never by number: the server and the SDK number CONNECTOR and BRIDGE differently)."""
    if kind.__class__ is str and kind in _KIND_NAMES:
        return kind
    name = kind if isinstance(kind, str) else getattr(kind, "name", None)
    if not isinstance(name, str):
        return str(kind).lower()
    name = name.lower()
    for prefix in ("participant_kind_", "participantkind."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def _as_dict(attributes: Any, errors: list[str]) -> dict[str, Any]:
    if type(attributes) is dict:
        return attributes
    try:
        return dict(attributes)
    except Exception as exc:
        errors.append(f"attributes could not be read: {type(exc).__name__}")
        return {}


class Policy:
    """A validated, compiled rules file. Build it with `policy.load`; share it freely: it is
    immutable and `decide` keeps no state between calls."""

    def __init__(
        self,
        *,
        rules: list[CompiledRule],
        default: Plan,
        revision: str,
        path: Path | None,
        files: tuple[Path, ...],
        warnings: tuple[Diagnostic, ...],
        settings: Any = None,
        declared: Mapping[str, Any] | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.default = default
        self.revision = revision
        self.path = path
        self.files = files
        self.warnings = warnings
        self.settings = settings
        self.declared: Mapping[str, Any] = declared or {}
        self._index = _Index.build(rules)

    def __repr__(self) -> str:
        return f"<Policy {self.path} rev={self.revision} rules={len(self.rules)}>"

    def rule_names(self) -> list[str]:
        return [r.name for r in self.rules]

    def tool_names(self) -> frozenset[str]:
        """Every tool any outcome of this policy may ask for."""
        names = set(self.default.tools)
        for r in self.rules:
            names.update(r.plan.tools)
        return frozenset(names)

    def kinds(self) -> frozenset[str]:
        """The participant kinds the rules name in `kind:` conditions (the worker waits for
        callers of these kinds besides SIP)."""
        found: set[str] = set()
        stack: list[Cond] = [r.cond for r in self.rules]
        while stack:
            cond = stack.pop()
            if isinstance(cond, Equals) and isinstance(cond.source, KindSource):
                found.update(cond.values)
            stack.extend(getattr(cond, "conds", ()))
            inner = getattr(cond, "inner", None)
            if isinstance(inner, Cond):
                stack.append(inner)
        return frozenset(found)

    def decide(
        self,
        attributes: Mapping[str, str],
        kind: Any = "sip",
        *,
        now: Any = None,
    ) -> Decision:
        """The decision for one participant: the first rule that matches, in file order, or
        the defaults. Never raises on any attribute data; errors met are in `errors`."""
        start = time.perf_counter_ns()
        ctx = self._context(attributes, kind, now)
        errors = ctx.errors
        rules = self.rules
        trace: list[TraceStep] = []
        chosen: CompiledRule | None = None
        for i in self._index.candidates(ctx):
            rule = rules[i]
            try:
                matched = rule.cond.test(ctx)
            except Exception as exc:  # pragma: no cover - conditions catch their own
                matched = False
                errors.append(f"rule `{rule.name}`: {type(exc).__name__}")
            trace.append(TraceStep(rule.name, matched, None, None, rule.line, rule.file))
            if matched:
                chosen = rule
                break
        # positional arguments: this runs on every call, keywords cost measurably more
        return Decision(
            chosen.name if chosen else None,
            self._render(chosen, ctx),
            tuple(trace),
            self.revision,
            tuple(errors) if errors else (),
            ctx.cache,
            (time.perf_counter_ns() - start) / 1000,
        )

    def explain(
        self,
        attributes: Mapping[str, str],
        kind: Any = "sip",
        *,
        now: Any = None,
    ) -> Decision:
        """The same decision by a plain scan of every rule in order, with the first failed
        check of each rule that did not match. Slower than `decide`; made for people."""
        start = time.perf_counter_ns()
        ctx = self._context(attributes, kind, now)
        errors = ctx.errors
        trace: list[TraceStep] = []
        chosen: CompiledRule | None = None
        for rule in self.rules:
            if not rule.enabled:
                trace.append(
                    TraceStep(rule.name, False, error="disabled", line=rule.line, file=rule.file)
                )
                continue
            before = len(errors)
            try:
                failed = rule.cond.why(ctx)
            except Exception as exc:  # pragma: no cover - as in decide, an error is no match
                failed = Check(rule.name, None, "no error while testing the rule")
                errors.append(f"rule `{rule.name}`: {type(exc).__name__}")
            err = "; ".join(errors[before:]) or None
            matched = failed is None
            trace.append(
                TraceStep(
                    rule.name, matched, failed=failed, error=err, line=rule.line, file=rule.file
                )
            )
            if matched and chosen is None:
                chosen = rule
        for name, fact in FACTS.items():
            ctx.derived(name, fact.fn)
        outcome = self._render(chosen, ctx)
        return Decision(
            rule=chosen.name if chosen else None,
            outcome=outcome,
            trace=tuple(trace),
            revision=self.revision,
            errors=tuple(errors),
            facts=dict(ctx.cache),
            elapsed_us=(time.perf_counter_ns() - start) / 1000,
        )

    def _context(self, attributes: Mapping[str, str], kind: Any, now: Any) -> Context:
        """One decision's context; attributes that cannot be read count as none (recorded)."""
        errors: list[str] = []
        attrs = attributes if attributes.__class__ is dict else _as_dict(attributes, errors)
        return Context(attrs, kind_name(kind), now, self.settings, errors)

    def _render(self, chosen: CompiledRule | None, ctx: Context) -> Outcome:
        plan = chosen.plan if chosen is not None else self.default
        try:
            return plan.render(ctx)
        except Exception as exc:  # pragma: no cover - placeholders never raise
            ctx.errors.append(f"outcome: {type(exc).__name__}")
            return Outcome(stt=plan.stt, llm=plan.llm, tts=plan.tts, tools=plan.tools)


__all__ = ["CompiledRule", "Policy", "index_condition", "kind_name", "top_conditions"]
