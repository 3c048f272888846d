"""One decision's view of the participant: its attributes, kind and time, plus derived facts
computed at most once per decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .decision import EvalError


class Context:
    """Everything a condition may read. Conditions never see the caller's mapping itself:
    only sources reading it, and the read-only `view` used by expressions.

    `facts` holds the derived facts a decision reports (`caller.country`, `schedule.NAME`);
    `scratch` holds values computed once for the engine's own use (a number in E.164)."""

    __slots__ = ("_now", "_view", "attrs", "errors", "facts", "kind", "rule", "scratch", "settings")

    def __init__(
        self,
        attrs: Mapping[str, Any],
        kind: str,
        now: dt.datetime | None = None,
        settings: Any = None,
        errors: list[EvalError] | None = None,
    ) -> None:
        self.attrs = attrs
        self.kind = kind
        self._now = now
        self._view: Mapping[str, Any] | None = None
        self.facts: dict[str, str | None] = {}
        self.scratch: dict[str, str | None] = {}
        self.errors: list[EvalError] = [] if errors is None else errors
        self.settings = settings
        self.rule: str | None = None  # the rule being tried, named in errors

    @property
    def now(self) -> dt.datetime:
        """The decision time: given by the caller (tests, `--at`) or the clock, read once.
        A time without an offset is read on each schedule's own clock."""
        if self._now is None:
            self._now = dt.datetime.now(dt.UTC)
        return self._now

    @property
    def view(self) -> Mapping[str, Any]:
        """A read-only view of the attributes for expressions (no copy, cannot be mutated)."""
        if self._view is None:
            self._view = MappingProxyType(self.attrs)
        return self._view

    def attr(self, name: str) -> str | None:
        """The attribute's text, or None when missing, empty (LiveKit deletes a key set to
        an empty string) or not text at all."""
        value = self.attrs.get(name)
        if value.__class__ is str and value:
            return value
        return None

    def error(self, code: str, detail: str, *, rule: bool = True) -> None:
        """Record a problem met while deciding (against the rule being tried, if `rule`)."""
        self.errors.append(EvalError(self.rule if rule else None, code, detail))

    def derived(self, key: str, compute: Callable[[Context], str | None]) -> str | None:
        """A derived fact, computed once per decision and shared by every rule."""
        return self._once(self.facts, key, compute)

    def internal(self, key: str, compute: Callable[[Context], str | None]) -> str | None:
        """Like `derived`, for values the decision does not report as facts."""
        return self._once(self.scratch, key, compute)

    def _once(
        self, cache: dict[str, str | None], key: str, compute: Callable[[Context], str | None]
    ) -> str | None:
        if key in cache:
            return cache[key]
        try:
            value = compute(self)
        except Exception as exc:  # a fact that cannot be computed is simply missing
            self.error("fact", f"{key}: {type(exc).__name__}", rule=False)
            value = None
        cache[key] = value
        return value
