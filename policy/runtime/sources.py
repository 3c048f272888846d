"""Where a condition reads its value: a participant attribute, the participant kind, or a
derived fact (phone facts, call direction...). One mechanism for conditions, the index and
instruction placeholders alike.

Every source follows one contract: `get(ctx)` reads the value at decision time;
`normalize(literal)` and `normalize_prefix(literal)` put a rule's literal in the form `get`
returns (E.164 for phone numbers); `literal_problem(literal, prefix)` says why a literal can
never match. Which name means which source is decided at load (`policy.compile.names`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..errors import Code
from .context import Context

FactFn = Callable[[Context], str | None]


class LiteralProblem(NamedTuple):
    """Why a literal written in a rule or table can never match, and how to fix it."""

    code: Code
    message: str
    help: str


class Source:
    """Reads one value from a decision's context; `name` is what rule editors wrote."""

    __slots__ = ("name",)
    name: str

    def get(self, ctx: Context) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def normalize(self, value: str) -> str:
        """A rule's literal as `get` would return it (identity unless the source rewrites)."""
        return value

    def normalize_prefix(self, value: str) -> str:
        """A rule's prefix literal as it compares with values `get` returns."""
        return value

    def literal_problem(self, value: str, prefix: bool = False) -> LiteralProblem | None:
        """Why `value` (a prefix when `prefix`) can never match this source; None when fine."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Source) and type(other) is type(self) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)  # equal sources have equal names (no tuple: hashed per rule at load)


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


class Fact(NamedTuple):
    """A derived fact that rules and placeholders can name."""

    name: str
    description: str
    fn: FactFn


class FactSource(Source):
    """A fact derived from the attributes, computed once per decision."""

    __slots__ = ("fn",)

    def __init__(self, fact: Fact) -> None:
        self.name = fact.name
        self.fn = fact.fn

    def get(self, ctx: Context) -> str | None:
        return ctx.derived(self.name, self.fn)


def _direction(ctx: Context) -> str | None:
    if ctx.kind != "sip":
        return None
    return "inbound" if ctx.attr("sip.ruleID") else "outbound"


def _status(ctx: Context) -> str | None:
    return ctx.attr("sip.callStatus")


#: Facts about the call itself (phone facts are in `policy.runtime.phone`).
CALL_FACTS = (
    Fact(
        "call.direction",
        "`inbound` when LiveKit dispatched the call by a rule (`sip.ruleID` is set), else "
        "`outbound`",
        _direction,
    ),
    Fact("call.status", "`sip.callStatus`: dialing, ringing, automation, active, hangup", _status),
)
