"""Where a condition reads its value: a participant attribute, the participant kind, or a
derived fact (phone facts, call direction...). One mechanism for conditions, the index and
instruction placeholders alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .context import Context

FactFn = Callable[[Context], str | None]


class Source:
    """Reads one value from a decision's context; `name` is what rule editors wrote."""

    __slots__ = ("name",)
    name: str

    def get(self, ctx: Context) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Source) and type(other) is type(self) and other.name == self.name

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))


class AttrSource(Source):
    """A participant attribute, as text (None when missing or empty)."""

    __slots__ = ()

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self, ctx: Context) -> str | None:
        return ctx.attr(self.name)


class KindSource(Source):
    """The participant kind: sip, standard, connector, agent, ingress, egress, bridge."""

    __slots__ = ()

    def __init__(self) -> None:
        self.name = "kind"

    def get(self, ctx: Context) -> str | None:
        return ctx.kind


class FactSource(Source):
    """A fact derived from the attributes, computed once per decision."""

    __slots__ = ("fn",)

    def __init__(self, name: str, fn: FactFn) -> None:
        self.name = name
        self.fn = fn

    def get(self, ctx: Context) -> str | None:
        return ctx.derived(self.name, self.fn)


@dataclass(frozen=True)
class Fact:
    """A derived fact that rules and placeholders can name."""

    name: str
    description: str
    fn: FactFn


#: Derived facts by name. Modules that know how to derive facts register them here.
FACTS: dict[str, Fact] = {}


def register_fact(name: str, description: str) -> Callable[[FactFn], FactFn]:
    def deco(fn: FactFn) -> FactFn:
        FACTS[name] = Fact(name, description, fn)
        return fn

    return deco


def _direction(ctx: Context) -> str | None:
    if ctx.kind != "sip":
        return None
    return "inbound" if ctx.attr("sip.ruleID") else "outbound"


register_fact(
    "call.direction",
    "`inbound` when LiveKit dispatched the call by a rule (`sip.ruleID` is set), else `outbound`",
)(_direction)
register_fact("call.status", "`sip.callStatus`: dialing, ringing, automation, active, hangup")(
    lambda ctx: ctx.attr("sip.callStatus")
)


#: Functions that may claim a name before facts and attributes: `(name, settings)` → a
#: source or None. `policy.phone` claims phone attributes (compared in E.164) this way.
SOURCE_HOOKS: list[Callable[[str, object | None], Source | None]] = []


def source_for(name: str, settings: object | None = None) -> Source:
    """The source a rule means by `name`: a derived fact when one has that name, the kind for
    `kind`, else the attribute of that name."""
    if name == "kind":
        return KindSource()
    for hook in SOURCE_HOOKS:
        claimed = hook(name, settings)
        if claimed is not None:
            return claimed
    fact = FACTS.get(name)
    if fact is not None:
        return FactSource(name, fact.fn)
    return AttrSource(name)
