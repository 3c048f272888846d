"""Phone numbers as people who route calls think of them: the country, the area, the kind of
line, whether the caller hid the number.

Carriers send the same caller as `+14155550176`, `14155550176` or `(415) 555-0176`. Every
phone attribute (`sip.phoneNumber`, `sip.trunkPhoneNumber`, and custom attributes declared
`phone: true`) is read with Google's libphonenumber into E.164 at most once per decision, and
rule literals are normalized at load with the same function, so `prefix: "+1415"` matches
all three and the exact/prefix index keeps working. Facts about a number (`caller.country`,
`caller.type`, `caller.location`...) are derived once per decision and shared by conditions,
placeholders and `explain`.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType, ValidationResult

from ..errors import Code
from .context import Context
from .sources import Fact, FactFn, LiteralProblem, Source

#: Longer values are not phone numbers (E.164 has at most 15 digits); the cap keeps hostile
#: values (60 KB of digits) away from the parser.
MAX_LENGTH = 64
#: The attributes LiveKit sets that always hold phone numbers; `caller.*` facts describe the
#: first (the other party: the caller on inbound calls, the person called on outbound calls).
PHONE_ATTRIBUTES = ("sip.phoneNumber", "sip.trunkPhoneNumber")
CALLER = "sip.phoneNumber"
FIELDS = ("number", "country", "type", "location", "valid", "withheld")
#: What carriers put in the caller ID when the caller hides it (compared in lower case).
WITHHELD_WORDS = frozenset(
    {"anonymous", "restricted", "private", "unavailable", "unknown", "withheld"}
)
TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
NUMBER_TYPES = tuple(TYPE_NAMES.values())
REGIONS = frozenset(r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2)

# ASCII digits and the separators carriers use, nothing around them; anything else
# (fullwidth or Arabic-Indic digits, letters, bidi marks, NUL, spaces at either end) means
# "not a phone number" rather than a guess.
_SHAPE = re.compile(r"\+?[0-9(]([0-9 ()./\-]*[0-9])?")
_SEPARATORS = re.compile(r"[ ()./\-]")
_NOT_DIGIT = re.compile(r"[^0-9]")
_PREFIX = re.compile(r"\+[0-9]{1,15}")


# -- reading a number -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    """One number read by libphonenumber. The E.164 form is all that conditions on the
    attribute compare; the region lookup behind `country` and `valid` (which scans up to 25
    regions for +1) runs only when a rule or placeholder asks, once per number."""

    e164: str
    number: phonenumbers.PhoneNumber = field(compare=False)  # e164 says the same; unhashable

    @classmethod
    def of(cls, n: phonenumbers.PhoneNumber) -> PhoneInfo:
        return cls(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164), n)

    @property
    def country(self) -> str | None:
        region = _region_of(self)
        return region if region in REGIONS else None

    @property
    def valid(self) -> bool:
        return _valid_of(self)


def is_e164(raw: str) -> bool:
    """A number already written in E.164 (`+`, a country code, 7 to 15 digits): compared as
    written, without a libphonenumber parse, on both sides (rule literals and callers).
    String methods rather than a regex: this runs on every decision that tests a number."""
    digits = raw[1:]
    return (
        raw[:1] == "+"
        and 7 <= len(digits) <= 15
        and digits.isascii()
        and digits.isdigit()
        and digits[0] != "0"
    )


def read(raw: str, region: str | None) -> PhoneInfo | None:
    """`raw` as a phone number, reading numbers without a country code in `region`; None when
    it is not one. Never raises, and never hands more than `MAX_LENGTH` characters on."""
    if len(raw) > MAX_LENGTH or not _SHAPE.fullmatch(raw):
        return None
    return _analyse(raw, region)


def normalize_number(raw: str, region: str | None) -> str | None:
    """The E.164 form of `raw`, or None when it is not a phone number."""
    info = read(raw, region)
    return info.e164 if info is not None else None


def normalize_prefix(raw: str) -> str | None:
    """A phone prefix as it compares with E.164 numbers (`+1 415` and `001415` → `+1415`), or
    None when it does not start with a country code."""
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    return text if _PREFIX.fullmatch(text) else None


def is_withheld_word(raw: str) -> bool:
    return len(raw) <= 32 and raw.strip().lower() in WITHHELD_WORDS


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except Exception:  # NumberParseException, and anything else odd data may provoke
        return None


def _possible(n: phonenumbers.PhoneNumber) -> bool:
    return bool(phonenumbers.is_possible_number_with_reason(n) == ValidationResult.IS_POSSIBLE)


@functools.lru_cache(maxsize=4096)
def _region_of(info: PhoneInfo) -> str | None:
    region = phonenumbers.region_code_for_number(info.number)
    return region if isinstance(region, str) else None


@functools.lru_cache(maxsize=4096)
def _valid_of(info: PhoneInfo) -> bool:
    region = _region_of(info)
    return region is not None and phonenumbers.is_valid_number_for_region(info.number, region)


@functools.lru_cache(maxsize=4096)
def _analyse(text: str, region: str | None) -> PhoneInfo | None:
    """The parse itself, shared by every decision (inputs are capped, so the cache is small).

    With a `+`, the number is international. Without one, it is read in `region` first; when
    that gives no valid number, as international digits that lost their `+` (`14155550176`,
    `0034911234567`), which is what carriers that drop the `+` send."""
    digits = _NOT_DIGIT.sub("", text)
    if not 3 <= len(digits) <= 17:
        return None
    if text.startswith("+"):
        n = _parse("+" + digits, None)
        return PhoneInfo.of(n) if n is not None and _possible(n) else None
    national = _parse(text, region) if region else None
    read_nationally = (
        PhoneInfo.of(national) if national is not None and _possible(national) else None
    )
    if read_nationally is not None and read_nationally.valid:
        return read_nationally
    guesses = ["+" + digits[2:]] if digits.startswith("00") else []
    guesses.append("+" + digits)
    for guess in guesses:
        n = _parse(guess, None)
        if n is not None and _possible(n):
            info = PhoneInfo.of(n)
            if info.valid:
                return info
    return read_nationally


@functools.cache
def _geocoder() -> Any:
    """libphonenumber's offline geocoder: imported on first use (about half a second)."""
    from phonenumbers import geocoder

    return geocoder


def warm_up() -> None:
    """Load every region's numbering metadata and the geocoder now (about a second), so the
    first call from a new country does not pay for it while the phone rings. The worker calls
    this before it takes jobs."""
    phonenumbers.PhoneMetadata.load_all()
    _geocoder()


# -- facts, computed once per decision --------------------------------------------------


def fact_name(attr: str, field: str) -> str:
    """`caller.country` for the caller's number, `ATTRIBUTE.country` for other numbers; the
    value conditions on the attribute itself compare is `ATTRIBUTE (normalized)`."""
    if field == "value":
        return f"{attr} (normalized)"
    return f"caller.{field}" if attr == CALLER else f"{attr}.{field}"


def _region(ctx: Context) -> str | None:
    settings = ctx.settings
    trunks = getattr(settings, "trunk_regions", None)
    if trunks:
        trunk = ctx.attr("sip.trunkID")
        if trunk is not None and trunk in trunks:
            region = trunks[trunk]
            return region if region in REGIONS else None
    region = getattr(settings, "default_region", None)
    return region if region in REGIONS else None


def _call_region(ctx: Context) -> str | None:
    return ctx.derived("call.region", _region)


def _read_attr(ctx: Context, attr: str) -> PhoneInfo | None:
    raw = ctx.attr(attr)
    if raw is None:
        return None
    return read(raw, _call_region(ctx))


def _number(ctx: Context, attr: str) -> str | None:
    info = _read_attr(ctx, attr)
    return info.e164 if info is not None else None


def _value(ctx: Context, attr: str) -> str | None:
    """What conditions on the attribute compare: its E.164 form when it is a phone number,
    else its text as it came (the same rule `PhoneSource.normalize` applies to literals)."""
    raw = ctx.attr(attr)
    if raw is None:
        return None
    if is_e164(raw):
        return raw
    info = read(raw, _call_region(ctx))
    return info.e164 if info is not None else raw


def _country(ctx: Context, attr: str) -> str | None:
    info = _read_attr(ctx, attr)
    return info.country if info is not None else None


def _type(ctx: Context, attr: str) -> str | None:
    info = _read_attr(ctx, attr)
    if info is None:
        return None
    return _type_of(info) if info.valid else "unknown"


def _location(ctx: Context, attr: str) -> str | None:
    info = _read_attr(ctx, attr)
    if info is None or not info.valid:
        return None
    return _location_of(info)


# Both cost tens to hundreds of microseconds in libphonenumber and depend on the number only.
@functools.lru_cache(maxsize=4096)
def _type_of(info: PhoneInfo) -> str:
    return TYPE_NAMES.get(phonenumbers.number_type(info.number), "unknown")


@functools.lru_cache(maxsize=4096)
def _location_of(info: PhoneInfo) -> str | None:
    text = _geocoder().description_for_number(info.number, "en")
    return text if isinstance(text, str) and text else None


def _withheld(ctx: Context, attr: str) -> str | None:
    if attr in PHONE_ATTRIBUTES and ctx.kind != "sip":
        return None  # a web visitor has no caller ID to hide
    raw = ctx.attr(attr)
    if raw is None or is_withheld_word(raw):
        return "true"
    return "false"


def _valid(ctx: Context, attr: str) -> str | None:
    raw = ctx.attr(attr)
    if raw is None or is_withheld_word(raw):
        return None
    info = _read_attr(ctx, attr)
    return "true" if info is not None and info.valid else "false"


_COMPUTE: dict[str, Callable[[Context, str], str | None]] = {
    "value": _value,
    "number": _number,
    "country": _country,
    "type": _type,
    "location": _location,
    "valid": _valid,
    "withheld": _withheld,
}


@functools.cache
def field_fn(attr: str, field: str) -> FactFn:
    """The per-decision function for one fact about one phone attribute (one object per pair,
    so conditions, placeholders and `explain` share it)."""
    compute = _COMPUTE[field]

    def fact(ctx: Context) -> str | None:
        return compute(ctx, attr)

    fact.__name__ = fact_name(attr, field)
    return fact


def _fact(field: str, description: str) -> Fact:
    return Fact(fact_name(CALLER, field), description, field_fn(CALLER, field))


#: The facts about the caller's number, and the region numbers are read in.
PHONE_FACTS = (
    _fact("number", "`sip.phoneNumber` in E.164 (without a country code: read in `call.region`)"),
    _fact("country", "ISO country of `sip.phoneNumber` (libphonenumber)"),
    _fact(
        "type",
        "`sip.phoneNumber` line type: mobile, fixed_line, fixed_line_or_mobile, toll_free...",
    ),
    _fact(
        "location",
        "where `sip.phoneNumber` is registered, from libphonenumber's offline geocoder",
    ),
    _fact("valid", "`true` when `sip.phoneNumber` is a real, assigned number; unset when withheld"),
    _fact(
        "withheld", "`true` when the caller hid the number (missing, or `anonymous` and the like)"
    ),
    Fact(
        "call.region",
        "where numbers without a country code are read: `settings.trunk_regions` for this "
        "`sip.trunkID`, else `settings.default_region`",
        _region,
    ),
)

# -- sources ----------------------------------------------------------------------------


class PhoneSource(Source):
    """A phone attribute as it compares (`field` "value": E.164 when it is a number, else its
    text), or one fact about it. Rule literals are normalized with the same functions, reading
    numbers without a country code in `settings.default_region` (`region`)."""

    __slots__ = ("attr", "field", "fn", "key", "region")

    def __init__(
        self, attr: str, field: str = "value", name: str | None = None, region: str | None = None
    ) -> None:
        self.attr = attr
        self.field = field
        self.name = name or (attr if field == "value" else fact_name(attr, field))
        self.key = fact_name(attr, field)
        self.fn = field_fn(attr, field)
        self.region = region

    def get(self, ctx: Context) -> str | None:
        return ctx.derived(self.key, self.fn)

    def normalize(self, value: str) -> str:
        if self.field == "value" and is_e164(value):
            return value
        if self.field in ("value", "number"):
            return normalize_number(value, self.region) or value
        if self.field == "country":
            return value.strip().upper()
        if self.field == "type":
            return type_key(value)
        return value

    def normalize_prefix(self, value: str) -> str:
        if self.field in ("value", "number"):
            return normalize_prefix(value) or value
        return value

    def literal_problem(self, value: str, prefix: bool = False) -> LiteralProblem | None:
        if not value:
            return None  # the compiler reports empty values itself
        if self.field in ("value", "number"):
            if prefix:
                return prefix_problem(value, self.region)
            return number_problem(value, self.region)
        if prefix:
            return None
        if self.field == "country":
            return country_problem(value)
        if self.field == "type":
            return type_problem(value)
        if self.field in ("valid", "withheld") and value not in ("true", "false"):
            return LiteralProblem(
                Code.INVALID_VALUE,
                f"`{self.name}` is `true` or `false`, never `{value}`",
                f"e.g. {self.attr}: {{{self.field}: true}}",
            )
        return None


class PhoneValueSource(PhoneSource):
    """The phone attribute itself, as conditions compare it: the hot path of every decision
    that tests a number, so a number already in E.164 is returned without a parse (and the
    parsed form of any other is kept out of the decision's facts)."""

    __slots__ = ()

    def get(self, ctx: Context) -> str | None:
        raw = ctx.attrs.get(self.attr)
        if raw.__class__ is not str or not raw:
            return None
        # `is_e164(raw)`, written out: this runs for every decision that tests a number, and
        # the call alone is 5% of a decision (tests/test_phone.py holds the two together)
        digits = raw[1:]
        if (
            raw[0] == "+"
            and 7 <= len(digits) <= 15
            and digits.isascii()
            and digits.isdigit()
            and digits[0] != "0"
        ):
            return raw
        return ctx.internal(self.key, self.fn)


def phone_source(attr: str, field: str, name: str | None, region: str | None) -> PhoneSource:
    """The source for phone attribute `attr` itself (`field` "value") or one fact about it."""
    cls = PhoneValueSource if field == "value" else PhoneSource
    return cls(attr, field, name, region)


def type_key(value: str) -> str:
    return value.strip().lower().replace("-", "_").replace(" ", "_")


# -- literals that can never match ------------------------------------------------------


@functools.cache
def _country_names() -> dict[str, str]:
    """English country names → ISO codes, for "did you mean" only."""
    try:
        from phonenumbers.geodata.locale import LOCALE_DATA
    except Exception:  # pragma: no cover - part of the phonenumbers wheel
        return {}
    out: dict[str, str] = {}
    for code, names in LOCALE_DATA.items():
        if code in REGIONS and isinstance(names, dict):
            name = names.get("en", names.get("aa"))
            if isinstance(name, str) and name.startswith("*"):
                name = names.get(name[1:])
            if isinstance(name, str):
                out[name.lower()] = code
    return out


def country_name(code: str) -> str | None:
    for name, c in _country_names().items():
        if c == code:
            return name.title()
    return None


_COMMON_MISTAKES = {"UK": "GB", "EL": "GR", "KO": "KR", "SP": "ES"}
_TYPE_ALIASES = {
    "cell": "mobile",
    "cellular": "mobile",
    "landline": "fixed_line",
    "fixed": "fixed_line",
}


def country_code(value: str) -> str | None:
    """The ISO code `value` stands for (`mx` → `MX`), or None."""
    code = value.strip().upper()
    return code if code in REGIONS else None


def country_problem(value: str) -> LiteralProblem | None:
    if country_code(value) is not None:
        return None
    code = value.strip().upper()
    guess = _COMMON_MISTAKES.get(code) or _country_names().get(value.strip().lower())
    if guess is None:
        close = difflib.get_close_matches(code, sorted(REGIONS), n=1, cutoff=0.6)
        guess = close[0] if close else None
    hint = f"did you mean `{guess}` ({country_name(guess)})? " if guess else ""
    return LiteralProblem(
        Code.UNKNOWN_COUNTRY,
        f"`{value}` is not an ISO country code",
        hint + "countries are two-letter ISO 3166 codes, e.g. US, MX, ES, GB",
    )


def type_problem(value: str) -> LiteralProblem | None:
    key = type_key(value)
    if key in NUMBER_TYPES:
        return None
    close = difflib.get_close_matches(key, NUMBER_TYPES, n=1, cutoff=0.6)
    hint = _TYPE_ALIASES.get(key) or (close[0] if close else None)
    return LiteralProblem(
        Code.UNKNOWN_NUMBER_TYPE,
        f"`{value}` is not a type of phone number",
        (f"did you mean `{hint}`? " if hint else "") + "types: " + ", ".join(NUMBER_TYPES),
    )


def number_problem(value: str, region: str | None) -> LiteralProblem | None:
    if is_e164(value) or normalize_number(value, region) is not None:
        return None
    code = Code.BAD_PHONE_NUMBER
    if is_withheld_word(value):
        return LiteralProblem(
            code,
            f"`{value}` is not a phone number: it is how carriers mark a hidden number",
            "use `withheld: true`, e.g. sip.phoneNumber: {withheld: true}",
        )
    if region is None and not value.strip().startswith("+"):
        return LiteralProblem(
            code,
            f"`{value}` is not a phone number without a country code",
            'write it in E.164, e.g. "+14155550176", or set `settings.default_region`',
        )
    return LiteralProblem(
        code, f"`{value}` is not a phone number", 'write it in E.164, e.g. "+14155550176"'
    )


def prefix_problem(value: str, region: str | None) -> LiteralProblem | None:
    if normalize_prefix(value) is not None:
        return None
    digits = _SEPARATORS.sub("", value.strip())
    suggestion = ""
    if digits.isascii() and digits.isdigit() and region is not None:
        suggestion = f'did you mean "{national_to_prefix(digits, region)}"? '
    return LiteralProblem(
        Code.BAD_PHONE_PREFIX,
        f"the phone prefix `{value}` does not start with a country code",
        suggestion + 'phone numbers compare in E.164: write prefixes with `+`, e.g. "+1415"',
    )


def national_to_prefix(digits: str, region: str) -> str:
    """`415` in US → `+1415`; `020` in GB → `+4420` (a leading trunk prefix 0, or 1 in the
    North American plan, is dropped: no area code starts with it there)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = getattr(meta, "national_prefix", None) if meta is not None else None
    if trunk in ("0", "1") and digits.startswith(trunk) and len(digits) > 1:
        digits = digits[1:]
    return f"+{phonenumbers.country_code_for_region(region)}{digits}"


def area_prefix(value: str, region: str | None) -> str | None:
    """An area code as the E.164 prefix it stands for: `415` in US → `+1415`."""
    text = value.strip()
    if text.startswith(("+", "00")):
        return normalize_prefix(text)
    digits = _SEPARATORS.sub("", text)
    if region is None or not (digits.isascii() and digits.isdigit()) or not 1 <= len(digits) <= 6:
        return None
    return national_to_prefix(digits, region)
