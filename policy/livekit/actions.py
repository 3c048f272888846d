"""What a decision asks of the call itself, applied with livekit-agents 1.8: per-call
`AgentSession` options, instructions split for prompt caching, refusing or transferring the
call, and ending it after `max_duration`.

    session = AgentSession(**call.session_kwargs())   # includes session_options(decision)
    if await run_call_control(ctx, session, decision, participant):
        return                                         # refused or transferred: no agent
    limit_duration(session, decision)                  # after session.start

Refusing hangs up by deleting the room (every leg of the call ends, as `end_call` does);
transferring is LiveKit's cold SIP transfer (`TransferSIPParticipantRequest`, through
`JobContext.transfer_sip_participant`): the caller leaves the room for the destination.
"""

from __future__ import annotations

import asyncio
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, get_job_context, room_io
from livekit.agents.inference import is_duplex_model, is_realtime_model
from livekit.agents.llm.chat_context import Instructions
from livekit.agents.voice import SpeechHandle

from ..logs import get_logger
from ..runtime.decision import Decision
from ..sdk import session_options as catalogue_options

_log = get_logger()

#: what the LLM is asked to do when `max_duration` has no `say`
TIME_UP = (
    "The call has reached its time limit. Tell the caller politely, in one short sentence, "
    "that you have to end the call now, and say goodbye."
)

# -- per-call options -----------------------------------------------------------------------


def _as_sdk(value: Any, t: Any) -> Any:
    """A YAML value in the form the SDK's annotation asks for: lists become tuples where
    it wants a tuple (`interruption.backchannel_boundary`)."""
    if isinstance(t, dict) and "tuple" in t and isinstance(value, list):
        return tuple(value)
    if isinstance(t, dict) and "any_of" in t:
        for option in t["any_of"]:
            if isinstance(option, dict) and "tuple" in option and isinstance(value, list):
                return tuple(value)
    if isinstance(t, dict) and "keys" in t and isinstance(value, dict):
        return {k: _as_sdk(v, t["keys"].get(k)) for k, v in value.items()}
    return value


def session_options(decision: Decision) -> dict[str, Any]:
    """`AgentSession` keyword arguments for the decision's `session:` options: options of
    `TurnHandlingOptions` go under `turn_handling`, those of `STTContextOptions` under
    `stt_context_options`, the others as arguments of their own."""
    known = catalogue_options()
    kwargs: dict[str, Any] = {}
    for key, value in decision.outcome.session.items():
        option = known.get(key)
        if option is None:  # a policy compiled against another catalogue: skip, never crash
            _log.warning("policy.session_option_unknown", option=key)
            continue
        converted = _as_sdk(value, option["type"])
        if option["arg"] is None:
            kwargs[key] = converted
        else:
            kwargs.setdefault(option["arg"], {})[key] = converted
    return kwargs


#: `session:` options a running call can take on (`AgentSession.update_options`)
LIVE_SESSION = {
    "endpointing": "endpointing_opts",
    "turn_detection": "turn_detection",
    "keyterms": "keyterms",
}


def update_session(session: AgentSession[Any] | None, old: Decision, new: Decision) -> bool:
    """Apply a mid-call change of `session:` options when livekit-agents can (endpointing,
    turn detection, key terms); False when another option changed or one was removed: those
    are fixed when the session starts."""
    before, after = old.outcome.session, new.outcome.session
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    if session is None or not changed <= LIVE_SESSION.keys() or not changed <= after.keys():
        return False
    session.update_options(**{LIVE_SESSION[k]: after[k] for k in changed})
    return True


def _realtime(model: str | None) -> bool:
    return bool(model) and (is_realtime_model(str(model)) or is_duplex_model(str(model)))


def needs_handoff(old: Decision, new: Decision) -> bool:
    """The LLM changes to or from a realtime (speech-to-speech) model: a running agent
    cannot (`Agent.update_options` raises), a new agent can."""
    before, after = old.outcome.llm, new.outcome.llm
    return bool(after) and before != after and (_realtime(before) or _realtime(after))


def model_kwargs(decision: Decision) -> dict[str, Any]:
    """`Agent` keyword arguments for the decided models (the ones set)."""
    o = decision.outcome
    return {k: v for k, v in (("stt", o.stt), ("llm", o.llm), ("tts", o.tts)) if v}


def handoff(session: AgentSession[Any], agent: Agent) -> Agent:
    """Hand the call to `agent` (livekit-agents' agent handoff: the old agent's activity
    drains, the new one starts with its own models); returns it."""
    session.update_agent(agent)
    _log.info("policy.handoff", llm=str(getattr(agent.llm, "model", agent.llm)))
    return agent


def agent_instructions(decision: Decision) -> str | Instructions:
    """The instructions for `Agent(instructions=...)`: when some lines hold a caller's data,
    an `Instructions` whose static part is the same for every caller (the SDK keeps it as
    its own system message, a prefix the LLM provider can cache) and whose `dynamic` part
    holds the filled lines; else the plain text."""
    o = decision.outcome
    if not o.instructions_call:
        return o.instructions
    return Instructions(o.instructions_static, dynamic=o.instructions_call)


# -- refusing and transferring ----------------------------------------------------------------


def speak(session: AgentSession[Any], text: str) -> SpeechHandle:
    """`text` word for word with the session's TTS; without one (a realtime LLM), asked of
    the LLM."""
    if session.tts is not None:
        return session.say(text, allow_interruptions=False)
    return session.generate_reply(
        instructions=f"Say exactly this to the caller, and nothing else: {text}",
        allow_interruptions=False,
    )


async def run_call_control(
    ctx: JobContext | None,
    session: AgentSession[Any],
    decision: Decision,
    participant: rtc.RemoteParticipant,
    *,
    room: rtc.Room | None = None,
    room_options: room_io.RoomOptions | None = None,
) -> bool:
    """Refuse or transfer the call when the decision says so; True when it did (start no
    agent then). A message to say starts `session` first, with a bare agent linked to
    `participant` in `room` (None: no room audio, for tests); without one, no agent ever
    starts."""
    o = decision.outcome
    action = o.reject or o.transfer
    if action is None:
        return False
    log = _log.bind(participant=participant.identity, rule=decision.rule, action=o.action)
    if o.transfer is not None and participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        # only a phone line can be transferred: the agent answers rather than drop the caller
        log.warning("policy.call_control.not_a_phone_call")
        return False
    ctx = ctx or get_job_context()  # refusing or transferring needs the job (its API)
    if action.say:
        try:
            bare = Agent(instructions="")
            if room is not None:
                options = room_options or room_io.RoomOptions(
                    participant_identity=participant.identity
                )
                await session.start(bare, room=room, room_options=options)
            else:
                await session.start(bare)
            await speak(session, action.say).wait_for_playout()
        except Exception as exc:  # the message is a courtesy: the action goes ahead anyway
            log.warning("policy.call_control.say_failed", error=str(exc))
    if o.transfer is not None:
        try:
            await transfer(ctx, participant, o.transfer.to)
        except Exception as exc:  # refused by the trunk, busy, no permission: hang up
            log.error(
                "policy.call_control.transfer_failed", transfer_to=o.transfer.to, error=str(exc)
            )
            await hang_up(ctx, "transfer_failed")
            return True
        log.info("policy.call_control.transferred", transfer_to=o.transfer.to)
        ctx.shutdown(reason="transferred")
    else:
        log.info("policy.call_control.rejected", said=bool(action.say))
        await hang_up(ctx, "rejected")
    return True


async def transfer(ctx: JobContext, participant: rtc.RemoteParticipant, to: str) -> None:
    """A cold SIP transfer of `participant` to `to` (E.164 or `sip:` URI)."""
    await ctx.transfer_sip_participant(participant, to)


async def hang_up(ctx: JobContext, reason: str) -> None:
    """End the call for everyone: delete the room (the phone leg drops), end the job."""
    try:
        await ctx.delete_room()
    except Exception as exc:  # the call is over either way
        _log.warning("policy.call_control.hang_up_failed", error=str(exc))
    ctx.shutdown(reason=reason)


# -- max_duration -----------------------------------------------------------------------------


def limit_duration(session: AgentSession[Any], decision: Decision) -> asyncio.Task[None] | None:
    """After `max_duration`, say goodbye (the rule's words, else the LLM's), close the
    session and hang up. Cancelled when the session closes first."""
    limit = decision.outcome.max_duration
    if limit is None:
        return None
    ending = False

    async def end() -> None:
        nonlocal ending
        await asyncio.sleep(limit.seconds)
        ending = True  # from here on, the session closing is this task's own doing
        _log.info("policy.max_duration.reached", seconds=limit.seconds, rule=decision.rule)
        try:
            if limit.say:
                handle = speak(session, limit.say)
            else:
                handle = session.generate_reply(instructions=TIME_UP, allow_interruptions=False)
            await handle.wait_for_playout()
        except Exception as exc:  # the call ends anyway
            _log.warning("policy.max_duration.goodbye_failed", error=str(exc))
        job = get_job_context(required=False)
        session.shutdown()
        if job is not None:
            await hang_up(job, "max_duration")

    task = asyncio.create_task(end(), name="sip-policy-max-duration")
    session.on("close", lambda _ev: None if ending else task.cancel())
    return task


__all__ = [
    "LIVE_SESSION",
    "agent_instructions",
    "handoff",
    "hang_up",
    "limit_duration",
    "model_kwargs",
    "needs_handoff",
    "run_call_control",
    "session_options",
    "speak",
    "transfer",
    "update_session",
]
