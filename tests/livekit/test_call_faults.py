"""A call under faults: callers who never come or leave early, attribute storms, changes
that cannot be applied, outbound calls. Real rooms, participants, sessions and agents;
counts and states are checked, never durations."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.testing import fake_job_context
from lk_harness import (
    HERE,
    JsonLines,
    ScriptedLLM,
    TextOnlyAgent,
    change_attributes,
    disconnect,
    fixture,
    join,
    leave,
)

import policy
from policy.livekit import PolicyCall, PolicyServer, caller_kinds, wait_for_caller
from policy.livekit.call import kind_values
from policy.livekit.tools import registry
from policy.tools import ToolRegistry
from policy.watch import PolicyHolder

RULES = HERE / "rules.yaml"


def session_for(call: PolicyCall) -> AgentSession:
    kwargs = {**call.session_kwargs(), "llm": ScriptedLLM(lambda ctx, tools: "OK.")}
    return AgentSession(
        **kwargs, vad=None, turn_handling={"turn_detection": None}, session_close_transcript_timeout=0.1
    )  # fmt: skip


async def started(
    room: rtc.Room, holder: PolicyHolder, tools: ToolRegistry = registry, **kwargs: Any
) -> tuple[PolicyCall, AgentSession, TextOnlyAgent]:
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, holder, tools, **kwargs)
    assert call is not None
    session = session_for(call)
    agent = call.build_agent(TextOnlyAgent)
    assert await call.start(session, agent, link_room=False, greet=False)
    return call, session, agent


async def test_a_caller_who_never_arrives_ends_the_job() -> None:
    room = rtc.Room()
    shutdowns: list[str] = []
    with fake_job_context(room=room) as ctx:
        ctx._on_shutdown = shutdowns.append
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry, timeout=0.05)
    assert call is None
    assert shutdowns == ["the caller never arrived"]


async def test_a_room_disconnect_ends_the_wait() -> None:
    room = rtc.Room()
    waiting = asyncio.create_task(wait_for_caller(room, timeout=None))
    await asyncio.sleep(0)
    disconnect(room)
    assert await asyncio.wait_for(waiting, 30) is None  # a hang guard, not a timing


async def test_a_caller_who_leaves_before_the_decision_is_noticed() -> None:
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    leave(room, caller)
    with fake_job_context(room=room) as ctx:
        assert await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry, timeout=0.05) is None


async def test_a_caller_who_leaves_before_the_start_gets_no_session() -> None:
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry)
    assert call is not None
    leave(room, caller)
    session = session_for(call)
    assert await call.start(session, call.build_agent(TextOnlyAgent), link_room=False) is False
    assert call.caller_left and call.session is None


async def test_a_change_between_the_decision_and_the_start_is_applied(
    json_logs: JsonLines,
) -> None:
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry, coalesce=0.01)
    assert call is not None and call.decision.rule == "acme-line"
    change_attributes(room, caller, {"customer.tier": "gold"})  # before `start`
    agent = call.build_agent(TextOnlyAgent)
    session = session_for(call)
    await call.start(session, agent, link_room=False, greet=False)
    await call.settled()
    assert call.decision.rule == "gold-callers"
    assert agent.instructions == "You are Acme priority support."
    await session.aclose()
    [changed] = json_logs.events("policy.decision.changed")
    assert changed["previous_rule"] == "acme-line"


async def test_an_attribute_storm_makes_few_redecisions_and_model_swaps(
    json_logs: JsonLines,
) -> None:
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    call, session, agent = await started(room, PolicyHolder.load(RULES))
    began = time.monotonic()
    for i in range(100):  # 100 changes 10 ms apart, flipping the STT every time
        change_attributes(room, caller, {"customer.tier": "gold" if i % 2 == 0 else "silver"})
        await asyncio.sleep(0.01)
    change_attributes(room, caller, {"customer.tier": "gold"})
    await call.settled()
    elapsed = time.monotonic() - began
    # bounds that follow from the mechanism, whatever the speed of the machine
    assert 1 <= call.redecisions <= elapsed / call.coalesce + 2
    assert 1 <= call.model_swaps <= elapsed / call.model_swap_interval + 2
    assert len(json_logs.events("policy.decision.changed")) <= call.redecisions
    assert call.decision.rule == "gold-callers"
    assert agent.stt is not None and agent.stt.model == "deepgram/nova-3"  # type: ignore[attr-defined]
    await session.aclose()


async def test_a_change_to_a_rule_whose_tool_is_not_registered_keeps_the_old_setup_whole(
    json_logs: JsonLines,
) -> None:
    partial = ToolRegistry({n: registry[n] for n in ("end_call", "lookup_order")})
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    call, session, agent = await started(room, PolicyHolder.load(RULES), partial, coalesce=0.01)
    before = (agent.instructions, sorted(t.id for t in agent.tools), agent.stt)
    change_attributes(room, caller, {"customer.tier": "gold"})  # needs transfer_to_human
    await call.settled()
    assert (agent.instructions, sorted(t.id for t in agent.tools), agent.stt) == before
    assert call.decision.rule == "acme-line"  # the decision in force is the one applied
    [refused] = json_logs.events("policy.update_refused")
    assert refused["rule"] == "gold-callers" and refused["kept_rule"] == "acme-line"
    assert "transfer_to_human" in refused["reason"]
    assert not json_logs.events("policy.decision.changed")
    await session.aclose()


async def test_a_failure_while_applying_restores_the_old_setup(json_logs: JsonLines) -> None:
    class Fragile(TextOnlyAgent):
        async def update_instructions(self, instructions: str) -> None:
            raise RuntimeError("the realtime session refused the update")

    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry, coalesce=0.01)
    assert call is not None
    agent = call.build_agent(Fragile)
    session = session_for(call)
    await call.start(session, agent, link_room=False, greet=False)
    tools_before = sorted(t.id for t in agent.tools)
    change_attributes(room, caller, {"customer.tier": "gold"})
    await call.settled()
    assert sorted(t.id for t in agent.tools) == tools_before  # put back
    assert agent.stt is not None and agent.stt.model == "deepgram/nova-2-phonecall"  # type: ignore[attr-defined]
    assert call.decision.rule == "acme-line"
    [refused] = json_logs.events("policy.update_refused")
    assert "old set-up was kept" in refused["reason"]
    await session.aclose()


async def test_an_outbound_callee_is_greeted_once_they_answer() -> None:
    room = rtc.Room()
    callee = join(room, fixture("outbound-dialing"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry, coalesce=0.01)
    assert call is not None and call.decision.rule == "renewals"
    llm = ScriptedLLM(lambda ctx, tools: "Hi!")
    session = AgentSession(
        llm=llm, vad=None, turn_handling={"turn_detection": None}, session_close_transcript_timeout=0.1
    )  # fmt: skip
    await call.start(session, call.build_agent(TextOnlyAgent), link_room=False)
    assert not call.greeted  # still ringing: nobody to greet
    change_attributes(room, callee, {"sip.callStatus": "ringing"})
    await call.settled()
    assert not call.greeted
    change_attributes(room, callee, {"sip.callStatus": "active"})
    await call.settled()
    assert call.greeted
    change_attributes(room, callee, {"sip.callStatus": "active", "x": "again"})
    await call.settled()
    await session.aclose()
    greetings = [i for i in range(len(llm.requests)) if "Greet the caller" in llm.system_prompt(i)]
    assert len(greetings) == 1


async def test_room_options_accept_every_kind_the_rules_name(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: ingress\n    when: {kind: ingress}\n"
        "    set: {llm: openai/gpt-4.1-mini}\n"
    )
    holder = PolicyHolder.load(rules)
    assert "ingress" in caller_kinds(holder.current)
    room = rtc.Room()
    join(room, {**fixture("web-participant"), "kind": "standard"})
    call = PolicyCall(holder, registry, next(iter(room.remote_participants.values())), room=room)
    kinds = call.room_options().participant_kinds
    assert rtc.ParticipantKind.PARTICIPANT_KIND_INGRESS in kinds  # type: ignore[operator]
    assert set(kind_values(["sip", "standard", "connector"])) <= set(kinds)  # type: ignore[arg-type]


def test_the_server_is_an_agent_server_that_holds_the_rules() -> None:
    from livekit.agents import AgentServer

    server = PolicyServer(RULES, registry)
    assert isinstance(server, AgentServer) and server.gatekeeper is None
    assert policy.load(RULES).revision
