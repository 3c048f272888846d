"""The `rules:` list: each rule's structure, its `when`, its outcome plan, or the rows of
its table file, compiled in file order."""

from __future__ import annotations

from typing import Any

from ..errors import Code
from ..model import Rule
from ..parse.document import Path_
from ..runtime.conditions import Cond
from ..runtime.rule import CompiledRule
from .outcomes import check_fields, make_plan, profile_layers
from .split import compile_split
from .state import Compiler
from .structure import validate
from .tables import expand_table
from .when import compile_when

Layers = list[tuple[str, dict[str, Any]]]


def compile_rules(c: Compiler) -> None:
    raw_rules = c.doc.data.get("rules")
    if not raw_rules and not set(c.doc.data) - {"version", "rules"}:
        # an emptied or half-saved file would give every caller no models and no words
        c.error(
            Code.EMPTY_RULES,
            "the rules file sets nothing (no rules, no `defaults:`): the worker would answer "
            "every call with no models, no instructions and no tools",
            (),
            help="run `sip-policy init` for a commented starter file, or write `defaults:` "
            "and `rules:`",
        )
        return
    if raw_rules is None:
        c.warning(
            Code.NO_RULES,
            "the file has no `rules:`; every caller gets the defaults",
            (),
            help="add rules under `rules:`",
        )
        return
    if not isinstance(raw_rules, list):
        c.error(
            Code.INVALID_VALUE,
            "`rules` must be a list, each item starting with `- name:`",
            ("rules",),
        )
        return
    for i, raw in enumerate(raw_rules):
        compile_rule(c, raw, ("rules", i))


def compile_rule(c: Compiler, raw: Any, path: Path_) -> None:
    name = raw.get("name") if isinstance(raw, dict) else None
    c.rule_name = name if isinstance(name, str) else f"#{path[-1] + 1}"  # type: ignore[operator]
    # `when` is compiled apart: the when stage knows operators and positions
    shape = {k: v for k, v in raw.items() if k != "when"} if isinstance(raw, dict) else raw
    rule = validate(c, Rule, shape, path)
    cond = compile_when(c, raw.get("when"), (*path, "when")) if isinstance(raw, dict) else None
    if rule is None:
        return
    if raw.get("when") in (None, {}) and rule.table is None and rule.enabled:
        empty_when(c, raw, path)  # the load fails; the rule's other problems still show
    line = c.doc.loc(path).line
    if rule.name in c.rule_lines:
        c.error(
            Code.DUPLICATE_RULE,
            f"two rules are named `{rule.name}` (the first at line {c.rule_lines[rule.name]})",
            (*path, "name"),
            help="give each rule its own name: decisions and logs show it",
        )
    c.rule_lines.setdefault(rule.name, line)
    profile: Layers = []
    if rule.use is not None:
        if rule.use in c.profiles:
            profile = profile_layers(c, rule.use)
        elif rule.use not in c.profile_names:
            c.unknown(
                Code.UNKNOWN_PROFILE,
                f"rule `{rule.name}` uses profile `{rule.use}`, which is not defined",
                (*path, "use"),
                rule.use,
                c.profile_names,
                "profiles",
            )
    own: Layers = []
    if rule.set is not None:
        own = [(f"rule:{rule.name}", check_fields(c, rule.set, (*path, "set")))]
    split = compile_split(c, rule, path, own) if rule.split is not None else None
    if rule.split_by is not None and rule.split is None:
        c.error(
            Code.CONFLICTING_KEYS,
            f"rule `{rule.name}` has `split_by:` but no `split:`",
            (*path, "split_by"),
            key=True,
            help="add `split:` with the variants, or drop `split_by:`",
        )
    if cond is None:
        return
    first = len(c.rules)
    if rule.table is not None:
        expand_table(c, rule, cond, path, own)
    else:
        _add(c, rule, cond, line, path, [("defaults", c.defaults), *profile, *own])
    for compiled in c.rules[first:]:
        compiled.shadow = rule.mode == "shadow"
        if split is not None:
            compiled.split = split
            compiled.plan = split.variants[0].plan


def _add(c: Compiler, rule: Rule, cond: Cond, line: int, path: Path_, layers: Layers) -> None:
    c.rules.append(
        CompiledRule(
            index=len(c.rules),
            name=rule.name,
            line=line,
            cond=cond,
            plan=make_plan(c, layers),
            enabled=rule.enabled,
            path=path,
        )
    )


def empty_when(c: Compiler, raw: dict[str, Any], path: Path_) -> None:
    """A rule without conditions would catch every caller, web visitors included: it is
    what a half-saved file leaves, so a catch-all has to be written on purpose."""
    c.error(
        Code.EMPTY_WHEN,
        f"rule `{c.rule_name}` has no conditions under `when:`, so it would match every caller",
        (*path, "when") if "when" in raw else path,
        help="write its conditions, or `when: {kind: sip}` to catch every phone caller on purpose",
    )
