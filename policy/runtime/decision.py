"""What `Policy.decide` returns: the outcome for the call, the rule that chose it, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

OUTCOME_FIELDS = (
    "stt",
    "llm",
    "tts",
    "instructions",
    "tools",
    "greeting",
    "metadata",
    "session",
    "reject",
    "transfer",
    "transfer_to",
    "max_duration",
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Reject(NamedTuple):
    """Refuse the call: say `say` (None: nothing), then hang up."""

    say: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"say": self.say}


class Transfer(NamedTuple):
    """A cold SIP transfer to `to` (E.164 or `sip:` URI), announced by `say` if given."""

    to: str
    say: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"to": self.to, "say": self.say}


class MaxDuration(NamedTuple):
    """End the call after `seconds`: say `say` word for word, else let the LLM say goodbye."""

    seconds: float
    say: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "say": self.say}


@dataclass(frozen=True)
class Outcome:
    """The agent set-up for one call. `sources` says where each field came from:
    `defaults`, `profile:NAME` or `rule:NAME`."""

    stt: str | None = None
    llm: str | None = None
    tts: str | None = None
    instructions: str = ""
    tools: tuple[str, ...] = ()
    greeting: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    #: per-call `AgentSession` options, as the rules name them (`policy.livekit.actions`
    #: turns them into keyword arguments)
    session: Mapping[str, Any] = field(default_factory=dict)
    reject: Reject | None = None
    transfer: Transfer | None = None
    #: where the `transfer_to_human` tool sends the caller
    transfer_to: str | None = None
    max_duration: MaxDuration | None = None
    #: `instructions` split for prompt caching: the lines without a placeholder (the same
    #: for every caller), and the lines with one, filled for this caller ("" when none)
    instructions_static: str = ""
    instructions_call: str = ""

    def with_text(self, instructions: str, call: str, greeting: str | None) -> Outcome:
        """A copy with this caller's filled text. Plans keep one outcome per rule and copy it
        per decision: the frozen `__init__` would set each of the fields one by one."""
        new = object.__new__(Outcome)
        fields = new.__dict__
        fields.update(self.__dict__)
        fields["instructions"] = instructions
        fields["instructions_call"] = call
        fields["greeting"] = greeting
        return new

    @property
    def action(self) -> str | None:
        """`reject` or `transfer` when the call is not handed to an agent, else None."""
        return "reject" if self.reject else "transfer" if self.transfer else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stt": self.stt,
            "llm": self.llm,
            "tts": self.tts,
            "instructions": self.instructions,
            "tools": list(self.tools),
            "greeting": self.greeting,
            "metadata": dict(self.metadata),
            "sources": dict(self.sources),
            "session": dict(self.session),
            "action": self.action,
            "reject": self.reject.to_dict() if self.reject else None,
            "transfer": self.transfer.to_dict() if self.transfer else None,
            "transfer_to": self.transfer_to,
            "max_duration": self.max_duration.to_dict() if self.max_duration else None,
            "instructions_per_call": self.instructions_call,
        }


@dataclass(frozen=True)
class Check:
    """Why a rule did not match: the first condition that failed."""

    attribute: str
    actual: str | None
    expected: str

    def to_dict(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "actual": self.actual, "expected": self.expected}

    def __str__(self) -> str:
        actual = "missing" if self.actual is None else f"`{short(self.actual)}`"
        return f"`{self.attribute}` is {actual}, expected {self.expected}"


class EvalError(NamedTuple):
    """A problem met while deciding (it made its condition false, it never raises).
    `rule` is the rule being tried (None for facts, shared by every rule); `code` is one of
    `expr`, `fact`, `condition`, `attributes`, `outcome`; `detail` says what happened."""

    rule: str | None
    code: str
    detail: str

    def __str__(self) -> str:
        return self.detail

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "code": self.code, "detail": self.detail}


class TraceStep(NamedTuple):
    """One rule that was tried, in order (`Policy.explain` only). `failed` is the first
    condition that failed; `error` is set when a condition met an error, or `disabled`."""

    rule: str
    matched: bool
    failed: Check | None = None
    error: str | None = None
    line: int = 0
    file: str | None = None  # set when the rule is a row of a table file

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "matched": self.matched,
            "line": self.line,
            "file": self.file,
            "failed": self.failed.to_dict() if self.failed else None,
            "error": self.error,
        }


class ShadowMatch(NamedTuple):
    """A `mode: shadow` rule that holds for the caller and comes before the rule that
    decided: it would decide if switched on, with this outcome (and variant)."""

    rule: str
    outcome: Outcome
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "variant": self.variant, "outcome": self.outcome.to_dict()}


class Decision(NamedTuple):
    """The decision for one participant: the rule (None when no rule matched and the
    defaults apply), the outcome, the trace of rules tried (`explain` only; `decide` keeps
    none), the policy revision, the errors met, the derived facts used, and the time taken.

    Immutable: a named tuple, which costs no more to build than a plain object."""

    rule: str | None
    outcome: Outcome
    trace: tuple[TraceStep, ...]
    revision: str
    errors: tuple[EvalError, ...] = ()
    facts: Mapping[str, str | None] = _EMPTY
    elapsed_us: float = 0.0
    variant: str | None = None
    would_match: tuple[ShadowMatch, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "variant": self.variant,
            "would_match": [m.to_dict() for m in self.would_match],
            "outcome": self.outcome.to_dict(),
            "trace": [s.to_dict() for s in self.trace],
            "facts": dict(self.facts),
            "errors": [e.to_dict() for e in self.errors],
            "revision": self.revision,
            "elapsed_us": round(self.elapsed_us, 1),
        }


def short(value: str, limit: int = 60) -> str:
    """`value` cut to `limit` characters with an ellipsis, for messages."""
    return value if len(value) <= limit else value[: limit - 1] + "…"
