"""What the installed livekit-agents accepts, as data: `policy/catalogue.json`, written by
`make catalogue` (`policy.livekit.catalogue`) from the SDK itself, so that `check`,
`schema` and the compiler never import livekit. Read once, on first use."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def catalogue() -> dict[str, Any]:
    """The committed catalogue: `livekit_agents` (its version), `models`, `session`."""
    text = resources.files("policy").joinpath("catalogue.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def session_options() -> dict[str, dict[str, Any]]:
    """Each key a rule may write under `session:`: `arg` (the `AgentSession` argument it goes
    into, null for its own), `type`, and `default` where the SDK has one."""
    options: dict[str, dict[str, Any]] = catalogue()["session"]
    return options


def json_type(t: Any) -> dict[str, Any]:
    """A catalogue type as JSON Schema, for editors."""
    if isinstance(t, str):
        return {"type": {"bool": "boolean", "int": "integer", "float": "number"}.get(t, t)}
    if "enum" in t:
        return {"enum": list(t["enum"])}
    if "list" in t:
        return {"type": "array", "items": json_type(t["list"])}
    if "tuple" in t:
        items = [json_type(x) for x in t["tuple"]]
        return {
            "type": "array",
            "prefixItems": items,
            "minItems": len(items),
            "maxItems": len(items),
        }
    if "any_of" in t:
        return {"anyOf": [json_type(x) for x in t["any_of"]]}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {k: json_type(v) for k, v in t["keys"].items()},
    }


def session_schema() -> dict[str, Any]:
    """The JSON Schema of `session:`, from the catalogue."""
    version = catalogue()["livekit_agents"]
    props = {}
    for name, option in session_options().items():
        schema = json_type(option["type"])
        where = f"`{option['arg']}`" if option["arg"] else "an argument of its own"
        schema["description"] = f"AgentSession option ({where}, livekit-agents {version})"
        props[name] = schema
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "per-call AgentSession options of livekit-agents",
        "properties": props,
    }
