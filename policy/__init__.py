"""sip-policy: declarative per-call policy for LiveKit voice agents.

    import policy
    rules = policy.load("rules.yaml")
    decision = rules.decide(participant.attributes, kind="sip")
    decision.rule, decision.outcome.stt, decision.outcome.instructions, decision.outcome.tools

The pipe: `parse` (text with positions) → `compile` (stages, in order) → `runtime`
(`Policy.decide`) → `explain` and `logs`. This package never imports livekit;
`policy.livekit` is the adapter that does. See docs/architecture.md.
"""

from .compile import load, loads
from .errors import Diagnostic, Location, PolicyError
from .runtime.decision import Check, Decision, EvalError, Outcome, TraceStep
from .runtime.engine import Policy

__all__ = [
    "Check",
    "Decision",
    "Diagnostic",
    "EvalError",
    "Location",
    "Outcome",
    "Policy",
    "PolicyError",
    "TraceStep",
    "load",
    "loads",
]
__version__ = "0.1.0"
