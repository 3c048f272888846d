"""Operators on one attribute that can never hold together (`equals: "+1888..."` beside
`prefix: "+1999"`): the rule could never match, so the file says so at load."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..runtime.conditions import Cond, Contains, Equals, Exists, Missing, Prefix, Regex, Suffix


def _accepts(cond: Cond) -> Callable[[str], bool] | None:
    """A test of a literal value against `cond`, for the operators whose literals say it."""
    if isinstance(cond, Equals):
        return lambda v: v in cond.values
    if isinstance(cond, Prefix):
        return lambda v: v.startswith(cond.prefixes)
    if isinstance(cond, Suffix):
        return lambda v: v.endswith(cond.suffixes)
    if isinstance(cond, Contains):
        return lambda v: any(n in v for n in cond.needles)
    if isinstance(cond, Regex):
        return lambda v: cond.regex.fullmatch(v) is not None
    return None


def conflict(named: Sequence[tuple[str, Cond]]) -> tuple[str, str] | None:
    """Two operators (by name) on one attribute that no value can satisfy together."""
    for i, (op_a, a) in enumerate(named):
        for op_b, b in named[i + 1 :]:
            if _never_both(a, b):
                return op_a, op_b
    return None


def _never_both(a: Cond, b: Cond) -> bool:
    if getattr(a, "source", None) != getattr(b, "source", None):
        return False  # `type:` and `country:` read facts about the number, not the number
    if {type(a), type(b)} == {Exists, Missing}:
        return True
    if isinstance(b, Equals) and not isinstance(a, Equals):
        a, b = b, a
    if isinstance(a, Equals):
        test = _accepts(b)
        return test is not None and not any(test(v) for v in a.values)
    if isinstance(a, Prefix) and isinstance(b, Prefix):
        return not any(p.startswith(q) or q.startswith(p) for p in a.prefixes for q in b.prefixes)
    return False
