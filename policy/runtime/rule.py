"""A compiled rule: its name and place, its condition and its outcome plan; a rule in
`mode: shadow` is tried but never decides; a rule with `split:` picks among weighted
variants, the same one for a caller on every call."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .conditions import Cond
from .context import Context
from .outcome import Plan

#: The attribute a split hashes by default, and the one it falls back to.
SPLIT_BY = "sip.phoneNumber"
SPLIT_FALLBACK = "sip.callID"
_SCALE = float(1 << 64)


def bucket(rule: str, key: str) -> float:
    """A stable point in [0, 1) for `key` in `rule`'s split: BLAKE2b, the same in every
    process and every Python (never `hash()`, which is salted per process). The rule's name
    is mixed in, so two splits do not put the same callers in the same variants."""
    digest = hashlib.blake2b(f"{rule}\0{key}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / _SCALE


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    plan: Plan


@dataclass(frozen=True)
class Split:
    """Weighted variants of one rule's outcome; `by` names the attribute that keeps a caller
    on one variant (falling back to the call ID)."""

    rule: str
    by: str
    variants: tuple[Variant, ...]

    @property
    def total(self) -> float:
        return sum(v.weight for v in self.variants)

    def shares(self) -> dict[str, tuple[float, float]]:
        """Each variant's slice of [0, 1), in file order."""
        out: dict[str, tuple[float, float]] = {}
        low, total = 0.0, self.total
        for v in self.variants:
            high = low + v.weight / total
            out[v.name] = (low, high)
            low = high
        return out

    def pick(self, ctx: Context, pin: str | None = None) -> Variant:
        """The caller's variant: `pin` when it names one (test cases), else by the hash."""
        if pin is not None:
            for v in self.variants:
                if v.name == pin:
                    return v
        key = ctx.attr(self.by) or ctx.attr(SPLIT_FALLBACK) or ""
        point = bucket(self.rule, key) * self.total
        for v in self.variants:
            point -= v.weight
            if point < 0:
                return v
        return self.variants[-1]


def moved_share(old: Split, new: Split) -> float:
    """The expected share of a split rule's callers that change variant between two splits
    (same rule name, same `by`): the part of [0, 1) whose variant differs."""
    a, b = old.shares(), new.shares()
    kept = 0.0
    for name, (low, high) in a.items():
        if name in b:
            low2, high2 = b[name]
            kept += max(0.0, min(high, high2) - max(low, low2))
    return 1.0 - kept


@dataclass(slots=True)
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
    #: `mode: shadow`: tried and reported as `would_match`, never decides
    shadow: bool = False
    split: Split | None = None

    @property
    def live(self) -> bool:
        """Enabled and not a shadow: a rule that can decide."""
        return self.enabled and not self.shadow

    #: the rule a table row belongs to (None for a rule of its own): explain, coverage and
    #: test expectations treat a table as that one rule
    table_rule: str | None = None
