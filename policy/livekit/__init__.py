"""The adapter between a `Policy` and livekit-agents 1.8: the one module of `policy` (with
the sample tools) that imports livekit.

    holder = await job_policy(ctx, "rules.yaml")              # per process, follows reloads
    call = await PolicyCall.join(ctx, holder, registry)       # waits for the caller, decides
    session = AgentSession(**call.session_kwargs())           # STT, LLM, TTS of the decision
    await call.start(session)                                 # agent, greeting, live updates

What a call can change after it started, when the caller's attributes change (livekit-agents
1.8, `Agent.update_instructions`, `Agent.update_tools`, `Agent.update_options`):

- instructions and tools: replaced on the running agent; the next reply uses them;
- STT: swapped on the running agent (a new recognition stream starts; words in flight may be
  lost); LLM and TTS: swapped for the next reply; a realtime (speech-to-speech) LLM cannot be
  swapped to or from, nor can a field be cleared: both are logged as `not_applied`;
- greeting: said once at the start, never again; metadata: recorded in the decision only.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, JobProcess, llm, room_io
from livekit.agents.voice import SpeechHandle

from ..compile import load
from ..errors import Code, Location, PolicyError
from ..logs import (
    changed_fields,
    get_logger,
    install_stdlib_masking,
    log_change,
    log_decision,
    remember,
)
from ..runtime import phone
from ..runtime.decision import Decision
from ..runtime.engine import Policy, kind_name
from ..shared import load_inherited  # the policy compiled once in the forkserver
from ..tools import ToolRegistry, UnknownToolError
from ..watch import ENV_SNAPSHOT_DIR, POINTER, PolicyHolder, publish_snapshot

#: Who counts as the caller by default: livekit-agents' own default participant kinds.
CALLER_KINDS: tuple[str, ...] = ("sip", "connector", "standard")
#: Outcome fields a running call can take on; the others are fixed at the start.
LIVE_FIELDS: tuple[str, ...] = ("instructions", "tools", "stt", "llm", "tts")

ToolList = list[llm.Tool | llm.Toolset]

_calls: weakref.WeakKeyDictionary[AgentSession[Any], PolicyCall] = weakref.WeakKeyDictionary()


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
    copy = {str(k): str(v) for k, v in attrs.items()}
    remember(copy)  # masked wherever a log line repeats one of these values
    return copy


def participant_facts(participant: rtc.Participant) -> tuple[dict[str, str], str]:
    """(attributes, kind name): what `Policy.decide` takes."""
    return caller_attributes(participant), participant_kind(participant)


async def wait_for_caller(
    room: rtc.Room, kinds: Iterable[str] = CALLER_KINDS
) -> rtc.RemoteParticipant:
    """The first remote participant of one of `kinds`, already in the room or joining."""
    wanted = set(kinds)
    for p in list(room.remote_participants.values()):
        if participant_kind(p) in wanted:
            return p
    found: asyncio.Future[rtc.RemoteParticipant] = asyncio.get_running_loop().create_future()

    def on_join(p: rtc.RemoteParticipant) -> None:
        if participant_kind(p) in wanted and not found.done():
            found.set_result(p)

    room.on("participant_connected", on_join)
    try:
        return await found
    finally:
        room.off("participant_connected", on_join)


def caller_kinds(policy: Policy) -> tuple[str, ...]:
    """`CALLER_KINDS` plus any kind the policy names in a `when: {kind: ...}`."""
    return tuple(dict.fromkeys((*CALLER_KINDS, *sorted(policy.kinds()))))


# -- tools --------------------------------------------------------------------------------


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


def load_checked(path: str | Path, registry: ToolRegistry) -> Policy:
    """`policy.load` plus the tool check: a tool the rules name but nothing registered is
    an `unknown-tool` error, so a reload that introduces one keeps the last good policy."""
    loaded = load(path)
    missing = registry.check(loaded)
    if missing:
        err = UnknownToolError(missing, registry.names())
        raise PolicyError.single(
            Code.UNKNOWN_TOOL,
            str(err),
            Location(str(path)),
            help="register it in the worker's tool module, or remove it from the rules",
        )
    return loaded


# -- the worker: a gatekeeper in the main process, followers in job processes -------------


def start_gatekeeper(
    rules: str | Path, registry: ToolRegistry, *, interval: float = 1.0
) -> PolicyHolder:
    """In the worker's main process, before `cli.run_app`: load and check the rules (exit with
    every diagnostic when they are invalid or name unregistered tools), publish them as the
    snapshot job processes follow, and watch them in a thread, publishing each valid edit."""
    try:
        first = load_checked(rules, registry)
    except PolicyError as err:
        raise SystemExit(
            f"sip-policy: cannot start, the rules have errors\n{err.render()}"
        ) from None
    snapshot_dir = os.environ.get(ENV_SNAPSHOT_DIR) or _default_snapshot_dir()
    holder = PolicyHolder(
        first,
        source=Path(rules),
        loader=lambda p: load_checked(p, registry),
        on_reload=lambda p: publish_snapshot(p, snapshot_dir),
    )
    os.environ[ENV_SNAPSHOT_DIR] = snapshot_dir  # job processes inherit it
    publish_snapshot(holder.current, snapshot_dir)
    holder.watch_in_thread(interval)
    return holder


def _default_snapshot_dir() -> str:
    path = tempfile.mkdtemp(prefix="sip-policy-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


_PROCESS_KEY = "sip_policy.holder"


def process_policy(proc: JobProcess, rules: str | Path) -> PolicyHolder:
    """The holder of this job process: follows the gatekeeper's snapshot when there is one,
    else loads `rules` directly. Use it from `setup_fnc` to load before the first call."""
    install_stdlib_masking()
    phone.warm_up()  # numbering data and geocoder, before the first caller from anywhere
    holder = proc.userdata.get(_PROCESS_KEY)
    if isinstance(holder, PolicyHolder):
        return holder
    snapshot_dir = os.environ.get(ENV_SNAPSHOT_DIR)
    if snapshot_dir and (Path(snapshot_dir) / POINTER).exists():
        holder = PolicyHolder.follow(snapshot_dir, loader=load_inherited)
    else:
        holder = PolicyHolder.load(rules, loader=load_inherited)
    proc.userdata[_PROCESS_KEY] = holder
    return holder


async def job_policy(ctx: JobContext, rules: str | Path) -> PolicyHolder:
    """The process holder, refreshed: a call starts with the newest valid policy."""
    holder = process_policy(ctx.proc, rules)
    await holder.refresh()
    return holder


# -- one call -----------------------------------------------------------------------------


class PolicyCall:
    """One caller, the decision for them, and the agent that runs it.

    The decision is made at construction and logged (`policy.decision`). After `start`, a
    change to the caller's attributes re-decides with the newest policy, applies what
    changed to the running agent and logs `policy.decision.changed`.
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
    ) -> None:
        self.holder = holder
        self.registry = registry
        self.participant = participant
        self.room = room
        self.job_id = job_id
        self.session: AgentSession[Any] | None = None
        self.agent: Agent | None = None
        self._log = logger or get_logger()
        self._dirty = False
        self._pending: asyncio.Task[None] | None = None
        self._closed = False
        attributes, self.kind = participant_facts(participant)
        self.decision: Decision = holder.decide(attributes, self.kind)
        log_decision(
            self.decision,
            identity=participant.identity,
            kind=self.kind,
            attributes=attributes,
            job_id=job_id,
            room=room.name if room is not None else None,
            declared=holder.current.declared,
            logger=self._log,
        )
        self.tools()  # an unregistered tool fails here, before any audio

    @classmethod
    async def join(
        cls,
        ctx: JobContext,
        holder: PolicyHolder,
        registry: ToolRegistry,
        *,
        kinds: Iterable[str] | None = None,
    ) -> PolicyCall:
        """Connect, wait for the caller, decide."""
        install_stdlib_masking()
        await ctx.connect()
        caller = await wait_for_caller(ctx.room, kinds or caller_kinds(holder.current))
        return cls(holder, registry, caller, room=ctx.room, job_id=ctx.job.id)

    # -- what the decision asks for --------------------------------------------------------

    def session_kwargs(self) -> dict[str, Any]:
        """`AgentSession` keyword arguments: the decided `stt`, `llm`, `tts` model strings
        (LiveKit Inference `provider/model[:language]`); fields the policy leaves empty are
        left out, so your own defaults apply."""
        o = self.decision.outcome
        return {k: v for k, v in (("stt", o.stt), ("llm", o.llm), ("tts", o.tts)) if v}

    def tools(self) -> ToolList:
        return resolve_tools(self.registry, self.decision.outcome.tools)

    def agent_kwargs(self) -> dict[str, Any]:
        """`Agent` keyword arguments: instructions and the resolved tools."""
        return {"instructions": self.decision.outcome.instructions, "tools": self.tools()}

    def build_agent(self, agent_cls: type[Agent] = Agent, **kwargs: Any) -> Agent:
        """An agent (of your own `Agent` subclass if you like) with the decided set-up."""
        return agent_cls(**{**self.agent_kwargs(), **kwargs})

    # -- running ---------------------------------------------------------------------------

    async def start(
        self,
        session: AgentSession[Any],
        agent: Agent | None = None,
        *,
        room_options: room_io.RoomOptions | None = None,
        link_room: bool = True,
        greet: bool = True,
    ) -> None:
        """Start `session` with the decided agent, linked to the caller; say the greeting;
        follow the caller's attribute changes. `link_room=False` runs without room audio
        (tests, text-only sessions) but still follows the room's events."""
        self.session = session
        self.agent = agent or self.build_agent()
        _calls[session] = self
        if link_room and self.room is not None:
            options = room_options or room_io.RoomOptions(
                participant_identity=self.participant.identity
            )
            await session.start(self.agent, room=self.room, room_options=options)
        else:
            await session.start(self.agent)
        session.on("close", lambda _ev: self.close())
        self.follow_attributes()
        if greet:
            self.greet()

    def greet(self) -> SpeechHandle | None:
        """Say the decided greeting: word for word with a TTS, else through the LLM."""
        greeting = self.decision.outcome.greeting
        if not greeting or self.session is None:
            return None
        if self.session.tts is not None:
            return self.session.say(greeting)
        return self.session.generate_reply(instructions=f"Greet the caller with: {greeting}")

    def follow_attributes(self) -> None:
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

    def _on_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.participant.identity:
            self.close()

    def _on_attributes_changed(
        self, _changed: Mapping[str, str], participant: rtc.Participant
    ) -> None:
        if self._closed or participant.identity != self.participant.identity:
            return
        if isinstance(participant, rtc.RemoteParticipant):
            self.participant = participant
        self._dirty = True  # bursts of changes collapse into one re-evaluation
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._drain(), name="sip-policy-reevaluate")

    async def _drain(self) -> None:
        while self._dirty and not self._closed:
            self._dirty = False
            try:
                await self.reevaluate()
            except Exception:
                self._log.exception("policy.reevaluate_failed", participant=self.identity)

    async def settled(self) -> None:
        """Wait until pending re-evaluations are done (for tests and shutdown)."""
        while self._pending is not None and not self._pending.done():
            await asyncio.shield(self._pending)

    @property
    def identity(self) -> str:
        return self.participant.identity

    async def reevaluate(self) -> bool:
        """Decide again with the caller's current attributes and the newest valid policy;
        apply and log what changed. True when the outcome changed."""
        await self.holder.refresh()
        attributes, kind = participant_facts(self.participant)
        new = self.holder.decide(attributes, kind)
        old = self.decision
        self.decision = new
        changed = changed_fields(old, new)
        if not changed and new.rule == old.rule:
            return False
        applied, not_applied = await self.apply(old, new, changed)
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
        """Apply `changed` fields of `new` to the running agent; (applied, not applied)."""
        applied: list[str] = []
        not_applied: list[str] = []
        agent = self.agent
        o = new.outcome
        for name in changed:
            if agent is None or name not in LIVE_FIELDS:
                not_applied.append(name)
                continue
            try:
                if name == "instructions":
                    await agent.update_instructions(o.instructions)
                elif name == "tools":
                    await agent.update_tools(resolve_tools(self.registry, o.tools))
                else:
                    value = getattr(o, name)
                    if not value:
                        not_applied.append(name)  # clearing a model mid-call is not supported
                        continue
                    agent.update_options(**{name: value})
            except Exception as exc:
                self._log.warning(
                    "policy.apply_failed", field=name, participant=self.identity, error=str(exc)
                )
                not_applied.append(name)
                continue
            applied.append(name)
        return applied, not_applied


def current_call(session: AgentSession[Any]) -> PolicyCall | None:
    """The `PolicyCall` running `session` (tools use it to find the caller and decision)."""
    return _calls.get(session)


__all__ = [
    "CALLER_KINDS",
    "LIVE_FIELDS",
    "PolicyCall",
    "caller_attributes",
    "caller_kinds",
    "current_call",
    "job_policy",
    "load_checked",
    "participant_facts",
    "participant_kind",
    "process_policy",
    "resolve_tools",
    "start_gatekeeper",
    "wait_for_caller",
]
