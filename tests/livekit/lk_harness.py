"""Offline harness (imported by the tests as `lk_harness`) for the livekit adapter: real rooms, participants, sessions; no server.

A participant joins through `rtc.Room`'s own event handler, from the protobuf the server
would send. An unconnected room cannot run the handler for attribute changes (it looks up
the local participant), so `change_attributes` does the two things that handler does:
update the participant's attributes and emit `participant_attributes_changed`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

os.environ.setdefault("LIVEKIT_API_KEY", "devkey")
os.environ.setdefault("LIVEKIT_API_SECRET", "devsecret-devsecret-devsecret-00")

from livekit import rtc
from livekit.agents import Agent, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from livekit.rtc._proto import handle_pb2, participant_pb2, room_pb2

HERE = Path(__file__).parent
#: Copies of /work/shared/fixtures/attributes, so a clean clone runs these tests.
FIXTURES = HERE / "fixtures"

KINDS = {
    "standard": participant_pb2.PARTICIPANT_KIND_STANDARD,
    "sip": participant_pb2.PARTICIPANT_KIND_SIP,
    "connector": participant_pb2.PARTICIPANT_KIND_CONNECTOR,
    "agent": participant_pb2.PARTICIPANT_KIND_AGENT,
}


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def join(room: rtc.Room, data: dict[str, Any]) -> rtc.RemoteParticipant:
    """The participant of a fixture joins `room`, the way the server announces it."""
    info = participant_pb2.ParticipantInfo(
        identity=data["identity"],
        sid="PA_" + data["identity"][-8:],
        kind=KINDS[data["kind"]],
        attributes=data["attributes"],
    )
    owned = participant_pb2.OwnedParticipant(handle=handle_pb2.FfiOwnedHandle(id=0), info=info)
    room._on_room_event(
        room_pb2.RoomEvent(participant_connected=room_pb2.ParticipantConnected(info=owned))
    )
    return room.remote_participants[data["identity"]]


def change_attributes(
    room: rtc.Room, participant: rtc.RemoteParticipant, changes: dict[str, str]
) -> None:
    """What rtc.Room does on `participant_attributes_changed` (an empty value deletes)."""
    attrs = participant._info.attributes
    for key, value in changes.items():
        if value:
            attrs[key] = value
        elif key in attrs:
            del attrs[key]
    room.emit("participant_attributes_changed", dict(changes), participant)


Step = str | tuple[str, dict[str, Any]]


class ScriptedLLM(llm.LLM):
    """A fake LLM: `script(chat_ctx, tools)` says what to answer (text, or a tool call).
    Every request is recorded, so tests can read the system prompt and the tools offered."""

    def __init__(self, script: Callable[[llm.ChatContext, list[llm.Tool]], Step]) -> None:
        super().__init__()
        self.script = script
        self.requests: list[tuple[llm.ChatContext, list[llm.Tool]]] = []

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **_: Any,
    ) -> llm.LLMStream:
        self.requests.append((chat_ctx.copy(), list(tools or [])))
        return _ScriptedStream(
            self, chat_ctx=chat_ctx, tools=list(tools or []), conn_options=conn_options
        )

    def system_prompt(self, index: int = -1) -> str:
        ctx = self.requests[index][0]
        return "\n".join(
            m.text_content or "" for m in ctx.messages() if m.role in ("system", "developer")
        )

    def tool_names(self, index: int = -1) -> list[str]:
        return sorted(t.id for t in self.requests[index][1])


class _ScriptedStream(llm.LLMStream):
    async def _run(self) -> None:
        assert isinstance(self._llm, ScriptedLLM)
        step = self._llm.script(self._chat_ctx, self._tools)
        if isinstance(step, str):
            delta = llm.ChoiceDelta(role="assistant", content=step)
        else:
            name, args = step
            call = llm.FunctionToolCall(
                name=name, arguments=json.dumps(args), call_id=f"call_{len(self._llm.requests)}"
            )
            delta = llm.ChoiceDelta(role="assistant", tool_calls=[call])
        self._event_ch.send_nowait(llm.ChatChunk(id="chunk", delta=delta))


class TextOnlyAgent(Agent):
    """The decided agent without audio in: a test session has no microphone, and LiveKit
    Inference STT would try to open a stream. The STT object itself stays the decided one."""

    def stt_node(self, audio: Any, model_settings: Any) -> None:  # type: ignore[override]
        return None


class JsonLines(logging.Handler):
    """livekit-agents' production formatter writing to a list, with our masking filter."""

    def __init__(self) -> None:
        from livekit.agents.cli.log import JsonFormatter

        from policy.logs import install_stdlib_masking

        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        install_stdlib_masking([self])
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        out = [json.loads(line) for line in self.lines]
        return [e for e in out if name is None or e.get("message") == name]


class LiveKitServerAPI:
    """The LiveKit server's Twirp API on localhost, for tests: every request the SDK really
    sends (`JobContext.transfer_sip_participant`, `delete_room`) is decoded from its protobuf
    body and recorded; each one succeeds.

        async with LiveKitServerAPI() as server, real_job(ctx, server):
            ...
        server.requests  # [("TransferSIPParticipant", TransferSIPParticipantRequest(...))]
    """

    ROUTES: ClassVar[dict[str, tuple[str, str]]] = {
        "livekit.SIP/TransferSIPParticipant": (
            "TransferSIPParticipantRequest",
            "TransferSIPParticipantResponse",
        ),
        "livekit.RoomService/DeleteRoom": ("DeleteRoomRequest", "DeleteRoomResponse"),
    }

    def __init__(self, fail: dict[str, tuple[int, dict[str, Any]]] | None = None) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.url = ""
        #: method → (HTTP status, Twirp error body) to answer instead of success
        self.fail = fail or {}

    async def __aenter__(self) -> LiveKitServerAPI:
        from aiohttp import web
        from livekit import api

        async def handle(request: web.Request) -> web.Response:
            route = request.match_info["route"]
            if route not in self.ROUTES:
                return web.json_response({"code": "bad_route", "msg": route}, status=404)
            req_name, resp_name = self.ROUTES[route]
            message = getattr(api, req_name).FromString(await request.read())
            method = route.split("/")[1]
            self.requests.append((method, message))
            if method in self.fail:
                status, error = self.fail[method]
                return web.json_response(error, status=status)
            body = getattr(api, resp_name)().SerializeToString()
            return web.Response(body=body, content_type="application/protobuf")

        app = web.Application()
        app.router.add_post("/twirp/{route:.+}", handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self._runner.cleanup()

    def sent(self, method: str) -> list[Any]:
        return [m for name, m in self.requests if name == method]


class real_job:
    """Turn livekit's `fake_job_context` into a job whose API calls are really sent (to
    `server`): a fake job skips them (`transfer_sip_participant` would only log)."""

    def __init__(self, ctx: Any, server: LiveKitServerAPI) -> None:
        self.ctx, self.server = ctx, server

    async def __aenter__(self) -> Any:
        from livekit.agents.utils import http_context

        self._url = os.environ.get("LIVEKIT_URL")
        os.environ["LIVEKIT_URL"] = self.server.url
        self.ctx._info.fake_job = False
        self._http = http_context.open()
        await self._http.__aenter__()
        return self.ctx

    async def __aexit__(self, *exc: Any) -> None:
        await self._http.__aexit__(*exc)
        self.ctx._info.fake_job = True
        if self._url is None:
            os.environ.pop("LIVEKIT_URL", None)
        else:
            os.environ["LIVEKIT_URL"] = self._url


class QuietRealtimeModel(llm.RealtimeModel):
    """A realtime (speech-to-speech) model that never speaks: a `RealtimeModel` the SDK
    starts, updates and closes like a real one, offline. It records the instructions and
    tools it is given."""

    def __init__(self, model: str = "openai/gpt-realtime") -> None:
        super().__init__(
            capabilities=llm.RealtimeCapabilities(
                message_truncation=False,
                turn_detection=True,
                user_transcription=False,
                auto_tool_reply_generation=False,
                audio_output=True,
                manual_function_calls=False,
                mutable_chat_context=True,
                mutable_instructions=True,
                mutable_tools=True,
            )
        )
        self._name = model
        self.sessions: list[_QuietRealtimeSession] = []

    @property
    def model(self) -> str:
        return self._name

    def session(self, *, turn_detection_disabled: bool = False) -> llm.RealtimeSession:
        s = _QuietRealtimeSession(self)
        self.sessions.append(s)
        return s

    async def aclose(self) -> None:
        return None


class _QuietRealtimeSession(llm.RealtimeSession):
    def __init__(self, model: QuietRealtimeModel) -> None:
        super().__init__(model)
        self._chat_ctx = llm.ChatContext.empty()
        self._tools = llm.ToolContext.empty()
        self.instructions = ""

    @property
    def chat_ctx(self) -> llm.ChatContext:
        return self._chat_ctx.copy()

    @property
    def tools(self) -> llm.ToolContext:
        return self._tools.copy()

    async def update_instructions(self, instructions: str) -> None:
        self.instructions = instructions

    async def update_chat_ctx(self, chat_ctx: llm.ChatContext) -> None:
        self._chat_ctx = chat_ctx.copy()

    async def update_tools(self, tools: list[llm.Tool]) -> None:
        self._tools = llm.ToolContext(tools)

    def update_options(self, *, tool_choice: Any = None) -> None:
        return None

    def push_audio(self, frame: Any) -> None:
        return None

    def push_video(self, frame: Any) -> None:
        return None

    def generate_reply(self, **_: Any) -> Any:
        import asyncio

        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_exception(llm.RealtimeError("this model stays quiet"))
        return fut

    def commit_audio(self) -> None:
        return None

    def clear_audio(self) -> None:
        return None

    def interrupt(self) -> None:
        return None

    def truncate(self, **_: Any) -> None:
        return None

    async def aclose(self) -> None:
        return None


def leave(room: rtc.Room, participant: rtc.RemoteParticipant) -> None:
    """The participant leaves `room`, the way the server announces it."""
    room._on_room_event(
        room_pb2.RoomEvent(
            participant_disconnected=room_pb2.ParticipantDisconnected(
                participant_identity=participant.identity
            )
        )
    )


def disconnect(room: rtc.Room) -> None:
    """The room's connection ends, the way the SDK reports it."""
    room._on_room_event(room_pb2.RoomEvent(disconnected=room_pb2.Disconnected()))
