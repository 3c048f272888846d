"""The sample tools against real livekit-agents objects: the SIP transfer is a real request
to a (local) LiveKit API, and `end_call` lets a realtime model's goodbye play out."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from livekit import api, rtc
from livekit.agents import AgentSession, llm
from livekit.agents.testing import fake_job_context
from livekit.agents.utils import http_context
from livekit.agents.voice import SpeechHandle
from livekit.agents.voice.events import SpeechCreatedEvent
from lk_harness import HERE, ScriptedLLM, TextOnlyAgent, fixture, join

from policy.livekit import PolicyCall
from policy.livekit.tools import registry, shutdown_after_next_speech
from policy.watch import PolicyHolder

RULES = HERE / "rules.yaml"


@pytest.fixture
async def livekit_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[Any]]:
    """A local stand-in for LiveKit's SIP service: it records each Twirp request."""
    received: list[Any] = []

    async def transfer(request: web.Request) -> web.Response:
        received.append(api.TransferSIPParticipantRequest.FromString(await request.read()))
        return web.Response(body=b"", content_type="application/protobuf")

    app = web.Application()
    app.router.add_post("/twirp/livekit.SIP/TransferSIPParticipant", transfer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("LIVEKIT_URL", f"http://127.0.0.1:{port}")
    yield received
    await runner.cleanup()


async def test_transfer_to_human_sends_the_sip_transfer(
    monkeypatch: pytest.MonkeyPatch, livekit_api: list[Any]
) -> None:
    data = fixture("twilio-inbound-active")
    data["attributes"]["customer.tier"] = "gold"
    room = rtc.Room()
    caller = join(room, data)

    def script(ctx: llm.ChatContext, tools: list[llm.Tool]) -> Any:
        if ctx.items[-1].type == "function_call_output":
            return "Transferring you now."
        return ("transfer_to_human", {"reason": "asked for a person"})

    http_context._new_session_ctx()
    with fake_job_context(room=room) as ctx:
        # a real job, not a console one: its transfer goes to the LiveKit API
        ctx._info = dataclasses.replace(ctx._info, fake_job=False)
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry)
        assert call is not None
        session = AgentSession(
            llm=ScriptedLLM(script), vad=None, turn_handling={"turn_detection": None},
            session_close_transcript_timeout=0.1,
        )  # fmt: skip
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
        result = await session.run(user_input="a human please")
        result.expect.next_event().is_function_call(name="transfer_to_human")
        result.expect.next_event().is_function_call_output(
            output="The caller has been transferred."
        )
        await session.aclose()
    await http_context._close_http_ctx()
    [sent] = livekit_api
    assert sent.participant_identity == caller.identity
    assert sent.transfer_to == "+15105550199"
    assert sent.room_name == room.name


async def test_end_call_with_a_realtime_model_waits_for_the_goodbye() -> None:
    room = rtc.Room()
    join(room, fixture("web-participant"))
    with fake_job_context(room=room) as ctx:
        call = await PolicyCall.join(ctx, PolicyHolder.load(RULES), registry)
        assert call is not None
        session = AgentSession(
            llm=ScriptedLLM(lambda c, t: "OK."), vad=None, turn_handling={"turn_detection": None},
            session_close_transcript_timeout=0.1,
        )  # fmt: skip
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
        closed = asyncio.Event()
        session.on("close", lambda _ev: closed.set())
        waiting = asyncio.create_task(shutdown_after_next_speech(session, timeout=60))
        await asyncio.sleep(0)
        goodbye = SpeechHandle.create()
        session.emit(
            "speech_created",
            SpeechCreatedEvent(
                user_initiated=False, source="generate_reply", speech_handle=goodbye
            ),
        )
        for _ in range(10):
            await asyncio.sleep(0)
        assert not closed.is_set() and not waiting.done()  # the goodbye is still playing
        goodbye._mark_done()
        await asyncio.wait_for(waiting, 60)  # a hang guard
        await asyncio.wait_for(closed.wait(), 60)
