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
from typing import Any

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
