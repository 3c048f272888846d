"""`turn_detection: realtime_llm` asks the LLM when the caller's turn ends, which only a
realtime (speech-to-speech) model can answer: `check` warns where it is set for callers
whose LLM is not one. (Mixing realtime and pipeline LLMs across rules is fine: a caller who
moves from one to the other mid-call is handed to a new agent by the worker.)"""

from __future__ import annotations

from ..errors import Code
from ..parse.document import Path_
from ..runtime.outcome import Plan
from .catalogue import is_realtime
from .state import Compiler


def _where(origin: str, rule_path: Path_) -> Path_:
    """The block a plan's field came from (`defaults`, `profile:NAME`, `rule:NAME`)."""
    if origin.startswith("profile:"):
        return ("profiles", origin.removeprefix("profile:"))
    if origin.startswith("rule:"):
        return (*rule_path, "set")
    return ("defaults",)


def warn_realtime(c: Compiler) -> None:
    """Warn once per place that sets `turn_detection: realtime_llm` for callers without a
    realtime LLM."""
    plans: list[tuple[Plan, Path_]] = []
    if c.default_plan is not None:
        plans.append((c.default_plan, ()))
    plans += [(r.plan, r.path) for r in c.rules if r.enabled]
    reported: set[Path_] = set()
    for plan, rule_path in plans:
        if plan.base.session.get("turn_detection") != "realtime_llm" or is_realtime(plan.base.llm):
            continue
        origin = plan.base.sources.get("session.turn_detection", "defaults")
        path = (*_where(origin, rule_path), "session", "turn_detection")
        if path in reported:
            continue
        reported.add(path)
        c.warning(
            Code.REALTIME_LLM,
            "`turn_detection: realtime_llm` needs a realtime LLM, and "
            + (f"`{plan.base.llm}` is not one" if plan.base.llm else "no `llm` is set"),
            path,
            help="use `stt` or `vad` turn detection with a pipeline LLM, or a realtime `llm` "
            "such as openai/gpt-realtime",
        )
