"""`sip-policy diff`: what an edit to the rules changes, for callers the test cases cover
and callers they do not (generated from both policies' conditions), and for recorded
calls. Never imports livekit."""

from .callers import Caller, make_caller
from .compare import Change, Diff, Move, Recorded, compare

__all__ = ["Caller", "Change", "Diff", "Move", "Recorded", "compare", "make_caller"]
