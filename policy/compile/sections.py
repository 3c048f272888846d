"""The top of the file: that it is a mapping, its `version`, its top-level keys, then the
`settings:` and `attributes:` sections every later stage reads."""

from __future__ import annotations

import difflib

from ..errors import Code, PolicyError
from ..model import AttributeInfo, RulesFile, Settings, ToolInfo
from .phone import check_regions
from .state import Compiler
from .structure import validate


def check_top(c: Compiler) -> None:
    """The file is a mapping (else nothing else can be read: stop here), of a known version;
    each section's structure is checked by its own stage, so one bad rule hides nothing."""
    data = c.doc.data
    if not isinstance(data, dict):
        c.error(
            Code.INVALID_FILE,
            "the rules file must be a mapping with `rules:` (and `defaults:`, `profiles:`)",
            (),
            help="start from the sample rules.yaml",
        )
        raise PolicyError(c.diagnostics)
    if not data:
        c.error(
            Code.EMPTY_RULES,
            "the rules file is empty: the worker would answer every call with no models, "
            "no instructions and no tools",
            (),
            help="run `sip-policy init` for a commented starter file, or write `defaults:` "
            "and `rules:`",
        )
        raise PolicyError(c.diagnostics)
    version = data.get("version")
    if "version" in data and version != 1 and isinstance(version, int):
        c.error(
            Code.INVALID_VALUE,
            f"`version: {version}` is not a format this sip-policy reads",
            ("version",),
            help="write `version: 1`, or upgrade sip-policy",
        )
    shallow = {k: (v if k == "version" else None) for k, v in data.items() if k != "rules"}
    validate(c, RulesFile, shallow, ())
    _read_misspelled_sections(c)


def _read_misspelled_sections(c: Compiler) -> None:
    """`setting:` for `settings:` is reported once (as an unknown key, with "did you mean");
    the section is then read under its right name, so what it holds (a default region...)
    does not turn into a flood of consequences further down."""
    data = c.doc.data
    sections = [k for k in RulesFile.model_fields if k != "version"]
    for key in list(data):
        if key in RulesFile.model_fields or not isinstance(key, str):
            continue
        close = difflib.get_close_matches(key, sections, n=1, cutoff=0.75)
        if close and close[0] not in data:
            data[close[0]] = data[key]
            c.doc.alias((key,), (close[0],))


def compile_settings(c: Compiler) -> None:
    settings = validate(c, Settings, c.doc.data.get("settings") or {}, ("settings",))
    if settings is not None:
        c.settings = settings
        check_regions(c)


def compile_attributes(c: Compiler) -> None:
    raw = c.doc.data.get("attributes")
    if raw is None:
        return
    if not isinstance(raw, dict):
        c.error(
            Code.INVALID_VALUE, "`attributes` must be a mapping of attribute names", ("attributes",)
        )
        return
    for name, info in raw.items():
        model = validate(c, AttributeInfo, info or {}, ("attributes", name))
        if model is not None:
            c.declared[name] = model


def compile_tools(c: Compiler) -> None:
    """The `tools:` section: the names the worker registers."""
    raw = c.doc.data.get("tools")
    if raw is None:
        return
    if not isinstance(raw, dict):
        c.error(
            Code.INVALID_VALUE,
            "`tools` must be a mapping of tool names",
            ("tools",),
            help="e.g. tools: {end_call: {description: hang up}, lookup_order: {}}",
        )
        return
    c.declared_tools = {}
    for name, info in raw.items():
        model = validate(c, ToolInfo, info or {}, ("tools", name))
        if model is not None:
            c.declared_tools[name] = model


def check_tools(c: Compiler) -> None:
    """Every tool an outcome names is declared under `tools:`; without that section, say
    that `check` cannot know whether the worker will start."""
    if c.declared_tools is None:
        if c.tool_uses:
            names = ", ".join(dict.fromkeys(n for n, _ in c.tool_uses))
            c.warning(
                Code.UNDECLARED_TOOLS,
                f"the rules name tools ({names}) but do not declare them under `tools:`, so "
                "`check` cannot tell whether the worker will start",
                c.tool_uses[0][1],
                help="list the tools your worker registers under `tools:` (like "
                "`attributes:`), or run `sip-policy check --tools MODULE`",
            )
        return
    known = list(c.declared_tools)
    for name, path in c.tool_uses:
        if name not in c.declared_tools:
            c.unknown(
                Code.UNKNOWN_TOOL,
                f"the tool `{name}` is not declared under `tools:`",
                path,
                name,
                known,
                "tools",
            )
