"""The words a `when:` may use, filled in one place: to add an operator or a keyword, write
its compile function in the module of its kind and list it here (docs/architecture.md)."""

from __future__ import annotations

from . import expr, operators, phone, schedules, when
from .state import Vocabulary

VOCABULARY = Vocabulary(
    operators={
        "equals": operators.equals,
        "one_of": operators.one_of,
        "prefix": operators.prefix,
        "suffix": operators.suffix,
        "contains": operators.contains,
        "regex": operators.regex,
        "exists": operators.exists,
        "missing": operators.missing,
        "country": phone.country,
        "type": phone.type_,
        "valid": phone.valid,
        "withheld": phone.withheld,
        "area": phone.area,
    },
    keywords={
        "kind": when.kind,
        "all": when.all_of,
        "any": when.any_of,
        "not": when.not_,
        "expr": expr.compile_expr,
        "during": schedules.during,
        "outside": schedules.outside,
    },
    aliases=operators.ALIASES,
)
