"""Named opening hours (`schedules:`) and the `during:` / `outside:` conditions.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import Cond, Equals
from .context import Context
from .decision import Check
from .loader import LOAD_HOOKS, Compiler, did_you_mean, keyword
from .model import Schedule as ScheduleModel
from .source import Path_, describe_scalar
from .sources import SOURCE_HOOKS, Source

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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
DAY = 24 * 60
ONE_DAY = dt.timedelta(days=1)

#: Opening windows as minutes from the start of the day; an end past 1440 runs overnight.
Windows = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Schedule:
    """A compiled schedule. `is_open(when)` is the whole call-time cost."""

    name: str
    zone: zoneinfo.ZoneInfo
    weekly: tuple[Windows, ...]
    dated: Mapping[dt.date, tuple[Windows, str]]
    yearly: Mapping[tuple[int, int], tuple[Windows, str]]

    def day(self, date: dt.date) -> tuple[Windows, str]:
        """The windows that start on `date`, and why: an exception, a holiday, or the weekday."""
        hit = self.dated.get(date)
        if hit is None:
            hit = self.yearly.get((date.month, date.day))
        if hit is None:
            hit = (self.weekly[date.weekday()], f"{DAY_NAMES[date.weekday()]} hours")
        return hit

    def local(self, when: dt.datetime) -> dt.datetime:
        """`when` on this schedule's clock; a time without an offset is already local
        (`--at 2026-12-24T18:30` means 18:30 where the office is)."""
        if when.tzinfo is None:
            return when.replace(tzinfo=self.zone)
        return when.astimezone(self.zone)

    def is_open(self, when: dt.datetime) -> bool:
        local = self.local(when)
        minute = local.hour * 60 + local.minute
        date = local.date()
        for start, end in self.day(date)[0]:
            if start <= minute < end:
                return True
        if date > dt.date.min:
            for _start, end in self.day(date - ONE_DAY)[0]:
                if end > DAY and minute < end - DAY:
                    return True
        return False

    def state(self, ctx: Context) -> str:
        return "open" if self.is_open(ctx.now) else "closed"

    def describe(self, when: dt.datetime) -> str:
        """What `explain` shows, short: the local time and the hours that applied that day."""
        local = self.local(when)
        windows, why = self.day(local.date())
        hours = ", ".join(format_window(w) for w in windows)
        return f"at {local:%a %H:%M} {local.tzname()}, {why}" + (f" {hours}" if hours else "")


def format_window(window: tuple[int, int]) -> str:
    start, end = window
    return f"{start // 60:02d}:{start % 60:02d}-{(end % DAY if end > DAY else end) // 60:02d}:{end % 60:02d}"


class ScheduleSource(Source):
    """`open` or `closed` for one schedule at the decision time (`schedule.NAME`)."""

    __slots__ = ("fn", "schedule")

    def __init__(self, schedule: Schedule) -> None:
        self.name = f"schedule.{schedule.name}"
        self.schedule = schedule
        self.fn = schedule.state

    def get(self, ctx: Context) -> str | None:
        return ctx.derived(self.name, self.fn)


class InSchedule(Equals):
    """`during: NAME` (`open`) or `outside: NAME` (`closed`). An exact match on the schedule's
    state, so the index and the unreachable-rule check treat it like any other value."""

    __slots__ = ()

    def __init__(self, source: ScheduleSource, state: str) -> None:
        super().__init__(source, [state])

    def why(self, ctx: Context) -> Check | None:
        if self.test(ctx):
            return None
        assert isinstance(self.source, ScheduleSource)
        state = self.source.get(ctx)
        try:
            detail = self.source.schedule.describe(ctx.now)
        except (OverflowError, ValueError):  # pragma: no cover - times at the ends of the calendar
            detail = "time out of range"
        actual = f"{state} {detail}" if state is not None else None
        return Check(self.source.name, actual, self.expected())


# -- compiling `schedules:` -------------------------------------------------------------

_KEYS = tuple(ScheduleModel.model_fields)


def _load_hook(c: Compiler, data: dict[str, Any]) -> None:
    raw = data.get("schedules")
    compiled: dict[str, Any] = {}
    if raw is not None and not isinstance(raw, dict):
        c.error(
            "invalid-value",
            "`schedules` must be a mapping of schedule names",
            ("schedules",),
            help='e.g. schedules: {office-hours: {timezone: America/New_York, hours: {mon-fri: "09:00-17:00"}}}',
        )
    elif raw:
        for name, body in raw.items():
            compiled[name] = compile_schedule(c, str(name), body, ("schedules", name))
    # invalid schedules stay listed (as None) so `during:` does not report them twice
    c.schedules = compiled


LOAD_HOOKS.append(_load_hook)


def compile_schedule(c: Compiler, name: str, body: Any, path: Path_) -> Schedule | None:
    if not isinstance(body, dict):
        c.error(
            "invalid-value",
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
                "unknown-key",
                f"`{key}` is not a known key here",
                (*path, key),
                key=True,
                help=(hint + " " if hint else "") + "known keys: " + ", ".join(_KEYS),
            )
            ok = False
    for key in ("timezone", "hours"):
        if key not in body:
            c.error(
                "missing-key",
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
    dated: dict[dt.date, tuple[Windows, str]] = {}
    yearly: dict[tuple[int, int], tuple[Windows, str]] = {}
    days_ok = _holidays(c, body.get("holidays"), (*path, "holidays"), dated, yearly)
    days_ok = (
        _exceptions(c, body.get("exceptions"), (*path, "exceptions"), dated, yearly) and days_ok
    )
    if not ok or not days_ok or zone is None or weekly is None:
        return None
    return Schedule(name=name, zone=zone, weekly=weekly, dated=dated, yearly=yearly)


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
            "unknown-timezone",
            f"`{name}` is not a time zone",
            path,
            help=(f"did you mean `{guess}`? " if guess else "")
            + "time zones are IANA names such as America/Los_Angeles or Europe/Madrid",
        )
        return None
    if name in _FIXED:
        c.warning(
            "fixed-timezone",
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
            "bad-hours",
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
            "bad-hours",
            described[0] if described else "hours must be text",
            path,
            help=(described[1] + "; " if described else "") + _hours_help(),
        )
        return None
    m = _WINDOW.fullmatch(item.strip())
    if m is None:
        c.error("bad-hours", f"`{item}` is not a range of hours", path, help=_hours_help())
        return None
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    for h, mm, text in ((h1, m1, item.split("-")[0]), (h2, m2, item.split("-")[-1])):
        if h > 24 or mm > 59 or (h == 24 and mm):
            c.error(
                "bad-hours",
                f"`{text.strip()}` is not a time of day",
                path,
                help='times go from 00:00 to 24:00, e.g. "09:00-17:30"',
            )
            return None
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == DAY:
        c.error(
            "bad-hours",
            f"`{item}` starts at 24:00, the end of the day",
            path,
            help='start at "00:00" instead',
        )
        return None
    if start == end:
        c.error(
            "bad-hours",
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
            "bad-hours",
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
                "unknown-day",
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
                    "bad-hours",
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
                "bad-date",
                f"`{value}` is not a date in the calendar",
                path,
                key=key,
                help='e.g. "2026-12-25", or "12-25" for every year',
            )
            return None
    c.error(
        "bad-date",
        f"`{value}` is not a date",
        path,
        key=key,
        help='write dates as "2026-12-25", or "12-25" for every year',
    )
    return None


def _holidays(
    c: Compiler,
    value: Any,
    path: Path_,
    dated: dict[dt.date, tuple[Windows, str]],
    yearly: dict[tuple[int, int], tuple[Windows, str]],
) -> bool:
    if value is None:
        return True
    if not isinstance(value, list):
        c.error(
            "bad-date",
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
        elif isinstance(date, dt.date):
            dated[date] = ((), "holiday")
        else:
            yearly[date] = ((), "holiday")
    return ok


def _exceptions(
    c: Compiler,
    value: Any,
    path: Path_,
    dated: dict[dt.date, tuple[Windows, str]],
    yearly: dict[tuple[int, int], tuple[Windows, str]],
) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict):
        c.error(
            "bad-date",
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
        table: dict[Any, tuple[Windows, str]] = dated if isinstance(date, dt.date) else yearly
        if date in table:
            twice = not table[date][1].startswith("holiday")
            c.error(
                "bad-date",
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


def _schedule_keyword(word: str, state: str) -> None:
    def compile_condition(c: Compiler, value: Any, path: Path_) -> Cond | None:
        name = c.text(value, path, f"`{word}`")
        if name is None:
            return None
        if name not in c.schedules:
            hint = did_you_mean(name, c.schedules)
            c.error(
                "unknown-schedule",
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
        if not isinstance(schedule, Schedule):
            return None  # its own problems are reported where it is defined
        return InSchedule(ScheduleSource(schedule), state)

    keyword(word)(compile_condition)


def schedule_source(name: str, settings: object | None = None) -> Source | None:
    """`schedule.NAME` in a condition or placeholder reads the schedule's state (`open` or
    `closed`), the fact `explain` shows; `during:`/`outside:` say the same more plainly."""
    if not name.startswith("schedule."):
        return None
    schedules = getattr(settings, "schedules", None)
    schedule = schedules.get(name[len("schedule.") :]) if isinstance(schedules, dict) else None
    return ScheduleSource(schedule) if isinstance(schedule, Schedule) else None


SOURCE_HOOKS.append(schedule_source)


_schedule_keyword("during", "open")
_schedule_keyword("outside", "closed")
