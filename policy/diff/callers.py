"""Callers made from a policy's compiled conditions, so that `sip-policy diff` finds the
moves no test case covers.

For every rule: one caller that reaches it (each condition satisfied in turn), then that
caller varied one condition at a time, just inside and just outside it: inside and outside
each prefix, a valid number of each country named (and of one that is not), a value of an
any-of list and one that is none of them, times inside and outside each schedule window and
on holidays. Table rows are rules, so every row gets its callers.

Generation is bounded: a few values per condition (`MAX_VALUES`), a few times per schedule
(`MAX_TIMES`), a few callers per rule (`MAX_PER_RULE`), and a total (`MAX_CALLERS`);
the diff says when the total cut it short. `expr:` and `regex:` conditions get no
values of their own (an expression or a pattern cannot be inverted in general).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers

from ..runtime.conditions import (
    All,
    AnyOf,
    Cond,
    Contains,
    Equals,
    Exists,
    Missing,
    Not,
    Prefix,
    Suffix,
)
from ..runtime.context import Context
from ..runtime.phone import PhoneSource
from ..runtime.rule import CompiledRule
from ..runtime.schedule import DAY, Schedule, ScheduleSource
from ..runtime.sources import AttrSource, FactSource, KindSource, Source

MAX_VALUES = 8
MAX_TIMES = 48
MAX_PER_RULE = 64
MAX_CALLERS = 200_000

#: One change to a caller: ("attr", name, value or None), ("kind", name) or ("at", time).
Op = tuple[Any, ...]
Edit = tuple[Op, ...]


@dataclass(frozen=True)
class Caller:
    """A caller to decide under both policies: attributes, kind, time (None: the time of
    the run), a pinned variant, and where it came from (`origin`, for people)."""

    attributes: tuple[tuple[str, str], ...]
    kind: str = "sip"
    at: dt.datetime | None = None
    variant: str | None = None
    origin: str = ""

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.attributes, self.kind, self.at, self.variant)

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.attributes]
        if self.kind != "sip":
            parts.append(f"kind={self.kind}")
        if self.at is not None:
            parts.append(f"at {self.at.isoformat(timespec='minutes')}")
        if self.variant is not None:
            parts.append(f"variant {self.variant}")
        return ", ".join(parts) if parts else "a SIP caller with no attributes"

    def to_dict(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "kind": self.kind,
            "at": self.at.isoformat() if self.at is not None else None,
            "variant": self.variant,
            "origin": self.origin,
        }


def make_caller(
    attrs: dict[str, str],
    kind: str = "sip",
    at: dt.datetime | None = None,
    variant: str | None = None,
    origin: str = "",
) -> Caller:
    return Caller(tuple(sorted(attrs.items())), kind, at, variant, origin)


class _State:
    """A caller being built: attributes, kind, time."""

    __slots__ = ("at", "attrs", "kind")

    def __init__(self) -> None:
        self.attrs: dict[str, str] = {}
        self.kind = "sip"
        self.at: dt.datetime | None = None

    def apply(self, edit: Edit) -> _State:
        out = _State()
        out.attrs, out.kind, out.at = dict(self.attrs), self.kind, self.at
        for op in edit:
            if op[0] == "attr":
                if op[2] is None:
                    out.attrs.pop(op[1], None)
                else:
                    out.attrs[op[1]] = op[2]
            elif op[0] == "kind":
                out.kind = op[1]
            else:
                out.at = op[1]
        return out


class Generator:
    """Callers for the rules of one policy, deciding at `base` when a caller has no time."""

    def __init__(self, settings: Any, base: dt.datetime) -> None:
        self.settings = settings
        self.base = base
        self.region = getattr(settings, "default_region", None) or "US"

    def for_rule(self, rule: CompiledRule) -> list[tuple[dict[str, str], str, dt.datetime | None]]:
        """The caller that reaches `rule`, then it varied one condition at a time."""
        reach = self._reach(rule.cond)
        base = _State().apply(reach or ())
        out = [(base.attrs, base.kind, base.at)]
        for edit in self._edits(rule.cond):
            s = base.apply(edit)
            out.append((s.attrs, s.kind, s.at))
            if len(out) >= MAX_PER_RULE:
                break
        return out

    # -- walking conditions ----------------------------------------------------------------
    def _reach(self, cond: Cond) -> Edit | None:
        """An edit under which `cond` holds, best effort (None: none found)."""
        if isinstance(cond, All):
            ops: list[Op] = []
            for c in cond.conds:
                ops.extend(self._reach(c) or ())
            return tuple(ops)
        if isinstance(cond, AnyOf):
            return next((e for e in map(self._reach, cond.conds) if e is not None), None)
        if isinstance(cond, Not):
            return next((e for e in self._edits(cond.inner) if not self._holds(cond.inner, e)), ())
        return next((e for e in self._edits(cond) if self._holds(cond, e)), None)

    def _edits(self, cond: Cond) -> Iterator[Edit]:
        if isinstance(cond, (All, AnyOf)):
            for c in cond.conds:
                yield from self._edits(c)
        elif isinstance(cond, Not):
            yield from self._edits(cond.inner)
        elif cond.source is not None:
            for value in self._values(cond):
                yield from self._assign(cond.source, value)

    def _holds(self, cond: Cond, edit: Edit) -> bool:
        s = _State().apply(edit)
        ctx = Context(s.attrs, s.kind, s.at or self.base, self.settings, [])
        try:
            return cond.test(ctx)
        except Exception:  # pragma: no cover - conditions catch their own
            return False

    # -- values of one condition's source --------------------------------------------------
    def _values(self, cond: Cond) -> list[str | None]:
        phone = isinstance(cond.source, PhoneSource) and cond.source.field in ("value", "number")
        if isinstance(cond.source, ScheduleSource):
            return ["(the times of the schedule)"]
        if isinstance(cond, Equals):
            inside: list[str | None] = list(sorted(cond.values)[:MAX_VALUES])
            return [*inside, _other(cond.values, phone)]
        if isinstance(cond, Prefix):
            out: list[str | None] = []
            for p in cond.prefixes[:MAX_VALUES]:
                out.append(complete_number(p) if phone else p + "x")
                near = _bump(p, cond.prefixes)
                if near is not None:
                    out.append(complete_number(near) if phone else near + "x")
            return out
        if isinstance(cond, Suffix):
            return [*("x" + s for s in cond.suffixes[:MAX_VALUES]), "x"]
        if isinstance(cond, Contains):
            return [*("x" + n + "x" for n in cond.needles[:MAX_VALUES]), "x"]
        if isinstance(cond, (Exists, Missing)):
            return [complete_number("+" + _country_code(self.region)) if phone else "x", None]
        return [None]

    def _assign(self, source: Source, value: str | None) -> Iterator[Edit]:
        """The edits that give `source` the value `value`."""
        if isinstance(source, KindSource):
            if value is not None:
                yield (("kind", value),)
        elif isinstance(source, ScheduleSource):
            for t in schedule_times(source.schedule, self.base.date()):
                yield (("at", t),)
        elif isinstance(source, PhoneSource):
            number = self._phone(source.field, value)
            if number is not _SKIP:
                yield (("attr", source.attr, number),)
        elif isinstance(source, FactSource):
            yield from _fact_edits(source.name, value)
        elif isinstance(source, AttrSource):
            yield (("attr", source.name, value),)

    def _phone(self, field: str, value: str | None) -> Any:
        if field in ("value", "number") or value is None:
            return value
        if field == "country":
            return example(value) or complete_number("+999")
        if field == "type":
            return example(self.region, value) or _SKIP
        if field == "valid":
            return example(self.region) if value == "true" else "+10005550100"
        if field == "withheld":
            return "anonymous" if value == "true" else example(self.region)
        return _SKIP


_SKIP = object()


def _fact_edits(name: str, value: str | None) -> Iterator[Edit]:
    if name == "call.direction":
        rule_id = "SDR_generated" if value == "inbound" else None
        yield (("kind", "sip"), ("attr", "sip.ruleID", rule_id))
    elif name == "call.status":
        yield (("attr", "sip.callStatus", value),)


def _other(values: Iterable[str], phone: bool) -> str:
    """A value close to, but none of, `values`."""
    taken = set(values)
    if phone:
        for candidate in ("+14155550199", "+442071838750", "+33142685300"):
            if candidate not in taken:
                return candidate
    first = min(taken) if taken else "x"
    for candidate in (first + "-other", first[:-1], "other"):
        if candidate and candidate not in taken:
            return candidate
    return "x" * (max(map(len, taken)) + 1)


def _bump(prefix: str, prefixes: Sequence[str]) -> str | None:
    """A prefix just outside `prefix` (its last character moved by one) that starts none
    of `prefixes`."""
    last = prefix[-1]
    digits = "0123456789"
    for step in range(1, 10):
        if last in digits:
            candidate = prefix[:-1] + digits[(digits.index(last) + step) % 10]
        else:
            candidate = prefix[:-1] + chr(ord(last) + step)
        if not candidate.startswith(tuple(prefixes)) and candidate != "+":
            return candidate
    return None


def _country_code(region: str) -> str:
    return str(phonenumbers.country_code_for_region(region) or 1)


@functools.lru_cache(maxsize=4096)
def example(region: str, kind: str | None = None) -> str | None:
    """A valid number of `region` (of type `kind`, e.g. mobile), in E.164."""
    try:
        if kind is None:
            n = phonenumbers.example_number(region)
        else:
            type_id = getattr(phonenumbers.PhoneNumberType, kind.upper(), None)
            n = phonenumbers.example_number_for_type(region, type_id) if type_id else None
    except Exception:  # pragma: no cover - libphonenumber data gaps
        return None
    if n is None:
        return None
    return str(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164))


@functools.lru_cache(maxsize=4096)
def complete_number(prefix: str) -> str:
    """A whole number starting with `prefix`, as long as a number of its country is."""
    digits = prefix.lstrip("+")
    for size in (1, 2, 3):
        if len(digits) < size:
            break
        region = phonenumbers.region_code_for_country_code(int(digits[:size]))
        if region and region != "ZZ":
            sample = example(region)
            if sample is not None and len(sample) > len(prefix):
                return prefix + sample[len(prefix) :]
            break
    return prefix + "0" * max(2, 12 - len(prefix))


def schedule_times(schedule: Schedule, base: dt.date) -> list[dt.datetime]:
    """Times (each schedule's own clock) just inside and just outside every window of the
    week of `base`, and on its holidays and exceptions, at most `MAX_TIMES`."""
    monday = base - dt.timedelta(days=base.weekday())
    times: list[dt.datetime] = []
    dated = sorted(schedule.dated)[: MAX_TIMES // 8]
    yearly = [_year_date(base.year, m, d) for m, d in sorted(schedule.yearly)[: MAX_TIMES // 8]]
    days = [d for d in (*dated, *yearly) if d is not None]
    days += [monday + dt.timedelta(days=d) for d in range(7)]
    for date in days:
        midnight = dt.datetime.combine(date, dt.time())
        windows = schedule.day(date)[0]
        times.append(midnight + dt.timedelta(hours=12))
        for start, end in windows:
            for minute in (start, start - 1, end - 1, min(end, 2 * DAY - 1)):
                times.append(midnight + dt.timedelta(minutes=minute))
    return list(dict.fromkeys(times))[:MAX_TIMES]


def _year_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:  # 29 February in a common year
        return None
