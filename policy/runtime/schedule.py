"""Named opening hours at decision time: a compiled `Schedule`, the `schedule.NAME` source
and the `during:` / `outside:` condition.

Hours are wall-clock times in the schedule's zone, so daylight saving needs no special
case: at 09:30 local time the office is open whatever the UTC offset. At call time a
schedule is one time-zone conversion and a few comparisons, done at most once per decision
(`policy.compile.schedules` checks and builds schedules at load).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from .conditions import Equals
from .context import Context
from .decision import Check
from .sources import Source

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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
