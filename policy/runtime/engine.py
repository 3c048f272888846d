"""`Policy.decide`: pure, synchronous, no I/O, never raises on any attribute data.

Rules are tried top to bottom and the first match wins; the index (`policy.runtime.index`)
narrows the rules tried to a few candidates. `explain` is the plain in-order scan over every
rule, recording why each one did or did not match; tests prove both give the same answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..attributes import KINDS
from ..errors import Diagnostic
from .context import Context
from .decision import Check, Decision, EvalError, Outcome, ShadowMatch, TraceStep
from .facts import FACTS
from .index import Index
from .outcome import Plan
from .rule import CompiledRule

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


def _as_dict(attributes: Any, errors: list[EvalError]) -> dict[str, Any]:
    if type(attributes) is dict:
        return attributes
    try:
        return dict(attributes)
    except Exception as exc:
        errors.append(
            EvalError(None, "attributes", f"attributes could not be read: {type(exc).__name__}")
        )
        return {}


class Policy:
    """A validated, compiled rules file. Build it with `policy.load`; share it freely: it is
    immutable and `decide` keeps no state between calls.

    `kinds` (participant kinds the rules name) and `tools` (every tool an outcome may ask
    for) are worked out once at load, for the worker."""

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
        kinds: frozenset[str] = frozenset(),
        declared_tools: frozenset[str] | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.default = default
        self.revision = revision
        self.path = path
        self.files = files
        self.warnings = warnings
        self.settings = settings
        self.declared: Mapping[str, Any] = MappingProxyType(dict(declared or {}))
        self._kinds = kinds
        self._declared_tools = declared_tools
        tools = set(default.base.tools)
        for rule in rules:
            tools.update(rule.plan.base.tools)
            for v in rule.split.variants if rule.split is not None else ():
                tools.update(v.plan.base.tools)
        self._tools = frozenset(tools)
        self._index = Index.build(rules)
        #: the enabled `mode: shadow` rules, in file order (rare: most policies have none)
        self._shadow = tuple(r for r in rules if r.shadow and r.enabled)

    def __repr__(self) -> str:
        return f"<Policy {self.path} rev={self.revision} rules={len(self.rules)}>"

    def rule_names(self) -> list[str]:
        return [r.name for r in self.rules]

    def tool_names(self) -> frozenset[str]:
        """Every tool any outcome of this policy may ask for."""
        return self._tools

    def declared_tools(self) -> frozenset[str] | None:
        """The tools the `tools:` section declares (None when the file has no such section):
        the worker refuses to start when one of them is not registered."""
        return self._declared_tools

    def kinds(self) -> frozenset[str]:
        """The participant kinds the rules name in `kind:` conditions (the worker waits for
        callers of these kinds besides SIP)."""
        return self._kinds

    def decide(
        self,
        attributes: Mapping[str, str],
        kind: Any = "sip",
        *,
        now: Any = None,
        variant: str | None = None,
    ) -> Decision:
        """The decision for one participant: the first rule that matches, in file order, or
        the defaults. Never raises on any attribute data; errors met are in `errors`. Keeps
        no trace (`explain` does). `variant` pins the variant of a `split:` rule (tests)."""
        start = time.perf_counter_ns()
        ctx = self._context(attributes, kind, now)
        rules = self.rules
        chosen: CompiledRule | None = None
        for i in self._index.candidates(ctx):
            rule = rules[i]
            ctx.rule = rule.name
            try:
                matched = rule.cond.test(ctx)
            except Exception as exc:  # pragma: no cover - conditions catch their own
                matched = False
                ctx.error("condition", f"rule `{rule.name}`: {type(exc).__name__}")
            if matched:
                chosen = rule
                break
        outcome, name = self._outcome(ctx, chosen, variant)
        would = self._would_match(ctx, chosen, variant) if self._shadow else ()
        errors = ctx.errors
        # positional arguments: this runs on every call, keywords cost measurably more
        return Decision(
            chosen.name if chosen else None,
            outcome,
            (),
            self.revision,
            tuple(errors) if errors else (),
            MappingProxyType(ctx.facts),
            (time.perf_counter_ns() - start) / 1000,
            name,
            would,
        )

    def _would_match(
        self, ctx: Context, chosen: CompiledRule | None, pin: str | None
    ) -> tuple[ShadowMatch, ...]:
        """The shadow rules that hold and come before the rule that decided."""
        found: list[ShadowMatch] = []
        for rule in self._shadow:
            if chosen is not None and rule.index > chosen.index:
                break
            ctx.rule = rule.name
            try:
                matched = rule.cond.test(ctx)
            except Exception as exc:  # pragma: no cover - conditions catch their own
                matched = False
                ctx.error("condition", f"rule `{rule.name}`: {type(exc).__name__}")
            if matched:
                found.append(ShadowMatch(rule.name, *self._outcome(ctx, rule, pin)))
        ctx.rule = None
        return tuple(found)

    def explain(
        self,
        attributes: Mapping[str, str],
        kind: Any = "sip",
        *,
        now: Any = None,
        variant: str | None = None,
    ) -> Decision:
        """The same decision by a plain scan of every rule in order, with the first failed
        check of each rule that did not match, and every fact. Slower than `decide`; made
        for people."""
        start = time.perf_counter_ns()
        ctx = self._context(attributes, kind, now)
        errors = ctx.errors
        trace: list[TraceStep] = []
        chosen: CompiledRule | None = None
        for rule in self.rules:
            if not rule.enabled:
                trace.append(TraceStep(rule.name, False, None, "disabled", rule.line, rule.file))
                continue
            before = len(errors)
            ctx.rule = rule.name
            try:
                failed = rule.cond.why(ctx)
            except Exception as exc:  # pragma: no cover - conditions catch their own
                failed = Check(rule.name, None, "no error while testing the rule")
                ctx.error("condition", f"rule `{rule.name}`: {type(exc).__name__}")
            err = "; ".join(str(e) for e in errors[before:]) or None
            matched = failed is None
            if rule.shadow:
                err = "shadow" if err is None else f"shadow; {err}"
            trace.append(TraceStep(rule.name, matched, failed, err, rule.line, rule.file))
            if matched and chosen is None and not rule.shadow:
                chosen = rule
        ctx.rule = None
        for name, fact in FACTS.items():
            ctx.derived(name, fact.fn)
        outcome, picked_name = self._outcome(ctx, chosen, variant)
        would = self._would_match(ctx, chosen, variant) if self._shadow else ()
        return Decision(
            chosen.name if chosen else None,
            outcome,
            tuple(trace),
            self.revision,
            tuple(errors),
            MappingProxyType(dict(ctx.facts)),
            (time.perf_counter_ns() - start) / 1000,
            picked_name,
            would,
        )

    def _context(self, attributes: Mapping[str, str], kind: Any, now: Any) -> Context:
        """One decision's context; attributes that cannot be read count as none (recorded)."""
        errors: list[EvalError] = []
        attrs = attributes if attributes.__class__ is dict else _as_dict(attributes, errors)
        return Context(attrs, kind_name(kind), now, self.settings, errors)

    def _outcome(
        self, ctx: Context, rule: CompiledRule | None, pin: str | None
    ) -> tuple[Outcome, str | None]:
        """The outcome `rule` gives this caller (the defaults' when None), and the variant
        its `split:` picked, if it has one."""
        plan, variant = self.default, None
        if rule is not None:
            if rule.split is not None:
                picked = rule.split.pick(ctx, pin)
                plan, variant = picked.plan, picked.name
            else:
                plan = rule.plan
        try:
            return plan.render(ctx), variant
        except Exception as exc:  # pragma: no cover - placeholders never raise
            ctx.error("outcome", f"outcome: {type(exc).__name__}")
            return plan.base, variant


__all__ = ["Policy", "kind_name"]
