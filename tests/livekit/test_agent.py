"""The worker's adapter end to end, offline: a real room and participant, a real
AgentSession and Agent, the sample tools, and a scripted LLM in place of the network."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import AgentSession, llm
from livekit.agents.testing import fake_job_context
from lk_harness import (
    HERE,
    JsonLines,
    ScriptedLLM,
    TextOnlyAgent,
    change_attributes,
    fixture,
    join,
)

from policy.livekit import PolicyCall, load_checked, start_gatekeeper
from policy.livekit.tools import registry
from policy.tools import ToolRegistry, UnknownToolError
from policy.watch import ENV_SNAPSHOT_DIR, POINTER, PolicyHolder

RULES = HERE / "rules.yaml"
TWILIO_NUMBER = "+14155550123"
#: Wall-clock safety net for waits on the session; never reached by a passing run.
HANG_S = 600


def order_script(ctx: llm.ChatContext, tools: list[llm.Tool]) -> Any:
    """Look up an order when asked, then report; anything else gets a short hello."""
    last = ctx.items[-1]
    if last.type == "function_call_output":
        return f"Here you go: {last.output}"
    if last.type == "message" and "order" in (last.text_content or ""):
        return ("lookup_order", {"order_id": "A1001"})
    return "Hello!"


def session_for(call: PolicyCall, fake: ScriptedLLM) -> AgentSession:
    kwargs = {**call.session_kwargs(), "llm": fake}
    return AgentSession(
        **kwargs,
        vad=None,
        turn_handling={"turn_detection": None},
        session_close_transcript_timeout=0.1,
    )


async def test_twilio_caller_gets_the_rule_prompt_tools_and_stt(json_logs: JsonLines) -> None:
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    fake = ScriptedLLM(order_script)
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry)
        assert call.participant is caller
        assert call.kind == "sip"
        assert call.decision.rule == "acme-line"
        assert call.session_kwargs() == {
            "stt": "deepgram/nova-2-phonecall",
            "llm": "openai/gpt-4.1-mini",
        }
        session = session_for(call, fake)
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False)
        assert session.stt is not None and session.stt.model == "deepgram/nova-2-phonecall"

        result = await session.run(user_input="Where is my order A1001?")
        result.expect.next_event().is_function_call(
            name="lookup_order", arguments={"order_id": "A1001"}
        )
        result.expect.next_event().is_function_call_output(
            output="Order A1001 is shipped with UPS, expected tomorrow."
        )
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()

        # the greeting went first (no TTS: through the LLM), then the caller's turn
        assert "Greet the caller with: Thanks for calling Acme." in fake.system_prompt(0)
        prompt = fake.system_prompt(-1)
        assert "You are Acme phone support" in prompt
        assert TWILIO_NUMBER in prompt  # the placeholder was filled from the caller
        assert fake.tool_names(-1) == ["end_call", "lookup_order"]
        await session.aclose()

    [event] = json_logs.events("policy.decision")
    assert event["rule"] == "acme-line"
    assert event["revision"] == call.decision.revision
    assert event["call_id"] == "SCL_b8AesnBB2KPi"
    assert event["sources"]["stt"] == "profile:phone"
    assert event["sources"]["llm"] == "defaults"
    assert event["elapsed_us"] > 0
    assert event["participant"] == "sip_+1415******23"
    assert event["attributes"]["sip.phoneNumber"] == "+1415******23"
    assert event["attributes"]["sip.trunkID"] == "ST_cLAPa7b5VVSz"
    assert event["attributes"]["tenant"] == "******"
    assert all(TWILIO_NUMBER not in line for line in json_logs.lines)


async def test_a_web_participant_gets_the_defaults() -> None:
    room = rtc.Room()
    join(room, fixture("web-participant"))
    fake = ScriptedLLM(lambda ctx, tools: "Hi, how can I help?")
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry)
        assert call.kind == "standard"
        assert call.decision.rule is None
        assert set(call.decision.outcome.sources.values()) == {"defaults"}
        session = session_for(call, fake)
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False)
        assert session.stt is not None and session.stt.model == "deepgram/nova-3"

        result = await session.run(user_input="hello")
        message = result.expect.next_event().is_message(role="assistant").event().item
        assert message.text_content == "Hi, how can I help?"
        assert fake.system_prompt(0) == "You are the web assistant."
        assert fake.tool_names(0) == ["end_call"]
        await session.aclose()


async def test_an_attribute_change_mid_call_reapplies_the_policy(json_logs: JsonLines) -> None:
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    bystander = join(room, fixture("web-participant"))
    fake = ScriptedLLM(lambda ctx, tools: "OK.")
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry)
        session = session_for(call, fake)
        agent = call.build_agent(TextOnlyAgent)
        await call.start(session, agent, link_room=False, greet=False)
        assert call.decision.rule == "acme-line"

        change_attributes(room, bystander, {"customer.tier": "gold"})  # not the caller
        await call.settled()
        assert call.decision.rule == "acme-line"

        change_attributes(room, caller, {"customer.tier": "gold", "sip.callStatus": "active"})
        await call.settled()
        assert call.decision.rule == "gold-callers"
        assert agent.instructions == "You are Acme priority support."
        assert sorted(t.id for t in agent.tools) == [
            "end_call",
            "lookup_order",
            "transfer_to_human",
        ]
        assert agent.stt.model == "deepgram/nova-3"  # type: ignore[union-attr]

        await session.run(user_input="hello again")
        assert "You are Acme priority support." in fake.system_prompt(-1)
        assert "transfer_to_human" in fake.tool_names(-1)

        change_attributes(room, caller, {"sip.callStatus": "active"})  # same outcome
        await call.settled()
        await session.aclose()

    [event] = json_logs.events("policy.decision.changed")
    assert event["previous_rule"] == "acme-line"
    assert event["rule"] == "gold-callers"
    assert event["changed"] == ["stt", "instructions", "tools", "transfer_to"]
    assert event["applied"] == ["stt", "instructions", "tools", "transfer_to"]
    assert event["not_applied"] == []
    assert event["attributes"]["customer.tier"] == "******"


async def test_a_broken_edit_during_a_call_keeps_the_last_good_policy(
    rules_copy: Path, json_logs: JsonLines
) -> None:
    holder = PolicyHolder.load(rules_copy, settle=0)
    good = holder.revision
    room = rtc.Room()
    caller = join(room, fixture("twilio-inbound-active"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, holder, registry)
        session = session_for(call, ScriptedLLM(lambda ctx, tools: "OK."))
        agent = call.build_agent(TextOnlyAgent)
        await call.start(session, agent, link_room=False, greet=False)

        text = rules_copy.read_text()
        rules_copy.write_text(text.replace("use: phone\n", "use: phnoe\n"))
        change_attributes(room, caller, {"customer.tier": "gold"})
        await call.settled()
        assert holder.revision == good
        assert call.decision.revision == good
        assert call.decision.rule == "gold-callers"
        assert agent.instructions == "You are Acme priority support."

        rules_copy.write_text(text.replace("Acme priority support", "Acme gold support"))
        change_attributes(room, caller, {"sip.callStatus": "active", "line": "gold"})
        await call.settled()
        assert call.decision.revision == holder.revision != good
        assert agent.instructions == "You are Acme gold support."
        await session.aclose()

    [failed] = json_logs.events("policy.reload_failed")
    assert failed["kept_revision"] == good
    assert failed["count"] == 2 == len(failed["diagnostics"])
    assert {d["code"] for d in failed["diagnostics"]} == {"unknown-profile"}
    assert all(d["line"] > 0 for d in failed["diagnostics"])
    [reloaded] = json_logs.events("policy.reloaded")
    assert reloaded["previous_revision"] == good


async def test_end_call_closes_the_session() -> None:
    room = rtc.Room()
    join(room, fixture("web-participant"))

    def script(ctx: llm.ChatContext, tools: list[llm.Tool]) -> Any:
        last = ctx.items[-1]
        if last.type == "function_call_output":
            return "Goodbye!"
        return ("end_call", {})

    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry)
        session = session_for(call, ScriptedLLM(script))
        closed = asyncio.Event()
        session.on("close", lambda _ev: closed.set())
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False)
        result = await session.run(user_input="that's all, bye")
        result.expect.next_event().is_function_call(name="end_call")
        # end_call has asked the session to close; the wall-clock limit is only a safety net
        # against a session that never closes, far beyond what closing needs on a busy machine
        await asyncio.wait_for(closed.wait(), timeout=HANG_S)


async def test_a_tool_the_rules_name_must_be_registered(tmp_path: Path) -> None:
    partial = ToolRegistry({"end_call": registry["end_call"]})
    room = rtc.Room()
    join(room, fixture("twilio-inbound-active"))
    with fake_job_context(room=room) as ctx, pytest.raises(UnknownToolError) as err:
        await PolicyCall.join(ctx, PolicyHolder.load(RULES), partial)
    assert err.value.missing == ("lookup_order",)

    bad = tmp_path / "rules.yaml"
    bad.write_text("defaults:\n  llm: openai/gpt-4.1-mini\n  tools: [end_call, refund_order]\n")
    with pytest.raises(SystemExit) as stop:
        start_gatekeeper(bad, registry)
    assert "`refund_order`" in str(stop.value) and "not registered" in str(stop.value)
    assert load_checked(RULES, registry).revision

    declared = tmp_path / "declared.yaml"  # declared under `tools:`, named by no rule yet
    declared.write_text(
        "tools:\n  end_call: {}\n  refund_order: {description: not written yet}\n"
        "defaults:\n  llm: openai/gpt-4.1-mini\n  tools: [end_call]\n"
    )
    with pytest.raises(SystemExit) as stop:
        start_gatekeeper(declared, registry)
    assert "`refund_order`" in str(stop.value) and "not registered" in str(stop.value)


def test_the_gatekeeper_publishes_a_snapshot_job_processes_follow(
    rules_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = tmp_path / "snapshots"
    monkeypatch.setenv(ENV_SNAPSHOT_DIR, str(snapshots))
    gate = start_gatekeeper(rules_copy, registry, interval=3600, settle=0)
    try:
        assert (snapshots / POINTER).exists()
        follower = PolicyHolder.follow(snapshots)
        assert follower.revision == gate.revision

        text = rules_copy.read_text()
        rules_copy.write_text(text.replace("tools: [end_call]", "tools: [end_call, refund]"))
        assert gate.poll() is False  # an unregistered tool is an invalid edit
        assert follower.poll() is False

        rules_copy.write_text(text.replace("web assistant", "web helper"))
        assert gate.poll() is True
        assert follower.poll() is True
        assert follower.revision == gate.revision
        decision = follower.decide(fixture("web-participant")["attributes"], "standard")
        assert decision.outcome.instructions == "You are the web helper."
    finally:
        gate.stop()
