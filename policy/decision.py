"""What `Policy.decide` returns: the outcome for the call, the rule that chose it, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OUTCOME_FIELDS = ("stt", "llm", "tts", "instructions", "tools", "greeting", "metadata")


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
        actual = "missing" if self.actual is None else f"`{_short(self.actual)}`"
        return f"`{self.attribute}` is {actual}, expected {self.expected}"


@dataclass(slots=True)
class TraceStep:
    """One rule that was tried, in order. `failed` is set when the rule did not match and the
    trace was asked for in detail (`Policy.explain`); `error` when a condition raised."""

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


@dataclass(slots=True)
class Decision:
    """The decision for one participant: the rule (None when no rule matched and the
    defaults apply), the outcome, the trace of rules tried, the policy revision, any
    evaluation errors met, the derived facts used, and the time it took.

    Treat it as read-only (it is not frozen only because a frozen dataclass costs
    microseconds to build; the `Outcome` it holds is frozen and shared)."""

    rule: str | None
    outcome: Outcome
    trace: tuple[TraceStep, ...]
    revision: str
    errors: tuple[str, ...] = ()
    facts: Mapping[str, str | None] = field(default_factory=dict)
    elapsed_us: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome.to_dict(),
            "trace": [s.to_dict() for s in self.trace],
            "facts": dict(self.facts),
            "errors": list(self.errors),
            "revision": self.revision,
            "elapsed_us": round(self.elapsed_us, 1),
        }


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
