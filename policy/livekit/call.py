"""One call: wait for the caller, decide, run the agent, follow the caller's changes.

Nothing is lost between the decision and the end of the call:
- the caller's attribute changes and departure are followed from before the decision;
- changes within `COALESCE` seconds make one re-decision, and models are swapped at most once
  every `MODEL_SWAP_INTERVAL` seconds (each STT swap restarts recognition);
- a new decision is applied whole or not at all: the new tools and models are built first,
  then swapped in; if anything fails the old set-up stays whole and `policy.update_refused`
  says why;
- the wait for the caller has a timeout and ends when the room disconnects;
- an outbound callee is greeted once they answer (`sip.callStatus` becomes `active`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, get_job_context, llm, room_io
from livekit.agents.utils import is_given
from livekit.agents.voice import SpeechHandle

from ..capture import record_decision
from ..logs import changed_fields, get_logger, install_stdlib_masking, log_change, log_decision
from ..runtime.decision import Decision
from ..runtime.engine import Policy, kind_name
from ..tools import ToolRegistry
from ..watch import PolicyHolder
from . import actions

#: Who counts as the caller by default: livekit-agents' own default participant kinds.
CALLER_KINDS: tuple[str, ...] = ("sip", "connector", "standard")
#: Outcome fields a running call can take on; the others are fixed at the start.
LIVE_FIELDS: tuple[str, ...] = ("instructions", "tools", "stt", "llm", "tts")
MODEL_FIELDS: tuple[str, ...] = ("stt", "llm", "tts")
#: Seconds to wait for the caller to join before the job ends.
CALLER_TIMEOUT = 30.0
#: Attribute changes within this many seconds make one re-decision.
COALESCE = 0.3
#: At most one model swap this many seconds.
MODEL_SWAP_INTERVAL = 2.0

ToolList = list[llm.Tool | llm.Toolset]

_calls: weakref.WeakKeyDictionary[AgentSession[Any], PolicyCall] = weakref.WeakKeyDictionary()


class UpdateRefused(Exception):
    """A new decision that cannot be applied whole; the old set-up stays."""


# -- participants -------------------------------------------------------------------------


def participant_kind(participant: rtc.Participant) -> str:
    """`sip`, `standard`, `connector`... by enum name, never by number (the server and the
    SDK number CONNECTOR and BRIDGE differently)."""
    try:
        return kind_name(rtc.ParticipantKind.Name(participant.kind))
    except (ValueError, TypeError):
        return "unknown"


def caller_attributes(participant: rtc.Participant) -> dict[str, str]:
    """A plain copy of the participant's attributes (every value a string)."""
    attrs = participant.attributes
    if not isinstance(attrs, Mapping):  # the console's mock participant
        return {}
    return {str(k): str(v) for k, v in attrs.items()}


def participant_facts(participant: rtc.Participant) -> tuple[dict[str, str], str]:
    """(attributes, kind name): what `Policy.decide` takes."""
    return caller_attributes(participant), participant_kind(participant)


def caller_kinds(policy: Policy) -> tuple[str, ...]:
    """`CALLER_KINDS` plus any kind the policy names in a `when: {kind: ...}`."""
    return tuple(dict.fromkeys((*CALLER_KINDS, *sorted(policy.kinds()))))


def kind_values(kinds: Iterable[str]) -> list[rtc.ParticipantKind.ValueType]:
    """livekit's `ParticipantKind` values for kind names (unknown names are skipped)."""
    out = []
    for kind in kinds:
        try:
            out.append(rtc.ParticipantKind.Value(f"PARTICIPANT_KIND_{kind.upper()}"))
        except ValueError:
            continue
    return out


async def wait_for_caller(
    room: rtc.Room, kinds: Iterable[str] = CALLER_KINDS, *, timeout: float | None = CALLER_TIMEOUT
) -> rtc.RemoteParticipant | None:
    """The first remote participant of one of `kinds`, already in the room or joining;
    None when nobody came within `timeout` seconds or the room disconnected."""
    wanted = set(kinds)
    loop = asyncio.get_running_loop()
    found: asyncio.Future[rtc.RemoteParticipant | None] = loop.create_future()

    def on_join(p: rtc.RemoteParticipant) -> None:
        if participant_kind(p) in wanted and not found.done():
            found.set_result(p)

    def on_state(state: int) -> None:
        if state == rtc.ConnectionState.CONN_DISCONNECTED and not found.done():
            found.set_result(None)

    def on_disconnected(*_: Any) -> None:
        if not found.done():
            found.set_result(None)

    room.on("participant_connected", on_join)
    room.on("connection_state_changed", on_state)
    room.on("disconnected", on_disconnected)
    try:
        for p in list(room.remote_participants.values()):
            on_join(p)
        try:
            return await asyncio.wait_for(asyncio.shield(found), timeout)
        except TimeoutError:
            return None
    finally:
        room.off("participant_connected", on_join)
        room.off("connection_state_changed", on_state)
        room.off("disconnected", on_disconnected)


def resolve_tools(registry: ToolRegistry, names: Iterable[str]) -> ToolList:
    """The livekit tools for `names`; raises `UnknownToolError` listing every unknown name."""
    wanted = list(dict.fromkeys(names))
    tools: ToolList = []
    for name, tool in zip(wanted, registry.resolve(wanted), strict=True):
        if not isinstance(tool, (llm.Tool, llm.Toolset)):
            raise TypeError(
                f"tool `{name}` is a {type(tool).__name__}, not a livekit tool: decorate it "
                "with @function_tool"
            )
        tools.append(tool)
    return tools


def is_outbound(attributes: Mapping[str, str], kind: str) -> bool:
    """A call LiveKit dialled out (no dispatch rule): `sip` without `sip.ruleID`."""
    return kind == "sip" and not attributes.get("sip.ruleID")


# -- one call -----------------------------------------------------------------------------


class PolicyCall:
    """One caller, the decision for them, and the agent that runs it.

    The caller is followed (attribute changes, departure) from construction, before the
    decision is made and logged (`policy.decision`). After `start`, changes re-decide with
    the newest policy and apply what changed, whole or not at all.
    """

    def __init__(
        self,
        holder: PolicyHolder,
        registry: ToolRegistry,
        participant: rtc.RemoteParticipant,
        *,
        room: rtc.Room | None = None,
        job_id: str = "",
        logger: Any = None,
        coalesce: float = COALESCE,
        model_swap_interval: float = MODEL_SWAP_INTERVAL,
    ) -> None:
        self.holder = holder
        self.registry = registry
        self.participant = participant
        self.room = room
        self.job_id = job_id
        self.coalesce = coalesce
        self.model_swap_interval = model_swap_interval
        self.session: AgentSession[Any] | None = None
        self.agent: Agent | None = None
        self.caller_left = False
        self.greeted = False
        self.redecisions = 0
        self.model_swaps = 0
        self._log = logger or get_logger()
        self._dirty = False
        self._pending: asyncio.Task[None] | None = None
        self._started = False
        self._greet_when_answered = False
        self._closed = False
        self._next_swap = 0.0
        self._follow()  # before deciding: a change from now on is never lost
        attributes, self.kind = participant_facts(participant)
        self.attributes = attributes
        self.decision: Decision = holder.decide(attributes, self.kind)
        self._log_decision(attributes)
        record_decision(holder.current, self.decision, attributes, self.kind)  # opt-in capture
        self.tools()  # an unregistered tool fails here, before any audio

    def _log_decision(self, attributes: dict[str, str]) -> None:
        log_decision(
            self.decision,
            identity=self.participant.identity,
            kind=self.kind,
            attributes=attributes,
            job_id=self.job_id,
            room=self.room.name if self.room is not None else None,
            declared=self.holder.current.declared,
            logger=self._log,
        )

    @classmethod
    async def join(
        cls,
        ctx: JobContext,
        holder: PolicyHolder,
        registry: ToolRegistry,
        *,
        kinds: Iterable[str] | None = None,
        timeout: float | None = CALLER_TIMEOUT,
        **kwargs: Any,
    ) -> PolicyCall | None:
        """Connect, wait for the caller, decide. None (and the job shut down) when the
        caller never came, the room disconnected, or the caller left before the decision."""
        install_stdlib_masking()
        await ctx.connect()
        kinds = tuple(kinds or caller_kinds(holder.current))
        caller = await wait_for_caller(ctx.room, kinds, timeout=timeout)
        if caller is None or caller.identity not in ctx.room.remote_participants:
            reason = "the caller never arrived" if caller is None else "the caller left"
            get_logger().info("policy.no_caller", reason=reason, job_id=ctx.job.id)
            ctx.shutdown(reason=reason)
            return None
        return cls(holder, registry, caller, room=ctx.room, job_id=ctx.job.id, **kwargs)

    # -- what the decision asks for --------------------------------------------------------

    def session_kwargs(self) -> dict[str, Any]:
        """`AgentSession` keyword arguments: the decided `stt`, `llm`, `tts` model strings
        (LiveKit Inference `provider/model[:language]`); fields the policy leaves empty are
        left out, so your own defaults apply."""
        return actions.session_options(self.decision) | actions.model_kwargs(self.decision)

    def tools(self) -> ToolList:
        return resolve_tools(self.registry, self.decision.outcome.tools)

    def agent_kwargs(self) -> dict[str, Any]:
        """`Agent` keyword arguments: instructions and the resolved tools."""
        instructions = actions.agent_instructions(self.decision)  # cacheable static part
        return {"instructions": instructions, "tools": self.tools()}

    def build_agent(self, agent_cls: type[Agent] = Agent, **kwargs: Any) -> Agent:
        """An agent (of your own `Agent` subclass if you like) with the decided set-up."""
        return agent_cls(**{**self.agent_kwargs(), **kwargs})

    def room_options(self, **kwargs: Any) -> room_io.RoomOptions:
        """`RoomOptions` linked to this caller, accepting the kinds the rules name."""
        kinds = caller_kinds(self.holder.current)
        return room_io.RoomOptions(
            participant_identity=self.participant.identity,
            participant_kinds=kind_values(kinds),
            **kwargs,
        )

    # -- running ---------------------------------------------------------------------------

    async def start(
        self,
        session: AgentSession[Any],
        agent: Agent | None = None,
        *,
        room_options: room_io.RoomOptions | None = None,
        link_room: bool = True,
        greet: bool = True,
    ) -> bool:
        """Start `session` with the decided agent, linked to the caller; greet (an outbound
        callee once they answer); apply changes that came since the decision. False, and
        nothing started, when the caller has already left. `link_room=False` runs without
        room audio (tests, text-only sessions) but still follows the room's events."""
        if self.caller_left:
            self._log.info("policy.caller_left", participant=self.identity, job_id=self.job_id)
            self.close()
            return False
        self.session = session
        options = room_options or self.room_options()
        if await actions.run_call_control(  # `reject:` or `transfer:` instead of an agent
            get_job_context(required=False),
            session,
            self.decision,
            self.participant,
            room=self.room if link_room else None,
            room_options=options,
        ):
            self.close()
            return False
        self.agent = agent or self.build_agent()
        _calls[session] = self
        if link_room and self.room is not None:
            await session.start(self.agent, room=self.room, room_options=options)
        else:
            await session.start(self.agent)
        session.on("close", lambda _ev: self.close())
        actions.limit_duration(session, self.decision)  # `max_duration`
        self._started = True
        self._greet_when_answered = greet
        if greet:
            self.greet_when_answered()
        if self._dirty:
            self._schedule()
        return True

    def greet_when_answered(self) -> SpeechHandle | None:
        """Greet now, unless this is an outbound call still ringing: then greet once when
        `sip.callStatus` becomes `active`."""
        status = self.attributes.get("sip.callStatus")
        if is_outbound(self.attributes, self.kind) and status not in (None, "active"):
            return None
        return self.greet()

    def greet(self) -> SpeechHandle | None:
        """Say the decided greeting (once): word for word with a TTS, else through the LLM."""
        greeting = self.decision.outcome.greeting
        if self.greeted or not greeting or self.session is None or self._closed:
            return None
        self.greeted = True
        if self.session.tts is not None:
            return self.session.say(greeting)
        return self.session.generate_reply(instructions=f"Greet the caller with: {greeting}")

    def _follow(self) -> None:
        if self.room is None:
            return
        self.room.on("participant_attributes_changed", self._on_attributes_changed)
        self.room.on("participant_disconnected", self._on_disconnected)

    def close(self) -> None:
        """Stop following the caller (the session closed or the caller left)."""
        if self._closed:
            return
        self._closed = True
        if self.room is not None:
            self.room.off("participant_attributes_changed", self._on_attributes_changed)
            self.room.off("participant_disconnected", self._on_disconnected)
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()

    def _on_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.participant.identity:
            self.caller_left = True
            self.close()

    def _on_attributes_changed(
        self, _changed: Mapping[str, str], participant: rtc.Participant
    ) -> None:
        if self._closed or participant.identity != self.participant.identity:
            return
        if isinstance(participant, rtc.RemoteParticipant):
            self.participant = participant
        self._dirty = True  # a burst of changes collapses into one re-decision
        if self._started:
            self._schedule()

    def _schedule(self) -> None:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._drain(), name="sip-policy-reevaluate")

    async def _drain(self) -> None:
        while self._dirty and not self._closed:
            await asyncio.sleep(self.coalesce)
            self._dirty = False
            try:
                await self.reevaluate()
            except Exception:
                self._log.exception("policy.reevaluate_failed", participant=self.identity)

    async def settled(self) -> None:
        """Wait until pending re-evaluations are done (for tests and shutdown)."""
        while self._pending is not None and not self._pending.done():
            await asyncio.wait({self._pending})

    @property
    def identity(self) -> str:
        return self.participant.identity

    async def reevaluate(self) -> bool:
        """Decide again with the caller's current attributes and the newest valid policy;
        apply what changed, whole or not at all, and log it. True when the outcome changed."""
        await self.holder.refresh()
        attributes, kind = participant_facts(self.participant)
        self.attributes = attributes
        new = self.holder.decide(attributes, kind)
        self.redecisions += 1
        old = self.decision
        changed = changed_fields(old, new)
        if self._greet_when_answered and not self.greeted:
            self.greet_when_answered()
        if not changed and new.rule == old.rule:
            return False
        wait = self._next_swap - time.monotonic()
        if wait > 0 and any(f in MODEL_FIELDS for f in changed):
            self._dirty = True  # rate-limited: decide again (with the latest) once allowed
            await asyncio.sleep(wait)
            return False
        try:
            applied, not_applied = await self.apply(old, new, changed)
        except UpdateRefused as why:
            self._log.warning(
                "policy.update_refused",
                participant=self.identity,
                rule=new.rule,
                kept_rule=old.rule,
                revision=new.revision,
                reason=str(why),
                job_id=self.job_id,
            )
            return False
        self.decision = new
        log_change(
            old,
            new,
            identity=self.identity,
            kind=kind,
            attributes=attributes,
            applied=applied,
            not_applied=not_applied,
            job_id=self.job_id,
            declared=self.holder.current.declared,
            logger=self._log,
        )
        return bool(changed)

    async def apply(
        self, old: Decision, new: Decision, changed: list[str]
    ) -> tuple[list[str], list[str]]:
        """Apply `new` to the running agent in one step: build everything first, then swap;
        on any failure restore the old set-up whole and raise `UpdateRefused`. A change to or
        from a realtime LLM is a handoff to a new agent. Returns (applied, not applied by
        design) field names."""
        if self.agent is not None and self.session is not None and actions.needs_handoff(old, new):
            applied, not_applied = self._handoff(self.agent, self.session, new, changed)
        else:
            applied, not_applied = await self._apply_live(new, changed)
        # tools read `transfer_to` from the decision; some session options change mid-call
        extra = [
            f
            for f in not_applied
            if f == "transfer_to"
            or (f == "session" and actions.update_session(self.session, old, new))
        ]
        return applied + extra, [f for f in not_applied if f not in extra]

    def _handoff(
        self, agent: Agent, session: AgentSession[Any], new: Decision, changed: list[str]
    ) -> tuple[list[str], list[str]]:
        """A new agent of the same class with `new`'s set-up and the conversation so far."""
        try:
            successor = type(agent)(
                instructions=actions.agent_instructions(new),
                tools=resolve_tools(self.registry, new.outcome.tools),
                chat_ctx=agent.chat_ctx.copy(),
                **actions.model_kwargs(new),
            )
            self.agent = actions.handoff(session, successor)
        except Exception as exc:  # e.g. an Agent subclass that takes no such arguments
            raise UpdateRefused(f"the handoff to a new agent failed: {exc}") from None
        live = [f for f in changed if f in LIVE_FIELDS]
        return live, [f for f in changed if f not in live]

    async def _apply_live(self, new: Decision, changed: list[str]) -> tuple[list[str], list[str]]:
        """The live fields, swapped in one step (see `apply`)."""
        agent = self.agent
        live = [f for f in changed if f in LIVE_FIELDS and agent is not None]
        not_applied = [f for f in changed if f not in live]
        o = new.outcome
        models = {f: getattr(o, f) for f in live if f in MODEL_FIELDS and getattr(o, f)}
        not_applied += [f for f in live if f in MODEL_FIELDS and f not in models]  # clearing
        if agent is None or not live:
            return [], not_applied
        try:
            tools = resolve_tools(self.registry, o.tools) if "tools" in live else None
        except Exception as exc:
            raise UpdateRefused(f"the new tools cannot be built: {exc}") from None
        before = (agent.instructions, list(agent.tools), *self._models_in_use(agent))
        try:
            if tools is not None:
                await agent.update_tools(tools)
            if "instructions" in live:
                await agent.update_instructions(o.instructions)
            if models:  # last: livekit checks a model swap whole before making it
                agent.update_options(**models)
                self.model_swaps += 1
                self._next_swap = time.monotonic() + self.model_swap_interval
        except Exception as exc:
            await self._restore(agent, before, models)
            raise UpdateRefused(f"applying it failed ({exc}); the old set-up was kept") from None
        applied = [f for f in live if f not in MODEL_FIELDS or f in models]
        return applied, not_applied

    def _models_in_use(self, agent: Agent) -> tuple[Any, Any, Any]:
        """(stt, llm, tts) the agent runs with: its own, else the session's."""
        session = self.session
        return tuple(  # type: ignore[return-value]
            value if is_given(value) or session is None else getattr(session, f)
            for f, value in (("stt", agent.stt), ("llm", agent.llm), ("tts", agent.tts))
        )

    async def _restore(self, agent: Agent, before: tuple[Any, ...], models: dict[str, Any]) -> None:
        """Put the set-up of `before` back, step by step (one failing step stops none)."""
        instructions, tools, stt, llm_, tts = before
        old = {"stt": stt, "llm": llm_, "tts": tts}
        steps: list[tuple[str, Any]] = [
            ("tools", lambda: agent.update_tools(tools)),
            ("instructions", lambda: agent.update_instructions(instructions)),
            ("models", lambda: agent.update_options(**{f: old[f] for f in models})),
        ]
        for name, step in steps:
            if name == "models" and not models:
                continue
            try:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:
                self._log.warning(
                    "policy.restore_failed", field=name, participant=self.identity, error=str(exc)
                )


def current_call(session: AgentSession[Any]) -> PolicyCall | None:
    """The `PolicyCall` running `session` (tools use it to find the caller and decision)."""
    return _calls.get(session)


__all__ = [
    "CALLER_KINDS",
    "CALLER_TIMEOUT",
    "COALESCE",
    "LIVE_FIELDS",
    "MODEL_SWAP_INTERVAL",
    "PolicyCall",
    "UpdateRefused",
    "caller_attributes",
    "caller_kinds",
    "current_call",
    "participant_facts",
    "participant_kind",
    "resolve_tools",
    "wait_for_caller",
]
