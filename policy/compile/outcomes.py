"""Outcomes: `defaults`, `profiles` (with `extends`) and each rule's `set`, checked and
merged once at load into a `Plan` per rule; instructions and greetings split into
templates whose `{{ placeholders }}` are filled per decision as plain text."""

from __future__ import annotations

import difflib
import re
from typing import Any

from .. import attributes as catalogue
from ..errors import Code, did_you_mean
from ..model import OutcomeFields, Profile
from ..parse.document import Path_
from ..runtime.decision import Outcome
from ..runtime.facts import FACTS
from ..runtime.outcome import PLACEHOLDER_LIMIT, Plan, Template
from ..runtime.sources import AttrSource, Source
from .catalogue import check_model, model_names, split_model
from .control import check_control, merge_session
from .state import Compiler
from .structure import validate

#: `{{ name }}` or `{{ name | fallback }}`
PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")
#: `{name}` (one brace) or `%(name)s`: placeholders of other tools
OTHER_PLACEHOLDER = re.compile(
    r"(?<!\{)\{\s*([A-Za-z_][\w.\-]*)\s*\}(?!\})|%\(([A-Za-z_][\w.\-]*)\)[sdifr]"
)
MODEL_STRING = re.compile(
    r"^[a-z0-9][a-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*(:[A-Za-z0-9_.\-]+)?$"
)
#: What a model string looks like, per kind: for STT the part after `:` is a language, for
#: TTS a voice (livekit-agents `inference.stt/tts._parse_model_string`).
MODEL_FORM = {
    "stt": ("provider/model[:language]", "deepgram/nova-2-phonecall:es"),
    "llm": ("provider/model", "openai/gpt-4.1-mini"),
    "tts": ("provider/model[:voice]", "cartesia/sonic-2"),
}
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def compile_defaults(c: Compiler) -> None:
    """The `defaults:` section, and the plan of callers no rule matches."""
    raw = c.doc.data.get("defaults")
    if raw is not None:
        fields = validate(c, OutcomeFields, raw, ("defaults",))
        if fields is not None:
            c.defaults = check_fields(c, fields, ("defaults",))
    c.default_plan = make_plan(c, [("defaults", c.defaults)])


def compile_profiles(c: Compiler) -> None:
    """The `profiles:` section: each profile checked, `extends` resolved, cycles reported."""
    raw = c.doc.data.get("profiles")
    if raw is not None and not isinstance(raw, dict):
        c.error(Code.INVALID_VALUE, "`profiles` must be a mapping of profile names", ("profiles",))
        return
    models: dict[str, Profile] = {}
    for name, body in (raw or {}).items():
        c.profile_names.append(name)
        p = validate(c, Profile, body if body is not None else {}, ("profiles", name))
        if p is not None:
            models[name] = p
            c.extends[name] = p.extends
    for name, p in models.items():
        c.profiles[name] = check_fields(c, p, ("profiles", name))
    for name, p in models.items():
        if p.extends is not None:
            _check_extends(c, name, p.extends)


def _check_extends(c: Compiler, name: str, base: str) -> None:
    if base not in c.profile_names:
        hint = did_you_mean(base, c.profiles)
        c.error(
            Code.UNKNOWN_PROFILE,
            f"profile `{name}` extends `{base}`, which is not a profile",
            ("profiles", name, "extends"),
            help=hint or "profiles: " + ", ".join(c.profiles),
        )
        return
    seen = [name]
    current: str | None = base
    while current is not None and current in c.profiles:
        if current in seen:
            if current == name:
                cycle = " → ".join([*seen, current])
                c.error(
                    Code.EXTENDS_CYCLE,
                    f"profiles extend each other in a circle: {cycle}",
                    ("profiles", name, "extends"),
                    help="one of them must not extend the others",
                )
            return
        seen.append(current)
        current = c.extends.get(current)


def _read_text(c: Compiler, rel: str, path: Path_) -> str | None:
    data = c.read(rel, path, "the instructions file")
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        c.error(
            Code.INVALID_VALUE,
            f"the instructions file `{rel}` is not UTF-8 text: the byte 0x{data[exc.start]:02x} "
            f"at line {line}, column {column} is not a UTF-8 character",
            path,
            help="save that file as UTF-8 (in most editors: Save As, encoding UTF-8)",
        )
        return None


def _template(c: Compiler, text: str, path: Path_, what: str) -> Template:
    parts: list[str | tuple[Source, str, int]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        parts.append(text[pos : m.start()])
        name, fallback = m.group(1), m.group(2) or ""
        if not name:
            c.error(
                Code.UNKNOWN_PLACEHOLDER,
                f"an empty placeholder `{m.group(0)}` in {what}",
                path,
                help="write the attribute name inside, e.g. {{ customer.name | there }}",
            )
        else:
            c.placeholders.append((name, path, what))
        info = c.declared.get(name)
        limit = info.max_length if info is not None and info.max_length else PLACEHOLDER_LIMIT
        parts.append((c.source(name), fallback, limit))
        pos = m.end()
    parts.append(text[pos:])
    _check_other_syntax(c, text, path, what)
    merged: list[str | tuple[Source, str, int]] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif p != "":
            merged.append(p)
    return Template(tuple(merged))


def _check_other_syntax(c: Compiler, text: str, path: Path_, what: str) -> None:
    """`{name}` and `%(name)s` (Python's and other tools' placeholders) outside `{{ }}`:
    sip-policy fills only `{{ name }}`, so callers would hear the braces."""
    bare = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)
    for m in OTHER_PLACEHOLDER.finditer(bare):
        name = m.group(1) or m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        where = f" (line {line})" if "\n" in text else ""
        c.warning(
            Code.PLACEHOLDER_SYNTAX,
            f"`{m.group(0)}` in {what}{where} is not a placeholder here: callers would hear "
            "it as written",
            c.within(path, text, m.start(), len(m.group(0))),
            help=f"write `{{{{ {name} }}}}` to put the value of `{name}` there",
        )


def check_placeholders(c: Compiler) -> None:
    """Placeholders name a LiveKit key, a derived fact, a declared attribute, or one the
    rules test; checked once every rule is read, so the order of sections does not matter."""
    seen: set[tuple[str, Path_]] = set()
    for name, path, what in c.placeholders:
        if (name, path) in seen:
            continue
        seen.add((name, path))
        known = (
            name in catalogue.KNOWN_KEYS
            or name in FACTS
            or not isinstance(c.source(name), AttrSource)
            or name in c.declared
            or name in c.used_attributes
            or (name.startswith("sip.h.") and name == name.lower())
        )
        if known:
            continue
        close = difflib.get_close_matches(name, [*c.declared, *FACTS, *c.used_attributes], n=1)
        hint = catalogue.suggest(name) or (close[0] if close else None)
        c.error(
            Code.UNKNOWN_PLACEHOLDER,
            f"the placeholder `{{{{ {name} }}}}` in {what} names no known attribute",
            path,
            help=(f"did you mean `{hint}`? " if hint else "")
            + "if it is your own attribute, declare it under `attributes:`",
        )


def _cached_template(c: Compiler, text: str, path: Path_, what: str) -> Template:
    """One template per place in the file, so a profile used by many rules is checked once."""
    key = tuple(path)
    if key not in c.templates:
        c.templates[key] = _template(c, text, path, what)
    return c.templates[key]


def check_fields(c: Compiler, fields: OutcomeFields, path: Path_) -> dict[str, Any]:
    """The fields set in one outcome block, checked; instructions read from their file."""
    out: dict[str, Any] = {}
    for key in ("stt", "llm", "tts"):
        value = getattr(fields, key)
        if value is None:
            continue
        form, example = MODEL_FORM[key]
        known = split_model(key, value)[0] in model_names(key)  # also a bare "cartesia"
        if not known and (not MODEL_STRING.match(value) or (key == "llm" and ":" in value)):
            c.error(
                Code.BAD_MODEL,
                f"`{value}` is not a model name of the form `{form}`",
                (*path, key),
                help=f'e.g. {key}: "{example}"',
            )
        else:
            check_model(c, key, value, (*path, key))
        out[key] = value
    if fields.instructions is not None and fields.instructions_file is not None:
        c.error(
            Code.CONFLICTING_KEYS,
            "give either `instructions` or `instructions_file`, not both",
            (*path, "instructions_file"),
            key=True,
        )
    if fields.instructions is not None:
        out["instructions"] = (fields.instructions, (*path, "instructions"), "instructions")
    elif fields.instructions_file is not None:
        text = _read_text(c, fields.instructions_file, (*path, "instructions_file"))
        if text is not None:
            what = f"the instructions file `{fields.instructions_file}`"
            out["instructions"] = (text, (*path, "instructions_file"), what)
    if fields.greeting is not None:
        out["greeting"] = (fields.greeting, (*path, "greeting"), "the greeting")
    if fields.tools is not None:
        for i, tool in enumerate(fields.tools):
            c.tool_uses.append((tool, (*path, "tools", i)))
            if not TOOL_NAME.match(tool):
                c.error(
                    Code.BAD_TOOL_NAME,
                    f"`{tool}` is not a tool name",
                    (*path, "tools", i),
                    help="tool names are letters, digits and `_`, e.g. transfer_to_human",
                )
        out["tools"] = tuple(dict.fromkeys(fields.tools))
    if fields.metadata is not None:
        out["metadata"] = fields.metadata
    check_control(c, fields, path, out)
    return out


def make_plan(c: Compiler, layers: list[tuple[str, dict[str, Any]]]) -> Plan:
    """Merge outcome layers, lowest first (defaults, base profiles, profile, rule). Rules
    with the same layers (the same profile, no `set` of their own) share one plan: a policy
    of 100,000 rules over 20 profiles holds 20 plans, templates and fixed outcomes."""
    key = tuple((origin, id(fields)) for origin, fields in layers)
    found = c.plans.get(key)
    if found is None:  # the layers are kept with the plan, so no id is reused meanwhile
        found = c.plans[key] = (_merge(c, layers), layers)
    return found[0]


def _merge(c: Compiler, layers: list[tuple[str, dict[str, Any]]]) -> Plan:
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for origin, fields in layers:
        for key, value in fields.items():
            if key == "session":
                merged[key] = merge_session(merged.get(key, {}), value)
                sources.update({f"session.{k}": origin for k in value})
                continue
            if key in ("reject", "transfer"):  # one action: the later layer's wins
                merged.pop("transfer" if key == "reject" else "reject", None)
                sources.pop("transfer" if key == "reject" else "reject", None)
            merged[key] = value
            sources[key] = origin
    base = Outcome(
        stt=merged.get("stt"),
        llm=merged.get("llm"),
        tts=merged.get("tts"),
        tools=merged.get("tools", ()),
        metadata=merged.get("metadata", {}),
        sources=sources,
        session=merged.get("session", {}),
        reject=merged.get("reject"),
        transfer=merged.get("transfer"),
        transfer_to=merged.get("transfer_to"),
        max_duration=merged.get("max_duration"),
    )
    texts = {
        key: _cached_template(c, *merged[key])
        for key in ("instructions", "greeting")
        if key in merged
    }
    return Plan(base, texts.get("instructions"), texts.get("greeting"))


def profile_layers(c: Compiler, name: str) -> list[tuple[str, dict[str, Any]]]:
    """The outcome layers of profile `name`: its `extends` chain, base first."""
    chain: list[str] = []
    current: str | None = name
    while current is not None and current in c.profiles:
        if current in chain:
            break
        chain.append(current)
        current = c.extends.get(current)
    return [(f"profile:{p}", c.profiles[p]) for p in reversed(chain)]
