"""Compiled conditions: validated and pre-computed once at load, tiny at call time.

Every condition has `test(ctx) -> bool` (the hot path), `why(ctx)` (the first failing check,
for `explain`), a canonical `key` and `implies(other)` (for "this rule can never match").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .context import Context
from .decision import Check, short
from .sources import Source


def _q(values: Sequence[str] | frozenset[str]) -> str:
    items = sorted(values) if isinstance(values, frozenset) else list(values)
    shown = ", ".join(f"`{short(v, 30)}`" for v in items[:5])
    return shown + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")


class Cond:
    """Base of every compiled condition."""

    __slots__ = ()

    #: the source an index may use, and the values it is keyed by (Equals / Prefix only)
    source: Source | None = None

    def test(self, ctx: Context) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def why(self, ctx: Context) -> Check | None:
        """None when the condition holds, else the check that failed."""
        if self.test(ctx):
            return None
        return Check(self.label(), None, self.expected())

    def label(self) -> str:
        return self.source.name if self.source is not None else "condition"

    def expected(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def key(self) -> tuple[Any, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def implies(self, other: Cond) -> bool:
        """True when every caller that satisfies `self` also satisfies `other` (conservative:
        False means "could not tell")."""
        return self.key == other.key


class ValueCond(Cond):
    """A condition on one source's text value; false when the value is missing."""

    __slots__ = ("source",)

    def __init__(self, source: Source) -> None:
        self.source = source

    def why(self, ctx: Context) -> Check | None:
        assert self.source is not None
        if self.test(ctx):
            return None
        return Check(self.source.name, self.source.get(ctx), self.expected())


class Equals(ValueCond):
    """`attr: "x"` and `attr: [x, y]`: the value is one of these, exactly."""

    __slots__ = ("values",)

    def __init__(self, source: Source, values: Sequence[str]) -> None:
        super().__init__(source)
        self.values = frozenset(values)

    def test(self, ctx: Context) -> bool:
        return self.source.get(ctx) in self.values  # type: ignore[union-attr,operator]

    def expected(self) -> str:
        return _q(self.values) if len(self.values) == 1 else f"one of {_q(self.values)}"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("equals", self.source, self.values)

    def implies(self, other: Cond) -> bool:
        if other.source != self.source:
            return False
        if isinstance(other, Equals):
            return self.values <= other.values
        if isinstance(other, Prefix):
            return all(v.startswith(other.prefixes) for v in self.values)
        if isinstance(other, Suffix):
            return all(v.endswith(other.suffixes) for v in self.values)
        if isinstance(other, Contains):
            return all(any(n in v for n in other.needles) for v in self.values)
        if isinstance(other, Exists):
            return True
        return False


class Prefix(ValueCond):
    __slots__ = ("prefixes",)

    def __init__(self, source: Source, prefixes: Sequence[str]) -> None:
        super().__init__(source)
        self.prefixes = tuple(dict.fromkeys(prefixes))

    def test(self, ctx: Context) -> bool:
        value = self.source.get(ctx)  # type: ignore[union-attr]
        return value is not None and value.startswith(self.prefixes)

    def expected(self) -> str:
        return f"to start with {_q(self.prefixes)}"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("prefix", self.source, frozenset(self.prefixes))

    def implies(self, other: Cond) -> bool:
        if other.source != self.source:
            return False
        if isinstance(other, Prefix):
            return all(p.startswith(other.prefixes) for p in self.prefixes)
        return isinstance(other, Exists)


class Suffix(ValueCond):
    __slots__ = ("suffixes",)

    def __init__(self, source: Source, suffixes: Sequence[str]) -> None:
        super().__init__(source)
        self.suffixes = tuple(dict.fromkeys(suffixes))

    def test(self, ctx: Context) -> bool:
        value = self.source.get(ctx)  # type: ignore[union-attr]
        return value is not None and value.endswith(self.suffixes)

    def expected(self) -> str:
        return f"to end with {_q(self.suffixes)}"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("suffix", self.source, frozenset(self.suffixes))


class Contains(ValueCond):
    __slots__ = ("needles",)

    def __init__(self, source: Source, needles: Sequence[str]) -> None:
        super().__init__(source)
        self.needles = tuple(dict.fromkeys(needles))

    def test(self, ctx: Context) -> bool:
        value = self.source.get(ctx)  # type: ignore[union-attr]
        if value is None:
            return False
        return any(n in value for n in self.needles)

    def expected(self) -> str:
        return f"to contain {_q(self.needles)}"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("contains", self.source, frozenset(self.needles))


class Regex(ValueCond):
    """A full match with RE2 (linear time; `\\d` is ASCII digits only)."""

    __slots__ = ("pattern", "regex")

    def __init__(self, source: Source, pattern: str, regex: Any) -> None:
        super().__init__(source)
        self.pattern = pattern
        self.regex = regex

    def test(self, ctx: Context) -> bool:
        value = self.source.get(ctx)  # type: ignore[union-attr]
        if value is None:
            return False
        try:
            return self.regex.fullmatch(value) is not None
        except UnicodeEncodeError:  # a lone surrogate: RE2 matches UTF-8, so no match
            return False

    def expected(self) -> str:
        return f"to match `{short(self.pattern, 40)}`"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("regex", self.source, self.pattern)


class Exists(ValueCond):
    __slots__ = ()

    def test(self, ctx: Context) -> bool:
        return self.source.get(ctx) is not None  # type: ignore[union-attr]

    def expected(self) -> str:
        return "to be present"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("exists", self.source)


class Missing(ValueCond):
    __slots__ = ()

    def test(self, ctx: Context) -> bool:
        return self.source.get(ctx) is None  # type: ignore[union-attr]

    def expected(self) -> str:
        return "to be missing"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("missing", self.source)

    def implies(self, other: Cond) -> bool:
        if isinstance(other, Not) and isinstance(other.inner, Exists):
            return other.inner.source == self.source
        return super().implies(other)


class Not(Cond):
    __slots__ = ("inner",)

    def __init__(self, inner: Cond) -> None:
        self.inner = inner

    def test(self, ctx: Context) -> bool:
        return not self.inner.test(ctx)

    def why(self, ctx: Context) -> Check | None:
        if self.test(ctx):
            return None
        inner = self.inner
        actual = inner.source.get(ctx) if inner.source is not None else None
        return Check(inner.label(), actual, f"not {inner.expected()}")

    def label(self) -> str:
        return self.inner.label()

    def expected(self) -> str:
        return f"not {self.inner.expected()}"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("not", self.inner.key)


class All(Cond):
    """Every condition holds (conditions side by side, and `all:`)."""

    __slots__ = ("conds",)

    def __init__(self, conds: Sequence[Cond]) -> None:
        self.conds = tuple(conds)

    def test(self, ctx: Context) -> bool:
        for c in self.conds:
            if not c.test(ctx):
                return False
        return True

    def why(self, ctx: Context) -> Check | None:
        for c in self.conds:
            failed = c.why(ctx)
            if failed is not None:
                return failed
        return None

    def expected(self) -> str:
        return "all of: " + "; ".join(f"{c.label()} {c.expected()}" for c in self.conds)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("all", frozenset(c.key for c in self.conds))

    def implies(self, other: Cond) -> bool:
        targets = other.conds if isinstance(other, All) else (other,)
        return all(any(c.implies(t) for c in self.conds) for t in targets)


class AnyOf(Cond):
    """At least one condition holds (`any:`)."""

    __slots__ = ("conds",)

    def __init__(self, conds: Sequence[Cond]) -> None:
        self.conds = tuple(conds)

    def test(self, ctx: Context) -> bool:
        for c in self.conds:
            if c.test(ctx):
                return True
        return False

    def why(self, ctx: Context) -> Check | None:
        if self.test(ctx):
            return None
        first = self.conds[0].why(ctx) if self.conds else None
        if len(self.conds) == 1 and first is not None:
            return first
        return Check(
            " or ".join(dict.fromkeys(c.label() for c in self.conds)),
            first.actual if first else None,
            "any of: " + "; ".join(f"{c.label()} {c.expected()}" for c in self.conds),
        )

    def expected(self) -> str:
        return "any of: " + "; ".join(f"{c.label()} {c.expected()}" for c in self.conds)

    def label(self) -> str:
        return "any"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("any", frozenset(c.key for c in self.conds))

    def implies(self, other: Cond) -> bool:
        if isinstance(other, AnyOf) and self.key == other.key:
            return True
        return bool(self.conds) and all(c.implies(other) for c in self.conds)


class Always(Cond):
    """`when: {}` or no `when`: every participant."""

    __slots__ = ()

    def test(self, ctx: Context) -> bool:
        return True

    def expected(self) -> str:
        return "anything"

    @property
    def key(self) -> tuple[Any, ...]:
        return ("always",)


def top_conditions(cond: Cond) -> tuple[Cond, ...]:
    """The conditions side by side at the top of a rule (all must hold)."""
    return cond.conds if isinstance(cond, All) else (cond,)
