"""`when:` trees → compiled conditions: attribute conditions (dispatched to the operators
of the vocabulary) and the keywords `kind`, `all`, `any` and `not`. Side-by-side
conditions must all hold."""

from __future__ import annotations

from typing import Any

from .. import attributes as catalogue
from ..errors import Code, did_you_mean
from ..model import OUTCOME_KEYS, Rule
from ..parse.document import Path_
from ..runtime.conditions import All, Always, AnyOf, Cond, Equals, Not
from ..runtime.sources import KindSource
from .contradictions import conflict
from .operators import literals
from .state import Compiler, KeywordFn

#: Keys of a rule or an outcome: indented one level too far, they land under `when:`.
RULE_KEYS = frozenset({*Rule.model_fields, *OUTCOME_KEYS} - {"when"})


def compile_when(c: Compiler, spec: Any, path: Path_) -> Cond | None:
    """A `when:` mapping (None after reporting its problems; no conditions: every caller)."""
    if spec is None:
        return Always()
    if not isinstance(spec, dict):
        c.error(
            Code.INVALID_CONDITION,
            "conditions must be a mapping of `name: value`",
            path,
            help='e.g. when: {sip.trunkPhoneNumber: "+15105550123"}',
        )
        return None
    if not spec:
        return Always()
    keywords = c.vocabulary.keywords
    conds: list[Cond | None] = []
    for key, value in spec.items():
        kpath = (*path, key)
        keyword = keywords.get(key)
        if keyword is not None:
            conds.append(keyword(c, value, kpath))
        elif key in RULE_KEYS and key not in c.declared:
            c.error(
                Code.MISPLACED_KEY,
                f"`{key}` is indented under `when:`, so it would be a condition on an "
                f"attribute named `{key}`",
                kpath,
                key=True,
                help=f"move `{key}:` left to line up with `when:`; it belongs to the rule",
            )
            conds.append(None)
        else:
            conds.append(attribute_condition(c, key, value, kpath))
    return _all(conds)


def _all(conds: list[Cond | None]) -> Cond | None:
    """Side-by-side conditions: None when any had a problem, else one, or all of them."""
    if any(cond is None for cond in conds):
        return None
    found = [cond for cond in conds if cond is not None]
    return found[0] if len(found) == 1 else All(found)


def attribute_condition(c: Compiler, name: str, value: Any, path: Path_) -> Cond | None:
    """`name: "x"`, `name: [x, y]` or `name: {OPERATOR: ARG, ...}`."""
    source = c.attribute(name, path)
    operators = c.vocabulary.operators
    if not isinstance(value, dict):
        values = literals(c, source, value, path, f"the value for `{name}`")
        return Equals(source, values) if values is not None else None
    if not value:
        c.error(
            Code.INVALID_CONDITION,
            f"no operator given for `{name}`",
            path,
            help='e.g. {prefix: "+1510"}; operators: ' + ", ".join(operators),
        )
        return None
    conds: list[Cond | None] = []
    named: list[tuple[str, Cond]] = []
    for op, arg in value.items():
        opath = (*path, op)
        fn = operators.get(op)
        if fn is not None:
            cond = fn(c, source, arg, opath)
            conds.append(cond)
            if cond is not None:
                named.append((op, cond))
            continue
        alias = c.vocabulary.aliases.get(op.lower())
        hint = f"did you mean `{alias}`?" if alias else did_you_mean(op, operators)
        c.error(
            Code.UNKNOWN_OPERATOR,
            f"`{op}` is not an operator",
            opath,
            key=True,
            help=(hint + " " if hint else "") + "operators: " + ", ".join(operators),
        )
        conds.append(None)
    clash = conflict(named)
    if clash is not None:
        a, b = clash
        c.error(
            Code.IMPOSSIBLE_CONDITION,
            f"`{name}` can never match both `{a}` and `{b}`, so rule `{c.rule_name}` never matches",
            (*path, b),
            key=True,
            help=f"keep one of `{a}` and `{b}`, or put them under `any:` if either is enough",
        )
        return None
    return _all(conds)


# -- keywords ---------------------------------------------------------------------------


def kind(c: Compiler, value: Any, path: Path_) -> Cond | None:
    """`kind: sip` or `kind: [sip, standard]`: the participant kind."""
    kinds = c.texts(value, path, "`kind`")
    if kinds is None:
        return None
    ok = True
    for i, k in enumerate(kinds):
        if k not in catalogue.KINDS:
            hint = (
                "web and app users are `standard`"
                if k.lower() in ("web", "webrtc", "app", "browser", "user")
                else did_you_mean(k.lower(), catalogue.KINDS)
            )
            c.error(
                Code.UNKNOWN_KIND,
                f"`{k}` is not a participant kind",
                (*path, i) if isinstance(value, list) else path,
                help=(hint + "; " if hint else "") + "kinds: " + ", ".join(catalogue.KINDS),
            )
            ok = False
    if not ok:
        return None
    c.kinds.update(kinds)
    return Equals(KindSource(), kinds)


def _group(cls: type[All] | type[AnyOf], name: str) -> KeywordFn:
    def compile_group(c: Compiler, value: Any, path: Path_) -> Cond | None:
        if not isinstance(value, list) or not value:
            c.error(
                Code.INVALID_CONDITION,
                f"`{name}` takes a list of conditions",
                path,
                help=f"e.g. {name}: [{{customer.tier: gold}}, {{kind: standard}}]",
            )
            return None
        parts = [compile_when(c, item, (*path, i)) for i, item in enumerate(value)]
        if any(p is None for p in parts):
            return None
        return cls([p for p in parts if p is not None])

    return compile_group


all_of = _group(All, "all")
any_of = _group(AnyOf, "any")


def not_(c: Compiler, value: Any, path: Path_) -> Cond | None:
    """`not: {...}`: the conditions do not all hold."""
    if not isinstance(value, dict) or not value:
        c.error(
            Code.INVALID_CONDITION,
            "`not` takes conditions",
            path,
            help="e.g. not: {customer.tier: gold}",
        )
        return None
    inner = compile_when(c, value, path)
    return Not(inner) if inner is not None else None
