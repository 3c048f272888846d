"""The call itself, per caller, with real livekit-agents objects: session options reach the
`AgentSession`, instructions keep their cacheable part apart, a refused caller hears the
message and the room is deleted, a transfer sends LiveKit's `TransferSIPParticipantRequest`
(to a LiveKit API on localhost that records what it receives), and `max_duration` ends
the call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import AgentSession, inference, llm
from livekit.agents.testing import fake_job_context
from lk_harness import (
    JsonLines,
    LiveKitServerAPI,
    QuietRealtimeModel,
    ScriptedLLM,
    TextOnlyAgent,
    change_attributes,
    fixture,
    join,
    real_job,
)

from policy.livekit import PolicyCall
from policy.livekit.actions import agent_instructions, session_options
from policy.livekit.tools import registry
from policy.watch import PolicyHolder

CALLER = "sip_+14155550123"  # the twilio-inbound-active fixture

BASE = """
defaults:
  llm: openai/gpt-4.1-mini
  tools: [end_call]
  instructions: You are the web assistant.
rules:
  - name: caller
    when: {kind: sip}
    set:
"""


def holder(tmp_path: Path, set_block: str) -> PolicyHolder:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BASE + "".join(f"      {line}\n" for line in set_block.strip().splitlines()))
    return PolicyHolder.load(rules)


def session_for(call: PolicyCall, fake: ScriptedLLM) -> AgentSession:
    kwargs = call.session_kwargs()
    kwargs["llm"] = fake
    # offline: no end-of-turn model, no VAD
    kwargs["turn_handling"] = {**kwargs.get("turn_handling", {}), "turn_detection": None}
    return AgentSession(**kwargs, vad=None, session_close_transcript_timeout=0.1)


async def test_session_options_reach_the_agent_session(tmp_path: Path) -> None:
    policy = holder(
        tmp_path,
        """
session:
  endpointing: {min_delay: 0.8, max_delay: 4.5}
  interruption: {enabled: false, backchannel_boundary: [0.5, 1.5]}
  preemptive_generation: {enabled: false}
  user_turn_limit: {max_words: 80}
  keyterms: [Acme, Zyxel]
  max_tool_steps: 6
  user_away_timeout: 40
  ivr_detection: true
  min_consecutive_speech_delay: 0.3
""",
    )
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "Hello!")
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, policy, registry)
        assert session_options(call.decision)["turn_handling"]["interruption"] == {
            "enabled": False,
            "backchannel_boundary": (0.5, 1.5),
        }
        session = session_for(call, fake)
        opts = session.options
        assert opts.endpointing["min_delay"] == 0.8 and opts.endpointing["max_delay"] == 4.5
        assert opts.interruption["enabled"] is False
        assert opts.interruption["backchannel_boundary"] == (0.5, 1.5)
        assert opts.preemptive_generation["enabled"] is False
        assert opts.turn_handling["user_turn_limit"]["max_words"] == 80
        assert opts.stt_context_options["keyterms"] == ["Acme", "Zyxel"]
        assert (opts.max_tool_steps, opts.user_away_timeout) == (6, 40)
        assert opts.ivr_detection is True and opts.min_consecutive_speech_delay == 0.3
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
        result = await session.run(user_input="hello")
        result.expect.next_event().is_message(role="assistant")
        await session.aclose()


async def test_per_caller_lines_are_a_system_message_of_their_own(tmp_path: Path) -> None:
    policy = holder(
        tmp_path,
        """
instructions: |-
  You are Acme phone support.
  The caller's number is {{ sip.phoneNumber | unknown }}.
  Keep answers short.
""",
    )
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "Hi.")
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, policy, registry)
        assert not isinstance(agent_instructions(call.decision), str)
        session = session_for(call, fake)
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
        await session.run(user_input="hello")
        system = [m.text_content for m in fake.requests[-1][0].messages() if m.role == "system"]
        # the first system message is the same for every caller: a prefix the provider caches
        assert system[:2] == [
            "You are Acme phone support.\nKeep answers short.",
            "The caller's number is +14155550123.",
        ]
        await session.aclose()


async def test_a_rejected_caller_without_a_message_never_gets_an_agent(tmp_path: Path) -> None:
    policy = holder(tmp_path, "reject: {}")
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "should not be asked")
    with fake_job_context(room=room) as ctx:
        async with LiveKitServerAPI() as server, real_job(ctx, server):
            call = await PolicyCall.join(ctx, policy, registry)
            session = session_for(call, fake)
            await call.start(session, link_room=False)
        assert call.agent is None
        assert fake.requests == []
        [deleted] = server.sent("DeleteRoom")
        assert deleted.room == room.name
        assert server.sent("TransferSIPParticipant") == []


async def test_a_rejected_caller_hears_the_message_then_the_call_ends(tmp_path: Path) -> None:
    policy = holder(tmp_path, 'reject: {say: "Sorry, we cannot take your call."}')
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "Sorry, we cannot take your call.")
    with fake_job_context(room=room) as ctx:
        async with LiveKitServerAPI() as server, real_job(ctx, server):
            call = await PolicyCall.join(ctx, policy, registry)
            session = session_for(call, fake)
            await call.start(session, link_room=False)
            # no TTS in this session: the message is asked of the LLM, word for word
            assert "Say exactly this to the caller, and nothing else: Sorry, we cannot take " in (
                fake.system_prompt(0)
            )
            assert fake.tool_names(0) == []  # the bare agent has no tools
            spoken = [m.text_content for m in session.history.messages() if m.role == "assistant"]
            assert spoken == ["Sorry, we cannot take your call."]
            await session.aclose()
        assert [name for name, _ in server.requests] == ["DeleteRoom"]
        assert call.agent is None


async def test_a_transfer_sends_the_sip_transfer_request_after_the_announcement(
    tmp_path: Path,
) -> None:
    policy = holder(tmp_path, 'transfer: {to: "+15105550199", say: Connecting you to billing.}')
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "Connecting you to billing.")
    with fake_job_context(room=room) as ctx:
        async with LiveKitServerAPI() as server, real_job(ctx, server):
            call = await PolicyCall.join(ctx, policy, registry)
            session = session_for(call, fake)
            await call.start(session, link_room=False)
            assert len(fake.requests) == 1  # the announcement, before the transfer
            await session.aclose()
        [sent] = server.sent("TransferSIPParticipant")
        assert sent.room_name == room.name
        assert sent.participant_identity == CALLER
        assert sent.transfer_to == "+15105550199"
        assert sent.play_dialtone is False
        assert server.sent("DeleteRoom") == []  # the caller goes on to billing


async def test_transfer_to_human_goes_where_the_decision_says(tmp_path: Path) -> None:
    policy = holder(
        tmp_path,
        """
tools: [transfer_to_human]
transfer_to: "sip:desk@pbx.example.com"
""",
    )
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))

    def script(ctx: llm.ChatContext, tools: list[llm.Tool]) -> Any:
        if ctx.items[-1].type == "function_call_output":
            return "Transferring you now."
        return ("transfer_to_human", {"reason": "asked for a person"})

    with fake_job_context(room=room) as ctx:
        async with LiveKitServerAPI() as server, real_job(ctx, server):
            call = await PolicyCall.join(ctx, policy, registry)
            session = session_for(call, ScriptedLLM(script))
            await call.start(session, call.build_agent(TextOnlyAgent), link_room=False)
            result = await session.run(user_input="a human please")
            result.expect.next_event().is_function_call(name="transfer_to_human")
            result.expect.next_event().is_function_call_output(
                output="The caller has been transferred."
            )
            await session.aclose()
        [sent] = server.sent("TransferSIPParticipant")
        assert (sent.participant_identity, sent.transfer_to) == (
            CALLER,
            "sip:desk@pbx.example.com",
        )


async def test_max_duration_says_goodbye_and_ends_the_call(tmp_path: Path) -> None:
    policy = holder(tmp_path, 'max_duration: {after: 1, say: "Time is up, goodbye!"}')
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "Time is up, goodbye!")
    with fake_job_context(room=room) as ctx:
        async with LiveKitServerAPI() as server, real_job(ctx, server):
            call = await PolicyCall.join(ctx, policy, registry)
            session = session_for(call, fake)
            closed = asyncio.Event()
            session.on("close", lambda _ev: closed.set())
            await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
            await asyncio.wait_for(closed.wait(), timeout=30)
            for _ in range(100):  # the hang-up follows the close
                if server.sent("DeleteRoom"):
                    break
                await asyncio.sleep(0.05)
        assert "Say exactly this to the caller, and nothing else: Time is up, goodbye!" in (
            fake.system_prompt(-1)
        )
        assert [d.room for d in server.sent("DeleteRoom")] == [room.name]


async def test_a_call_that_closes_first_cancels_the_time_limit(tmp_path: Path) -> None:
    policy = holder(tmp_path, "max_duration: 1h")
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, policy, registry)
        session = session_for(call, ScriptedLLM(lambda ctx, tools: "Hi."))
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
        timers = [t for t in asyncio.all_tasks() if t.get_name() == "sip-policy-max-duration"]
        assert len(timers) == 1
        await session.aclose()
        await asyncio.sleep(0)
        assert timers[0].cancelled() or timers[0].done()


async def test_a_mid_call_change_applies_live_session_options_only(
    tmp_path: Path, json_logs: JsonLines
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        """
defaults:
  llm: openai/gpt-4.1-mini
  session: {endpointing: {min_delay: 0.5}, max_tool_steps: 3}
rules:
  - name: slow-talker
    when: {customer.pace: slow}
    set:
      session: {endpointing: {min_delay: 1.2}, keyterms: [Acme]}
  - name: many-tools
    when: {customer.pace: tools}
    set:
      session: {max_tool_steps: 8}
"""
    )
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(rules), registry)
        session = session_for(call, ScriptedLLM(lambda ctx, tools: "OK."))
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
        assert session.options.endpointing["min_delay"] == 0.5

        change_attributes(room, caller, {"customer.pace": "slow"})
        await call.settled()
        assert call.decision.rule == "slow-talker"
        assert session.options.endpointing["min_delay"] == 1.2

        change_attributes(room, caller, {"customer.pace": "tools"})
        await call.settled()
        assert session.options.max_tool_steps == 3  # fixed when the session started
        await session.aclose()

    first, second = json_logs.events("policy.decision.changed")
    assert (first["applied"], first["not_applied"]) == (["session"], [])
    assert (second["applied"], second["not_applied"]) == ([], ["session"])


async def test_a_failed_transfer_is_logged_and_the_call_ends(
    tmp_path: Path, json_logs: JsonLines
) -> None:
    policy = holder(tmp_path, 'transfer: {to: "+15105550199"}')
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    busy = {
        "code": "unavailable",
        "msg": "callee busy",
        "meta": {"sip_status_code": "486", "sip_status": "Busy Here"},
    }
    with fake_job_context(room=room) as ctx:
        async with (
            LiveKitServerAPI(fail={"TransferSIPParticipant": (409, busy)}) as server,
            real_job(ctx, server),
        ):
            call = await PolicyCall.join(ctx, policy, registry)
            session = session_for(call, ScriptedLLM(lambda ctx, tools: "unused"))
            await call.start(session, link_room=False)
        assert [name for name, _ in server.requests] == ["TransferSIPParticipant", "DeleteRoom"]
    [failed] = json_logs.events("policy.call_control.transfer_failed")
    assert failed["transfer_to"] == "+1510******99"  # numbers are masked in logs
    assert "486" in failed["error"]


async def test_a_web_caller_caught_by_a_transfer_rule_gets_the_agent(tmp_path: Path) -> None:
    holder(tmp_path, 'transfer: {to: "+15105550199"}')  # writes rules.yaml
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules.read_text().replace("{kind: sip}", "{kind: standard}"))
    room = rtc.Room()
    join(room, fixture("web-participant"))
    fake = ScriptedLLM(lambda ctx, tools: "Hi!")
    with fake_job_context(room=room) as ctx:
        async with LiveKitServerAPI() as server, real_job(ctx, server):
            call = await PolicyCall.join(ctx, PolicyHolder.load(rules), registry)
            assert call.decision.outcome.action == "transfer"
            session = session_for(call, fake)
            await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
            assert call.agent is not None  # not dropped: the agent answers
            await session.run(user_input="hello")
            await session.aclose()
        assert server.requests == []


async def test_with_a_tts_the_refusal_is_said_word_for_word(tmp_path: Path) -> None:
    policy = holder(tmp_path, 'tts: cartesia/sonic-3\nreject: {say: "We are closed today."}')
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "should not be asked")
    with fake_job_context(room=room) as ctx:
        async with LiveKitServerAPI() as server, real_job(ctx, server):
            call = await PolicyCall.join(ctx, policy, registry)
            session = session_for(call, fake)
            assert session.tts is not None and session.tts.model == "cartesia/sonic-3"
            await call.start(session, link_room=False)
            spoken = [m.text_content for m in session.history.messages() if m.role == "assistant"]
            assert spoken == ["We are closed today."]
            assert fake.requests == []  # said by the TTS, not asked of the LLM
            await session.aclose()
        assert [name for name, _ in server.requests] == ["DeleteRoom"]


async def test_a_change_to_a_realtime_llm_mid_call_is_an_agent_handoff(
    tmp_path: Path, json_logs: JsonLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """livekit-agents cannot swap a running agent's LLM to a realtime model; the adapter
    hands the call to a new agent with the new decision. The realtime model is a quiet fake
    in place of LiveKit Inference's (resolved from the model string, as the SDK does)."""
    realtime = QuietRealtimeModel()
    monkeypatch.setattr(inference, "llm_from_model_string", lambda model: realtime)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        """
defaults:
  llm: openai/gpt-4.1-mini
  instructions: You are the assistant.
  tools: [end_call]
rules:
  - name: vip
    when: {customer.tier: gold}
    set:
      llm: openai/gpt-realtime
      instructions: You are the VIP assistant.
      tools: [lookup_order, end_call]
"""
    )
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(lambda ctx, tools: "Hello!")
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(rules), registry)
        session = session_for(call, fake)
        first = call.build_agent(TextOnlyAgent)
        await call.start(session, first, link_room=False, greet=False)
        await session.run(user_input="hello")

        change_attributes(room, caller, {"customer.tier": "gold"})
        await call.settled()
        second = call.agent
        assert second is not first and isinstance(second, TextOnlyAgent)
        assert second.llm is realtime
        assert second.instructions == "You are the VIP assistant."
        assert sorted(t.id for t in second.tools) == ["end_call", "lookup_order"]
        for _ in range(200):  # the handoff runs as a task of the session
            if session.current_agent is second and realtime.sessions:
                break
            await asyncio.sleep(0.01)
        assert session.current_agent is second
        [rt] = realtime.sessions
        assert rt.instructions.startswith("You are the VIP assistant.")
        # the conversation so far went along
        assert any(m.text_content == "hello" for m in rt.chat_ctx.messages() if m.role == "user")
        await session.aclose()

    [event] = json_logs.events("policy.decision.changed")
    assert event["changed"] == ["llm", "instructions", "tools"]
    assert (event["applied"], event["not_applied"]) == (["llm", "instructions", "tools"], [])
