"""The rules file as pydantic models: the structure, the types, and the JSON Schema that
editors use to complete keys. Unknown keys are refused everywhere. Conditions (`when`) are
checked by the compiler, which knows operators, attributes and positions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .sdk import session_schema

OUTCOME_KEYS = (
    "stt",
    "llm",
    "tts",
    "instructions",
    "instructions_file",
    "greeting",
    "tools",
    "metadata",
    "session",
    "reject",
    "transfer",
    "transfer_to",
    "max_duration",
)

_STRICT = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

_ATTRIBUTE_VALUE: dict[str, Any] = {
    "description": "A condition on one attribute: exact text, a list (any of), or operators",
    "anyOf": [
        {"type": "string", "description": "equals this text exactly"},
        {"type": "array", "items": {"type": "string"}, "description": "equals any of these"},
        {"$ref": "#/$defs/Operators"},
    ],
}

OPERATORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "equals": {"type": "string", "description": "exactly this text"},
        "one_of": {"type": "array", "items": {"type": "string"}, "description": "any of these"},
        "prefix": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "starts with (one or several); phone numbers compare in E.164",
        },
        "suffix": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "contains": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "regex": {"type": "string", "description": "RE2 pattern; the whole value must match"},
        "exists": {"type": "boolean", "const": True},
        "missing": {"type": "boolean", "const": True},
        "country": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "phone numbers: ISO country code(s) of the number, e.g. [MX, ES]",
        },
        "area": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": 'phone numbers: area code(s) in `settings.default_region` ("415") '
            'or with the country code ("+1 415")',
        },
        "type": {
            "anyOf": [
                {"$ref": "#/$defs/NumberType"},
                {"type": "array", "items": {"$ref": "#/$defs/NumberType"}},
            ],
            "description": "phone numbers: the kind of line (libphonenumber)",
        },
        "valid": {
            "type": "boolean",
            "description": "phone numbers: a real, assigned number (false: the carrier sent "
            "something else)",
        },
        "withheld": {
            "type": "boolean",
            "description": "phone numbers: the caller hid the number (missing, `anonymous`...)",
        },
    },
}

NUMBER_TYPE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": [
        "mobile",
        "fixed_line",
        "fixed_line_or_mobile",
        "toll_free",
        "premium_rate",
        "shared_cost",
        "voip",
        "personal_number",
        "pager",
        "uan",
        "voicemail",
        "unknown",
    ],
}

WHEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Conditions; several side by side must all hold",
    "properties": {
        "kind": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "participant kind: sip, standard, connector, agent, ingress, egress, bridge",
        },
        "all": {"type": "array", "items": {"$ref": "#/$defs/When"}},
        "any": {"type": "array", "items": {"$ref": "#/$defs/When"}},
        "not": {"$ref": "#/$defs/When"},
        "expr": {"type": "string", "description": 'e.g. attrs["customer.tier"] == "gold"'},
        "during": {"type": "string", "description": "the call falls inside this schedule"},
        "outside": {"type": "string", "description": "the call falls outside this schedule"},
    },
    "additionalProperties": _ATTRIBUTE_VALUE,
}


class Reject(BaseModel):
    """Refuse the call: say `say` (with the TTS), then hang up; without `say`, hang up at
    once, before any agent starts."""

    model_config = _STRICT

    say: str | None = Field(None, description="what the caller hears before the line drops")


class Transfer(BaseModel):
    """Send the call elsewhere at once (a cold SIP transfer), after saying `say` if given."""

    model_config = _STRICT

    to: str = Field(description='where to: "+15105550199" (E.164) or "sip:desk@pbx.example.com"')
    say: str | None = Field(None, description="what the caller hears before the transfer")


class MaxDuration(BaseModel):
    """End the call politely after a set time."""

    model_config = _STRICT

    after: int | str = Field(description='seconds, or "90s", "15m", "1h"')
    say: str | None = Field(
        None, description="the goodbye said word for word; without it the LLM says goodbye"
    )


_SESSION_DESCRIPTION = (
    "per-call AgentSession options of livekit-agents (endpointing, interruption, "
    "preemptive_generation, user_away_timeout, max_tool_steps, keyterms...); names and types "
    "are checked against the installed livekit-agents"
)


class OutcomeFields(BaseModel):
    """What a call gets. Every field is optional: what is left out comes from the profile
    this extends, then from `defaults`."""

    model_config = _STRICT

    stt: str | None = Field(None, description="speech-to-text model `provider/model[:language]`")
    llm: str | None = Field(None, description="LLM model `provider/model`")
    tts: str | None = Field(None, description="text-to-speech model `provider/model[:voice]`")
    instructions: str | None = Field(
        None, description="the system prompt; `{{ attribute | fallback }}` placeholders allowed"
    )
    instructions_file: str | None = Field(
        None, description="a file beside the rules holding the instructions"
    )
    greeting: str | None = Field(None, description="what the agent says first")
    tools: list[str] | None = Field(None, description="names of the tools the agent may call")
    metadata: dict[str, Any] | None = Field(None, description="free-form data for your own code")
    session: dict[str, Any] | None = Field(None, description=_SESSION_DESCRIPTION)
    reject: Reject | None = Field(
        None,
        description="refuse the call instead of starting the agent (in a rule or profile, "
        "not in defaults)",
    )
    transfer: Transfer | None = Field(
        None,
        description="transfer the call at once instead of starting the agent (in a rule or "
        "profile, not in defaults)",
    )
    transfer_to: str | None = Field(
        None,
        description="where the `transfer_to_human` tool sends the caller: E.164 or a sip: URI",
    )
    max_duration: int | str | MaxDuration | None = Field(
        None, description='end the call politely after this long: seconds, "15m", or {after, say}'
    )


class Profile(OutcomeFields):
    """A named set-up that rules pick with `use:`."""

    extends: str | None = Field(None, description="another profile this one starts from")
    description: str | None = None


class SplitVariant(BaseModel):
    """One variant of a `split:` rule: a profile and its share of callers."""

    model_config = _STRICT

    use: str = Field(description="the profile this variant applies")
    weight: float = Field(description="its share, relative to the other variants' (e.g. 90 and 10)")


class Rule(BaseModel):
    """Tried top to bottom; the first rule whose conditions all hold decides."""

    model_config = _STRICT

    name: str = Field(description="unique name, shown in decisions and logs")
    description: str | None = None
    when: dict[str, Any] | None = Field(None, description="conditions that must all hold")
    use: str | None = Field(None, description="the profile this rule applies")
    set: OutcomeFields | None = Field(None, description="fields that override the profile")
    enabled: bool = Field(True, description="false keeps the rule in the file but never matches it")
    table: str | None = Field(
        None,
        description="a CSV file beside the rules: one rule per row, tried in row order here "
        "(columns: attribute names, `use`, optional `name`)",
    )
    mode: Literal["live", "shadow"] = Field(
        "live",
        description="shadow: the rule is tried and reported as `would_match`, but never decides",
    )
    split: list[SplitVariant] | None = Field(
        None,
        description="weighted variants instead of `use:`, the same one for a caller on every "
        "call, e.g. [{use: prompt-a, weight: 90}, {use: prompt-b, weight: 10}]",
    )
    split_by: str | None = Field(
        None,
        description="the attribute a split keeps callers apart by (default `sip.phoneNumber`, "
        "then `sip.callID`)",
    )


class AttributeInfo(BaseModel):
    """A custom attribute your trunk or dispatch rule sets (e.g. from an X- header)."""

    model_config = _STRICT

    description: str | None = None
    phone: bool = Field(False, description="the value is a phone number: compare it in E.164")
    max_length: int | None = Field(
        None,
        ge=1,
        le=4000,
        description="the most characters a `{{ placeholder }}` of this attribute puts into "
        "instructions or a greeting (default 64: a caller-set header cannot smuggle a "
        "paragraph of orders into the prompt)",
    )
    sensitive: bool | None = Field(
        None,
        description="true: always masked in logs and hidden by `explain` unless asked; "
        "false: logged in clear (not caller data, e.g. a tier); unset: masked in logs",
    )


class ToolInfo(BaseModel):
    """A tool the worker registers, declared so `check` knows every name a rule may use."""

    model_config = _STRICT

    description: str | None = None


class Settings(BaseModel):
    model_config = _STRICT

    default_region: str | None = Field(
        None, description="ISO country for numbers that come without a country code, e.g. US"
    )
    trunk_regions: dict[str, str] | None = Field(
        None, description="per `sip.trunkID` default region, overriding `default_region`"
    )
    allow_models: list[str] | None = Field(
        None,
        description="model names to accept although the installed livekit-agents does not "
        "list them (a model new on LiveKit Inference), e.g. [deepgram/nova-4]",
    )


class Schedule(BaseModel):
    """Named opening hours in one time zone. The schema for editors; `policy.schedule`
    checks the values (days, hours, dates, zone) with positions."""

    model_config = _STRICT

    description: str | None = None
    timezone: str = Field(description="IANA time zone, e.g. America/Los_Angeles")
    hours: dict[str, str | list[str]] = Field(
        description='weekly hours by day or days (mon, mon-fri, "sat, sun", weekdays, daily): '
        '"09:00-17:30", a list of ranges, or "closed"; days left out are closed; '
        '"22:00-06:00" runs past midnight'
    )
    holidays: list[str] | None = Field(
        None, description='closed all day: "2026-12-25", or "12-25" for every year'
    )
    exceptions: dict[str, str | list[str]] | None = Field(
        None, description='other hours on one date ("2026-12-24" or "12-24"): ranges or "closed"'
    )


class RulesFile(BaseModel):
    """The whole rules file."""

    model_config = _STRICT

    version: int = Field(1, description="the format version; 1")
    settings: Settings | None = None
    attributes: dict[str, AttributeInfo] | None = Field(
        None, description="your own attributes, declared for typo checks, placeholders and masking"
    )
    tools: dict[str, ToolInfo] | None = Field(
        None,
        description="the tools the worker registers: `check` refuses any other name, and the "
        "worker refuses to start when one of these is not registered",
    )
    defaults: OutcomeFields | None = None
    profiles: dict[str, Profile] | None = None
    schedules: dict[str, Schedule] | None = Field(
        None, description="named opening hours, for `during:` and `outside:` conditions"
    )
    rules: list[Rule] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the rules file, for editors (`sip-policy schema`)."""
    schema = RulesFile.model_json_schema()
    defs = schema.setdefault("$defs", {})
    defs["Rule"]["properties"]["when"] = {
        "$ref": "#/$defs/When",
        "description": "conditions that must all hold",
    }
    defs["When"] = WHEN_SCHEMA
    defs["Operators"] = OPERATORS_SCHEMA
    defs["NumberType"] = NUMBER_TYPE_SCHEMA
    defs["Session"] = session_schema()
    for name in ("OutcomeFields", "Profile"):
        defs[name]["properties"]["session"] = {
            "anyOf": [{"$ref": "#/$defs/Session"}, {"type": "null"}],
            "description": _SESSION_DESCRIPTION,
        }
    _no_null_wrappers(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sip-policy rules"
    return schema


def _no_null_wrappers(node: Any) -> None:
    """`anyOf: [{object...}, {type: null}]` (pydantic's optional mapping) → the object schema
    itself. Under `anyOf` an editor can only say the whole section is wrong; without it, a
    typo inside `profiles` or `schedules` is underlined at its own key."""
    if isinstance(node, list):
        for item in node:
            _no_null_wrappers(item)
        return
    if not isinstance(node, dict):
        return
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if other.get("type") == "object" or "$ref" in other:
            del node["anyOf"]
            node.pop("default", None)
            node.update(other)
    for value in node.values():
        _no_null_wrappers(value)
