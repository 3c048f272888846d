"""Compiling named opening hours (`schedules:`) and the `during:` / `outside:` keywords.

A schedule is weekly hours in one IANA time zone, plus holidays (closed all day) and
exceptions (other hours on one date). Hours are wall-clock times in that zone, so daylight
saving needs no special case: at 09:30 local time the office is open whatever the UTC
offset. Everything is checked and pre-computed at load; at call time a schedule is one
time-zone conversion and a few comparisons, done at most once per decision.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from ..errors import Code, did_you_mean
from ..model import Schedule as ScheduleModel
from ..parse.document import Path_, describe_scalar
from ..runtime.conditions import Cond
from ..runtime.schedule import DAY, DAY_NAMES, InSchedule, Schedule, ScheduleSource, Windows
from .state import Compiler, KeywordFn

_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = {
    **{d: i for i, d in enumerate(DAY_NAMES)},
    **{d: i for i, d in enumerate(_FULL_NAMES)},
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_GROUPS = {
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
    "daily": (0, 1, 2, 3, 4, 5, 6),
    "every day": (0, 1, 2, 3, 4, 5, 6),
}
_WINDOW = re.compile(r"([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_YEARLY = re.compile(r"([0-9]{2})-([0-9]{2})")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
_ABBREVIATIONS = {
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "PT": "America/Los_Angeles",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "CT": "America/Chicago",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "ET": "America/New_York",
    "HST": "Pacific/Honolulu",
    "BST": "Europe/London",
    "CEST": "Europe/Madrid",
}
#: Zones that exist but never change for daylight saving: almost always a mistake.
_FIXED = frozenset({"EST", "MST", "HST"})
# -- compiling `schedules:` -------------------------------------------------------------

_KEYS = tuple(ScheduleModel.model_fields)


def compile_schedules(c: Compiler) -> None:
    """The `schedules:` section. Invalid schedules stay listed (as None) so that `during:`
    does not report them a second time."""
    raw = c.doc.data.get("schedules")
    if raw is not None and not isinstance(raw, dict):
        c.error(
            Code.INVALID_VALUE,
            "`schedules` must be a mapping of schedule names",
            ("schedules",),
            help='e.g. schedules: {office-hours: {timezone: America/New_York, hours: {mon-fri: "09:00-17:00"}}}',
        )
    elif raw:
        for name, body in raw.items():
            c.schedules[name] = compile_schedule(c, str(name), body, ("schedules", name))


def compile_schedule(c: Compiler, name: str, body: Any, path: Path_) -> Schedule | None:
    if not isinstance(body, dict):
        c.error(
            Code.INVALID_VALUE,
            f"schedule `{name}` must be a mapping with `timezone:` and `hours:`",
            path,
            help='e.g. {timezone: America/New_York, hours: {mon-fri: "09:00-17:00"}}',
        )
        return None
    ok = True
    for key in body:
        if key not in _KEYS:
            hint = did_you_mean(str(key), _KEYS)
            c.error(
                Code.UNKNOWN_KEY,
                f"`{key}` is not a known key here",
                (*path, key),
                key=True,
                help=(hint + " " if hint else "") + "known keys: " + ", ".join(_KEYS),
            )
            ok = False
    for key in ("timezone", "hours"):
        if key not in body:
            c.error(
                Code.MISSING_KEY,
                f"`{key}` is required in schedule `{name}`",
                path,
                key=True,
                help="add `timezone: America/New_York`"
                if key == "timezone"
                else 'add `hours:`, e.g. hours: {mon-fri: "09:00-17:00"}',
            )
            ok = False
    if "description" in body and body["description"] is not None:
        ok = c.text(body["description"], (*path, "description"), "`description`") is not None and ok
    zone = _zone(c, body["timezone"], (*path, "timezone")) if "timezone" in body else None
    weekly = _weekly(c, body["hours"], (*path, "hours")) if "hours" in body else None
    days = _Days()
    days_ok = _holidays(c, body.get("holidays"), (*path, "holidays"), days)
    days_ok = _exceptions(c, body.get("exceptions"), (*path, "exceptions"), days) and days_ok
    if not ok or not days_ok or zone is None or weekly is None:
        return None
    return Schedule(name=name, zone=zone, weekly=weekly, dated=days.dated, yearly=days.yearly)


@functools.cache
def _zone_names() -> tuple[str, ...]:
    try:
        return tuple(sorted(zoneinfo.available_timezones()))
    except Exception:  # pragma: no cover - no zone database at all
        return ()


def _zone(c: Compiler, value: Any, path: Path_) -> zoneinfo.ZoneInfo | None:
    name = c.text(value, path, "`timezone`")
    if name is None:
        return None
    zone: zoneinfo.ZoneInfo | None = None
    if _ZONE_NAME.fullmatch(name) and len(name) <= 64:
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (KeyError, ValueError, OSError):
            zone = None
    if zone is None:
        guess = _ABBREVIATIONS.get(name.strip().upper())
        if guess is None:
            close = did_you_mean(name.strip(), _zone_names())
            guess = close.split("`")[1] if close else None
        c.error(
            Code.UNKNOWN_TIMEZONE,
            f"`{name}` is not a time zone",
            path,
            help=(f"did you mean `{guess}`? " if guess else "")
            + "time zones are IANA names such as America/Los_Angeles or Europe/Madrid",
        )
        return None
    if name in _FIXED:
        c.warning(
            Code.FIXED_TIMEZONE,
            f"`{name}` never changes for daylight saving time",
            path,
            help=f"use `{_ABBREVIATIONS[name]}` for the local time people keep there",
        )
    return zone


def _hours_help() -> str:
    return 'write hours as "09:00-17:30", several as a list, or "closed"'


def _windows(c: Compiler, value: Any, path: Path_) -> Windows | None:
    """`"09:00-17:30"`, a list of them, or `closed`."""
    if isinstance(value, str) and value.strip().lower() == "closed":
        return ()
    if isinstance(value, list) and value:
        items: list[tuple[Any, Path_]] = [(v, (*path, i)) for i, v in enumerate(value)]
    elif isinstance(value, str):
        items = [(value, path)]
    else:
        described = describe_scalar(value, c.doc.scalars.get(tuple(path)))
        c.error(
            Code.BAD_HOURS,
            described[0] if described else "hours must be text",
            path,
            help=(described[1] + "; " if described else "") + _hours_help(),
        )
        return None
    out: list[tuple[int, int]] = []
    ok = True
    for item, ipath in items:
        window = _window(c, item, ipath)
        if window is None:
            ok = False
        else:
            out.append(window)
    return tuple(sorted(out)) if ok else None


def _window(c: Compiler, item: Any, path: Path_) -> tuple[int, int] | None:
    if not isinstance(item, str):
        described = describe_scalar(item, c.doc.scalars.get(tuple(path)))
        c.error(
            Code.BAD_HOURS,
            described[0] if described else "hours must be text",
            path,
            help=(described[1] + "; " if described else "") + _hours_help(),
        )
        return None
    m = _WINDOW.fullmatch(item.strip())
    if m is None:
        c.error(Code.BAD_HOURS, f"`{item}` is not a range of hours", path, help=_hours_help())
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    for h, mm, text in ((h1, m1, item.split("-")[0]), (h2, m2, item.split("-")[-1])):
        if h > 24 or mm > 59 or (h == 24 and mm):
            c.error(
                Code.BAD_HOURS,
                f"`{text.strip()}` is not a time of day",
                path,
                help='times go from 00:00 to 24:00, e.g. "09:00-17:30"',
            )
            return None
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == DAY:
        c.error(
            Code.BAD_HOURS,
            f"`{item}` starts at 24:00, the end of the day",
            path,
            help='start at "00:00" instead',
        )
        return None
    if start == end:
        c.error(
            Code.BAD_HOURS,
            f"`{item}` starts and ends at the same time",
            path,
            help='for the whole day write "00:00-24:00"; for none, "closed"',
        )
        return None
    if end < start:
        end += DAY  # "22:00-06:00": runs past midnight into the next morning
    return (start, end)


def _days(key: str) -> tuple[int, ...] | None:
    """`mon`, `monday`, `mon-fri`, `fri-mon`, `mon, wed, fri`, `weekdays`, `daily`."""
    out: list[int] = []
    for part in key.split(","):
        word = part.strip().lower()
        if word in _GROUPS:
            out.extend(_GROUPS[word])
            continue
        first, sep, last = word.partition("-")
        a = _DAY.get(first.strip())
        if a is None:
            return None
        if not sep:
            out.append(a)
            continue
        b = _DAY.get(last.strip())
        if b is None:
            return None
        out.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return tuple(out)


def _weekly(c: Compiler, value: Any, path: Path_) -> tuple[Windows, ...] | None:
    if not isinstance(value, dict) or not value:
        c.error(
            Code.BAD_HOURS,
            "`hours` must map days to opening hours",
            path,
            help='e.g. hours: {mon-fri: "09:00-17:30", sat: "10:00-14:00"}; days left out are closed',
        )
        return None
    week: list[Windows | None] = [None] * 7
    given_by: dict[int, str] = {}
    ok = True
    for key, hours in value.items():
        kpath = (*path, key)
        days = _days(str(key))
        if days is None:
            word = str(key).split(",")[0].split("-")[0].strip().lower()
            ranges = [f"{a}-{b}" for a in DAY_NAMES for b in DAY_NAMES if a != b]
            whole = str(key).strip().lower()
            hint = (did_you_mean(whole, [*ranges, *_GROUPS]) if "-" in whole else None) or (
                did_you_mean(word, [*DAY_NAMES, *_FULL_NAMES, *_GROUPS])
            )
            c.error(
                Code.UNKNOWN_DAY,
                f"`{key}` is not a day or a range of days",
                kpath,
                key=True,
                help=(hint + " " if hint else "")
                + "days: mon, tue, wed, thu, fri, sat, sun; ranges like mon-fri; weekdays, "
                "weekends, daily",
            )
            ok = False
            continue
        windows = _windows(c, hours, kpath)
        for d in days:
            if d in given_by:
                c.error(
                    Code.BAD_HOURS,
                    f"`{DAY_NAMES[d]}` is given twice: in `{given_by[d]}` and in `{key}`",
                    kpath,
                    key=True,
                    help="give each day once; list several ranges for one day, e.g. "
                    'mon: ["09:00-12:00", "13:00-17:00"]',
                )
                ok = False
            given_by.setdefault(d, str(key))
            if windows is not None:
                week[d] = windows
        if windows is None:
            ok = False
    if not ok:
        return None
    return tuple(w if w is not None else () for w in week)


def _date(c: Compiler, value: Any, path: Path_, *, key: bool = False) -> Any:
    """A `dt.date`, a `(month, day)` for every year, or None after reporting."""
    if isinstance(value, dt.datetime):
        pass
    elif isinstance(value, dt.date):
        return value
    elif isinstance(value, str):
        text = value.strip()
        m = _DATE.fullmatch(text)
        try:
            if m is not None:
                return dt.date(*(int(g) for g in m.groups()))
            y = _YEARLY.fullmatch(text)
            if y is not None:
                month, day = int(y.group(1)), int(y.group(2))
                dt.date(2024, month, day)  # a leap year: 02-29 is a real date
                return (month, day)
        except ValueError:
            c.error(
                Code.BAD_DATE,
                f"`{value}` is not a date in the calendar",
                path,
                key=key,
                help='e.g. "2026-12-25", or "12-25" for every year',
            )
            return None
    c.error(
        Code.BAD_DATE,
        f"`{value}` is not a date",
        path,
        key=key,
        help='write dates as "2026-12-25", or "12-25" for every year',
    )
    return None


@dataclass
class _Days:
    """Days whose hours differ from the week's: by date, and by (month, day) every year."""

    dated: dict[dt.date, tuple[Windows, str]] = field(default_factory=dict)
    yearly: dict[tuple[int, int], tuple[Windows, str]] = field(default_factory=dict)

    def table(self, date: Any) -> dict[Any, tuple[Windows, str]]:
        return self.dated if isinstance(date, dt.date) else self.yearly


def _holidays(c: Compiler, value: Any, path: Path_, days: _Days) -> bool:
    if value is None:
        return True
    if not isinstance(value, list):
        c.error(
            Code.BAD_DATE,
            "`holidays` must be a list of dates",
            path,
            help='e.g. holidays: ["2026-11-26", "12-25", "01-01"]',
        )
        return False
    ok = True
    for i, item in enumerate(value):
        date = _date(c, item, (*path, i))
        if date is None:
            ok = False
        else:
            days.table(date)[date] = ((), "holiday")
    return ok


def _exceptions(c: Compiler, value: Any, path: Path_, days: _Days) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict):
        c.error(
            Code.BAD_DATE,
            "`exceptions` must map dates to that day's hours",
            path,
            help='e.g. exceptions: {"2026-12-24": "09:00-13:00", "2026-12-31": closed}',
        )
        return False
    ok = True
    for key, hours in value.items():
        kpath = (*path, key)
        date = _date(c, key, kpath, key=True)
        windows = _windows(c, hours, kpath)
        if date is None or windows is None:
            ok = False
            continue
        table = days.table(date)
        if date in table:
            twice = not table[date][1].startswith("holiday")
            c.error(
                Code.BAD_DATE,
                f"`{key}` is given twice"
                if twice
                else f"`{key}` is both a holiday and an exception",
                kpath,
                key=True,
                help="give each date once"
                if twice
                else "keep one: a holiday is closed all day, an exception gives that day's hours",
            )
            ok = False
            continue
        table[date] = (windows, "exception" if windows else "exception, closed")
    return ok


# -- conditions -------------------------------------------------------------------------


def _keyword(word: str, state: str) -> KeywordFn:
    def compile_condition(c: Compiler, value: Any, path: Path_) -> Cond | None:
        name = c.text(value, path, f"`{word}`")
        if name is None:
            return None
        if name not in c.schedules:
            hint = did_you_mean(name, c.schedules)
            c.error(
                Code.UNKNOWN_SCHEDULE,
                f"rule `{c.rule_name}` uses schedule `{name}`, which is not defined",
                path,
                help=hint
                or (
                    "schedules: " + ", ".join(c.schedules)
                    if c.schedules
                    else "define it under `schedules:`"
                ),
            )
            return None
        schedule = c.schedules[name]
        if schedule is None:
            return None  # its own problems are reported where it is defined
        return InSchedule(ScheduleSource(schedule), state)

    return compile_condition


during = _keyword("during", "open")
outside = _keyword("outside", "closed")
