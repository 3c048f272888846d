"""The top of the file: that it is a mapping, its `version`, its top-level keys, then the
`settings:` and `attributes:` sections every later stage reads."""

from __future__ import annotations

from ..errors import Code, PolicyError
from ..model import AttributeInfo, RulesFile, Settings
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
