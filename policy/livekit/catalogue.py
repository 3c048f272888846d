"""Writes `policy/catalogue.json` from the installed livekit-agents: the LiveKit Inference
model names (the `STTModels`, `LLMModels`, `TTSModels`, realtime and duplex `Literal`
unions) and the per-call session options (`AgentSession.__init__` and the
`TurnHandlingOptions` / `STTContextOptions` TypedDicts), with their types.

    python -m policy.livekit.catalogue          # or: make catalogue

`check` reads the JSON and never imports livekit; `tests/test_catalogue.py` rebuilds it
in memory and fails when the installed SDK and the committed data differ.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from livekit.agents import inference
from livekit.agents.inference import _realtime_models as realtime
from livekit.agents.inference import llm as inference_llm
from livekit.agents.inference import stt as inference_stt
from livekit.agents.inference import tts as inference_tts
from livekit.agents.types import NotGiven
from livekit.agents.version import __version__
from livekit.agents.voice import agent_session, keyterm_detection, turn
from typing_extensions import is_typeddict  # the SDK's TypedDicts come from typing_extensions

OUT = Path(__file__).resolve().parent.parent / "catalogue.json"

#: `AgentSession(...)` arguments a rule may set per caller (the others are objects, hooks
#: or process-wide settings: `vad`, `tools`, `userdata`, `conn_options`, `loop`...).
SESSION_ARGS = (
    "max_tool_steps",
    "min_consecutive_speech_delay",
    "ivr_detection",
    "user_away_timeout",
    "transcription_timeout",
    "aec_warmup_duration",
    "use_tts_aligned_transcript",
)
#: TypedDict arguments whose keys a rule sets directly under `session:`.
GROUPED: tuple[tuple[str, type], ...] = (
    ("turn_handling", turn.TurnHandlingOptions),
    ("stt_context_options", keyterm_detection.STTContextOptions),
)

_SCALARS: dict[Any, str] = {bool: "bool", int: "int", float: "float", str: "str"}


def type_of(tp: Any) -> Any:
    """A JSON description of a type a YAML value can have, or None when no YAML value can
    be one (an SDK object such as an `LLM` instance): `"bool"`, `"int"`, `"float"`,
    `"str"`, `"null"`, `{"enum": [...]}`, `{"list": T}`, `{"tuple": [T, ...]}`,
    `{"any_of": [T, ...]}`, `{"keys": {name: T}}` (a TypedDict)."""
    if tp is type(None) or tp is None:
        return "null"
    if tp in _SCALARS:
        return _SCALARS[tp]
    if is_typeddict(tp):
        return {"keys": keys_of(tp)}
    origin = get_origin(tp)
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (Union, types.UnionType):
        parts: list[Any] = []
        for arg in get_args(tp):
            if arg is NotGiven:
                continue
            t = type_of(arg)
            if t is not None and t not in parts:
                parts.append(t)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"any_of": parts}
    if origin in (list, typing.Sequence, tuple) and origin is not tuple:
        item = type_of(get_args(tp)[0])
        return None if item is None else {"list": item}
    if origin is tuple:
        items = [type_of(a) for a in get_args(tp)]
        return None if None in items else {"tuple": items}
    return None


def keys_of(typed_dict: type) -> dict[str, Any]:
    hints = typing.get_type_hints(typed_dict)
    out = {}
    for name, tp in hints.items():
        t = type_of(tp)
        if t is not None:
            out[name] = t
    return out


def session_options() -> dict[str, dict[str, Any]]:
    """Each key a rule may write under `session:`: the `AgentSession` argument it goes to
    (`null`: an argument of its own), its type, and the SDK's default where it has one."""
    params = inspect.signature(agent_session.AgentSession.__init__).parameters
    namespace = vars(agent_session)
    out: dict[str, dict[str, Any]] = {}
    for name in SESSION_ARGS:
        p = params[name]  # a KeyError here: the SDK renamed an option; update SESSION_ARGS
        annotation = (
            eval(p.annotation, namespace) if isinstance(p.annotation, str) else p.annotation
        )
        entry: dict[str, Any] = {"arg": None, "type": type_of(annotation)}
        if p.default is not inspect.Parameter.empty and isinstance(
            p.default, (bool, int, float, type(None))
        ):
            entry["default"] = p.default
        out[name] = entry
    for arg, typed_dict in GROUPED:
        for key, t in keys_of(typed_dict).items():
            out[key] = {"arg": arg, "type": t}
    return dict(sorted(out.items()))


def _names(union: Any) -> list[str]:
    """Every string of a union of `Literal`s, nested unions walked."""
    out: list[str] = []
    for arg in get_args(union):
        if isinstance(arg, str):
            out.append(arg)
        else:
            out.extend(_names(arg))
    return out


def build() -> dict[str, Any]:
    """The catalogue of the installed livekit-agents, as written to `policy/catalogue.json`."""
    return {
        "livekit_agents": __version__,
        "models": {
            "stt": sorted(set(_names(inference_stt.STTModels))),
            "stt_languages": sorted(set(_names(inference_stt.STTLanguages))),
            "llm": sorted(set(_names(inference_llm.LLMModels))),
            "realtime": sorted(
                set(_names(realtime.RealtimeModels)) | set(realtime.DEPRECATED_REALTIME_MODELS)
            ),
            "duplex": sorted(set(_names(inference.DuplexModels))),
            "tts": sorted(set(_names(inference_tts.TTSModels))),
        },
        "session": session_options(),
    }


def dumps(catalogue: Mapping[str, Any]) -> str:
    return json.dumps(catalogue, indent=1, sort_keys=False) + "\n"


def main() -> int:
    OUT.write_text(dumps(build()), encoding="utf-8")
    print(f"wrote {OUT} (livekit-agents {__version__})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
