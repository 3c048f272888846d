"""`split:` on a rule: weighted variants, each a profile, checked at load (weights positive,
profiles known, no profile twice) and planned like `use:` (defaults ← profile ← `set`)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import Code
from ..model import Rule
from ..parse.document import Path_
from ..runtime.rule import SPLIT_BY, Split, Variant
from .outcomes import make_plan, profile_layers
from .state import Compiler

Layers = list[tuple[str, dict[str, Any]]]


def compile_split(c: Compiler, rule: Rule, path: Path_, own: Layers) -> Split | None:
    """The rule's split, or None after reporting every problem in it."""
    assert rule.split is not None
    where = (*path, "split")
    ok = True
    if rule.use is not None:
        c.error(
            Code.CONFLICTING_KEYS,
            f"rule `{rule.name}` has both `use:` and `split:`",
            (*path, "use"),
            key=True,
            help="a split names its profiles itself: drop `use:`, or drop `split:`",
        )
        ok = False
    if rule.table is not None:
        c.error(
            Code.CONFLICTING_KEYS,
            f"rule `{rule.name}` has both `table:` and `split:`",
            where,
            key=True,
            help="split a rule of its own; table rows each name their profile in `use`",
        )
        ok = False
    if not rule.split:
        c.error(
            Code.INVALID_VALUE,
            "`split` lists no variants",
            where,
            help="e.g. split: [{use: prompt-a, weight: 90}, {use: prompt-b, weight: 10}]",
        )
        return None
    variants: list[Variant] = []
    seen: set[str] = set()
    for i, v in enumerate(rule.split):
        if not (v.weight > 0 and math.isfinite(v.weight)):
            c.error(
                Code.INVALID_VALUE,
                f"the weight of variant `{v.use}` must be a positive number, not {v.weight:g}",
                (*where, i, "weight"),
                help="weights are shares: 90 and 10 send 90% and 10% of callers",
            )
            ok = False
        if v.use in seen:
            c.error(
                Code.INVALID_VALUE,
                f"variant `{v.use}` is listed twice in the split of rule `{rule.name}`",
                (*where, i, "use"),
                help="list each profile once, with its whole weight",
            )
            ok = False
        seen.add(v.use)
        if v.use not in c.profile_names:
            c.unknown(
                Code.UNKNOWN_PROFILE,
                f"rule `{rule.name}` splits to profile `{v.use}`, which is not defined",
                (*where, i, "use"),
                v.use,
                c.profile_names,
                "profiles",
            )
            ok = False
            continue
        layers = [("defaults", c.defaults), *profile_layers(c, v.use), *own]
        variants.append(Variant(v.use, v.weight, make_plan(c, layers)))
    by = rule.split_by or SPLIT_BY
    if rule.split_by is not None:
        c.attribute(by, (*path, "split_by"))
    return Split(rule.name, by, tuple(variants)) if ok else None
