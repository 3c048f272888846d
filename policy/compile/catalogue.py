"""What the installed livekit-agents accepts, read from `policy/catalogue.json` (written by
`make catalogue` from the SDK itself, so `check` never imports livekit): the LiveKit
Inference model names, and the per-call session options with their types.

A model string is `provider/model[:suffix]`: for STT the suffix is a language
(`deepgram/nova-3:es`), for TTS a voice (`cartesia/sonic-2:<voice id>`); an LLM has none.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from typing import Any

from ..errors import Code, did_you_mean
from ..parse.document import Path_
from ..sdk import catalogue, session_options
from .state import Compiler

ARTICLE = {"stt": "an STT", "llm": "an LLM", "tts": "a TTS"}
#: `es`, `pt-BR`, `multi`: a language code where a TTS voice belongs
LANGUAGE = re.compile(r"^(?:[a-z]{2,3}(?:-[A-Za-z]{2,4})?|multi)$")


def sdk_version() -> str:
    return str(catalogue()["livekit_agents"])


@functools.cache
def model_names(kind: str) -> frozenset[str]:
    """The model names LiveKit Inference knows for `kind` (`llm` includes realtime and
    duplex models)."""
    models = catalogue()["models"]
    if kind == "llm":
        return frozenset([*models["llm"], *models["realtime"], *models["duplex"]])
    return frozenset(models[kind])


def is_realtime(model: str | None) -> bool:
    """A speech-to-speech model: it hears and speaks itself (no STT, no TTS used)."""
    if not model:
        return False
    models = catalogue()["models"]
    return model in models["realtime"] or model in models["duplex"]


def split_model(kind: str, value: str) -> tuple[str, str | None]:
    """(`provider/model`, what follows the last `:`) for STT and TTS; an LLM has no suffix."""
    if kind != "llm" and ":" in value:
        base, _, suffix = value.rpartition(":")
        return base, suffix
    return value, None


def check_model(c: Compiler, kind: str, value: str, path: Path_) -> None:
    """`value` names a model the installed livekit-agents knows, else a warning with
    "did you mean" (the catalogue may lag behind LiveKit Inference: `--strict` fails on it,
    `settings.allow_models` accepts a model on purpose)."""
    allowed = c.settings.allow_models or []
    base, suffix_text = split_model(kind, value)
    known = model_names(kind)
    if kind == "tts" and suffix_text is not None and LANGUAGE.match(suffix_text):
        c.warning(
            Code.UNKNOWN_MODEL,
            f"`{suffix_text}` in `{value}` looks like a language, but for TTS what follows "
            "`:` is a voice",
            path,
            help=f"write a voice id of the provider after `:` (`{base}:<voice id>`), or "
            f'leave it out for the default voice: "{base}"',
        )
    if base in known or value in allowed or base in allowed:
        return
    close = difflib.get_close_matches(base, sorted(known), n=1, cutoff=0.75)
    suffix = value[len(base) :]
    hint = f"did you mean `{close[0]}{suffix}`? " if close else ""
    c.warning(
        Code.UNKNOWN_MODEL,
        f"`{base}` is not {ARTICLE[kind]} model livekit-agents {sdk_version()} knows",
        path,
        help=hint + "if it is new on LiveKit Inference, list it in `settings.allow_models`",
    )


# -- session options ------------------------------------------------------------------------


def describe(t: Any) -> str:
    """A type of the catalogue in words: `a number`, `true or false`, `one of fixed, dynamic`."""
    if isinstance(t, str):
        return {
            "bool": "true or false",
            "int": "a whole number",
            "float": "a number",
            "str": "text",
            "null": "null",
        }[t]
    if "enum" in t:
        return "one of " + ", ".join(str(v) for v in t["enum"])
    if "list" in t:
        return f"a list of {describe(t['list'])}"
    if "tuple" in t:
        return "a list of " + ", ".join(describe(x) for x in t["tuple"])
    if "any_of" in t:
        return " or ".join(describe(x) for x in t["any_of"])
    return "a mapping of " + ", ".join(t["keys"])


def fits(value: Any, t: Any) -> bool:
    """`value` (as YAML read it) is of catalogue type `t`; nested mappings are checked by
    `check_value`."""
    if isinstance(t, str):
        if t == "bool":
            return isinstance(value, bool)
        if t == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if t == "float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return ok and math.isfinite(value)
        if t == "str":
            return isinstance(value, str)
        return value is None
    if "enum" in t:
        return isinstance(value, str) and value in t["enum"]
    if "list" in t:
        return isinstance(value, list) and all(fits(v, t["list"]) for v in value)
    if "tuple" in t:
        return (
            isinstance(value, list)
            and len(value) == len(t["tuple"])
            and all(fits(v, x) for v, x in zip(value, t["tuple"], strict=True))
        )
    if "any_of" in t:
        return any(fits(value, x) for x in t["any_of"])
    return isinstance(value, dict)


def _keys_type(t: Any) -> dict[str, Any] | None:
    if isinstance(t, dict) and "keys" in t:
        keys: dict[str, Any] = t["keys"]
        return keys
    return None


def check_value(c: Compiler, value: Any, t: Any, path: Path_, name: str) -> bool:
    """Report why `value` is not of type `t` (nested option names checked too)."""
    keys = _keys_type(t)
    if keys is not None and isinstance(value, dict):
        ok = True
        for key, item in value.items():
            if key not in keys:
                hint = did_you_mean(str(key), list(keys))
                c.error(
                    Code.UNKNOWN_OPTION,
                    f"`{name}` has no option `{key}`",
                    (*path, key),
                    key=True,
                    help=(hint + " " if hint else "") + f"options of `{name}`: " + ", ".join(keys),
                )
                ok = False
            elif not check_value(c, item, keys[key], (*path, key), f"{name}.{key}"):
                ok = False
        return ok
    if fits(value, t):
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            c.error(
                Code.INVALID_VALUE,
                f"`{name}` cannot be negative",
                path,
                help="use 0 or more (seconds, words, steps)",
            )
            return False
        return True
    c.error(
        Code.INVALID_VALUE,
        f"`{name}` must be {describe(t)}",
        path,
        help=f"see `{name}` in docs/reference.md#session",
    )
    return False


def check_session(c: Compiler, raw: dict[str, Any], path: Path_) -> dict[str, Any]:
    """The `session:` mapping of one outcome block: each option known to the installed
    livekit-agents, of the right type; the valid ones kept."""
    known = session_options()
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = (*path, key)
        if key not in known:
            hint = did_you_mean(str(key), list(known))
            c.error(
                Code.UNKNOWN_OPTION,
                f"`{key}` is not a session option of livekit-agents {sdk_version()}",
                where,
                key=True,
                help=(hint + " " if hint else "") + "options: " + ", ".join(known),
            )
            continue
        if check_value(c, value, known[key]["type"], where, str(key)):
            out[key] = value
            detector = value.get("llm") if isinstance(value, dict) else None
            if key == "keyterm_detection" and isinstance(detector, str):
                check_model(c, "llm", detector, (*where, "llm"))
    return out
