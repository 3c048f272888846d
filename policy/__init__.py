"""sip-policy: declarative per-call policy for LiveKit voice agents.

    import policy
    rules = policy.load("rules.yaml")
    decision = rules.decide(participant.attributes, kind="sip")
    decision.rule, decision.outcome.stt, decision.outcome.instructions, decision.outcome.tools

This package never imports livekit; `policy.livekit` is the adapter that does.
"""

from .decision import Check, Decision, Outcome, TraceStep
from .engine import Policy
from .errors import Diagnostic, Location, PolicyError
from .loader import load, loads

__all__ = [
    "Check",
    "Decision",
    "Diagnostic",
    "Location",
    "Outcome",
    "Policy",
    "PolicyError",
    "TraceStep",
    "load",
    "loads",
]
__version__ = "0.1.0"
