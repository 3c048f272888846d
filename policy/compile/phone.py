"""The phone operators (`country`, `area`, `type`, `valid`, `withheld`) and the checks of
`settings.default_region` / `settings.trunk_regions`. Reading numbers, and checking
number literals, is the business of `policy.runtime.phone`'s sources."""

from __future__ import annotations

from typing import Any

from ..errors import Code
from ..parse.document import Path_
from ..runtime.conditions import Cond, Equals, Prefix
from ..runtime.phone import (
    PhoneSource,
    area_prefix,
    country_code,
    country_problem,
    phone_source,
    type_key,
)
from ..runtime.sources import LiteralProblem, Source
from .state import Compiler, OperatorFn


def _number_attribute(c: Compiler, source: Source, path: Path_, op: str) -> PhoneSource | None:
    if isinstance(source, PhoneSource) and source.field == "value":
        return source
    c.error(
        Code.NOT_A_PHONE_NUMBER,
        f"`{op}` needs a phone number, and `{source.name}` is not declared as one",
        path,
        key=True,
        help="use it on `sip.phoneNumber` or `sip.trunkPhoneNumber`, or declare your "
        "attribute under `attributes:` with `phone: true`",
    )
    return None


def _field(source: PhoneSource, field: str) -> PhoneSource:
    return phone_source(source.attr, field, None, source.region)


def _fact_equals(field: str) -> OperatorFn:
    """`country: [MX, ES]`, `type: mobile`: one of these values of a fact of the number."""

    def compile_fact(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
        phone = _number_attribute(c, source, path, field)
        values = c.texts(arg, path, f"`{field}`")
        if phone is None or values is None:
            return None
        fact = _field(phone, field)
        ok = True
        for i, value in enumerate(values):
            problem = fact.literal_problem(value)
            if problem is not None:
                where = (*path, i) if isinstance(arg, list) else path
                c.error(problem.code, problem.message, where, help=problem.help)
                ok = False
        return Equals(fact, [fact.normalize(v) for v in values]) if ok else None

    return compile_fact


country = _fact_equals("country")
type_ = _fact_equals("type")


def _flag(name: str) -> OperatorFn:
    def compile_flag(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
        phone = _number_attribute(c, source, path, name)
        if phone is None:
            return None
        if not isinstance(arg, bool):
            c.error(
                Code.INVALID_VALUE,
                f"`{name}` takes true or false",
                path,
                help=f"write `{name}: true`",
            )
            return None
        return Equals(_field(phone, name), ["true" if arg else "false"])

    return compile_flag


valid = _flag("valid")
withheld = _flag("withheld")


def area(c: Compiler, source: Source, arg: Any, path: Path_) -> Cond | None:
    phone = _number_attribute(c, source, path, "area")
    values = c.texts(arg, path, "`area`")
    if phone is None or values is None:
        return None
    prefixes: list[str] = []
    for i, value in enumerate(values):
        vpath = (*path, i) if isinstance(arg, list) else path
        prefix = area_prefix(value, phone.region)
        if prefix is not None:
            prefixes.append(prefix)
            continue
        if phone.region is None and not value.strip().startswith(("+", "00")):
            c.error(
                Code.BAD_PHONE_PREFIX,
                f"`{value}` needs a country: no `settings.default_region` is set",
                vpath,
                help="set `settings: {default_region: US}`, or write the country code too, "
                'e.g. "+1 415"',
            )
        else:
            c.error(
                Code.BAD_PHONE_PREFIX,
                f"`{value}` is not an area code",
                vpath,
                help='write the area code as dialled in `settings.default_region`, e.g. "415", '
                'or with the country code, e.g. "+1 415"',
            )
    if len(prefixes) != len(values):
        return None
    return Prefix(phone, prefixes)


def _region(c: Compiler, value: str, path: Path_) -> str | None:
    """The ISO code a region setting stands for, or None after reporting."""
    problem: LiteralProblem | None = country_problem(value)
    if problem is not None:
        c.error(problem.code, problem.message, path, help=problem.help)
        return None
    return country_code(value)


def check_regions(c: Compiler) -> None:
    """`settings.default_region` and `settings.trunk_regions`: countries, in canonical form."""
    settings = c.settings
    update: dict[str, Any] = {}
    if settings.default_region is not None:
        code = _region(c, settings.default_region, ("settings", "default_region"))
        if code is not None and code != settings.default_region:
            update["default_region"] = code
    if settings.trunk_regions:
        regions: dict[str, str] = {}
        for trunk, region in settings.trunk_regions.items():
            code = _region(c, region, ("settings", "trunk_regions", trunk))
            regions[trunk] = code or region
            if not trunk.startswith("ST_"):
                c.warning(
                    Code.UNKNOWN_TRUNK,
                    f"`{trunk}` does not look like a LiveKit trunk ID",
                    ("settings", "trunk_regions", trunk),
                    key=True,
                    help="trunk IDs start with `ST_`; the region applies when `sip.trunkID` "
                    "equals the key",
                )
        if regions != settings.trunk_regions:
            update["trunk_regions"] = regions
    if update:
        c.settings = settings.model_copy(update=update)


__all__ = ["area", "check_regions", "country", "type_", "type_key", "valid", "withheld"]
