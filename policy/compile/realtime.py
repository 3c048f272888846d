"""A realtime (speech-to-speech) LLM cannot be swapped to or from a pipeline LLM during a
call (livekit-agents 1.8 `Agent.update_options` takes an `LLM` for the next reply, not a
`RealtimeModel`): when the rules give some callers one kind and others the other, `check`
says so where the realtime model is chosen, since a caller whose attributes change
mid-call keeps the LLM it started with."""

from __future__ import annotations

from ..errors import Code
from ..parse.document import Path_
from ..runtime.outcome import Plan
from .catalogue import is_realtime
from .state import Compiler


def _where(origin: str, rule_path: Path_) -> Path_:
    """The `llm:` a plan's LLM came from (`defaults`, `profile:NAME`, `rule:NAME`)."""
    if origin.startswith("profile:"):
        return ("profiles", origin.removeprefix("profile:"), "llm")
    if origin.startswith("rule:"):
        return (*rule_path, "set", "llm")
    return ("defaults", "llm")


def warn_realtime(c: Compiler) -> None:
    """Warn once per place that picks a realtime LLM when other callers get a pipeline one
    (or another realtime model), and where `turn_detection: realtime_llm` has no realtime
    LLM to ask."""
    plans: list[tuple[Plan, Path_]] = []
    if c.default_plan is not None:
        plans.append((c.default_plan, ()))
    plans += [(r.plan, r.path) for r in c.rules if r.enabled]
    models = {p.llm for p, _ in plans if p.llm}
    realtime = {m for m in models if is_realtime(m)}
    mixed = bool(realtime) and (len(realtime) > 1 or len(models) > len(realtime))
    reported: set[tuple[str | int, ...]] = set()
    for plan, rule_path in plans:
        where = _where(plan.sources.get("llm", "defaults"), rule_path)
        if mixed and plan.llm in realtime and where not in reported:
            reported.add(where)
            others = sorted(models - {plan.llm})
            c.warning(
                Code.REALTIME_LLM,
                f"`{plan.llm}` is a realtime LLM, and other callers get "
                + ", ".join(f"`{m}`" for m in others[:3])
                + ": a running call cannot change to or from a realtime LLM, so a caller "
                "whose attributes change mid-call keeps the LLM the call started with",
                where,
                help="give these callers the same kind of LLM if they may change mid-call; "
                "the worker logs the change as `not_applied: [llm]`",
            )
        detection = plan.session.get("turn_detection")
        if detection == "realtime_llm" and not is_realtime(plan.llm):
            origin = plan.sources.get("session.turn_detection", "defaults")
            path = (*_where(origin, rule_path)[:-1], "session", "turn_detection")
            if path not in reported:
                reported.add(path)
                c.warning(
                    Code.REALTIME_LLM,
                    "`turn_detection: realtime_llm` needs a realtime LLM, and "
                    + (f"`{plan.llm}` is not one" if plan.llm else "no `llm` is set"),
                    path,
                    help="use `stt` or `vad` turn detection with a pipeline LLM",
                )
