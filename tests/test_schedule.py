"""Schedules: weekly hours, midnight, daylight saving change days, holidays, exceptions,
`during:` / `outside:` conditions, load errors with positions, and the sample policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy
from policy import PolicyError
from policy.cli import main as cli_main
from policy.testing import run_cases

ROOT = Path(__file__).parent.parent
LA = ZoneInfo("America/Los_Angeles")
UTC = dt.UTC

HEAD = """
version: 1
defaults:
  stt: deepgram/nova-3
schedules:
  office:
    timezone: America/Los_Angeles
    hours:
      mon-fri: "09:00-18:00"
      sat: ["10:00-12:00", "13:00-15:00"]
      sun: "01:00-03:00"
    holidays: ["2026-11-26", "12-25"]
    exceptions:
      "2026-12-24": "09:00-12:00"
      "2026-12-25": "10:00-11:00"
      "2026-12-31": closed
  night:
    description: the overnight line, Friday and Saturday nights
    timezone: Europe/Madrid
    hours:
      fri, sat: "22:00-06:00"
      sun: "18:00-24:00"
    holidays: ["2026-12-26"]
  always:
    timezone: UTC
    hours: {daily: "00:00-24:00"}
rules:
  - name: in-office
    when: {during: office}
  - name: at-night
    when: {during: night}
  - name: after-hours
    when: {outside: office, call.direction: inbound}
"""

POLICY = policy.loads(HEAD)
OFFICE = "schedule.office"
NIGHT = "schedule.night"


def state(when: dt.datetime, name: str = OFFICE) -> str | None:
    """The schedule's state at `when`, after checking the index agrees with the plain scan."""
    attrs = {"sip.ruleID": "SDR_abc"}
    decided = POLICY.decide(attrs, now=when)
    scanned = POLICY.explain(attrs, now=when)
    assert decided.rule == scanned.rule
    return scanned.facts[name]


def la(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA)


def madrid(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Madrid"))


# -- weekly hours and their edges -------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (la(2026, 12, 22, 8, 59), "closed"),  # Tuesday
        (la(2026, 12, 22, 9, 0), "open"),
        (la(2026, 12, 22, 17, 59, 59), "open"),
        (la(2026, 12, 22, 18, 0), "closed"),
        (la(2026, 12, 19, 11, 30), "open"),  # Saturday, first range
        (la(2026, 12, 19, 12, 30), "closed"),  # Saturday lunch
        (la(2026, 12, 19, 14, 59), "open"),
        (la(2026, 12, 20, 12, 0), "closed"),  # Sunday outside 01:00-03:00
        (dt.datetime(2026, 12, 22, 17, 30, tzinfo=UTC), "open"),  # 09:30 in San Francisco
        (dt.datetime(2026, 12, 22, 8, 30), "closed"),  # no offset: the schedule's own clock
        (dt.datetime(2026, 12, 22, 16, 30), "open"),  # 16:30 in San Francisco, not UTC
    ],
)
def test_weekly_hours_edges(when: dt.datetime, expected: str) -> None:
    assert state(when) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (madrid(2026, 12, 4, 21, 59), "closed"),  # Friday before 22:00
        (madrid(2026, 12, 4, 22, 0), "open"),
        (madrid(2026, 12, 4, 23, 59), "open"),
        (madrid(2026, 12, 5, 0, 0), "open"),  # past midnight: still Friday's night
        (madrid(2026, 12, 5, 5, 59), "open"),
        (madrid(2026, 12, 5, 6, 0), "closed"),
        (madrid(2026, 12, 6, 5, 0), "open"),  # Saturday's night runs into Sunday
        (madrid(2026, 12, 6, 23, 59), "open"),  # Sunday until 24:00
        (madrid(2026, 12, 7, 0, 0), "closed"),  # Monday has no hours
        (madrid(2026, 12, 3, 23, 0), "closed"),  # Thursday has no hours
    ],
)
def test_midnight(when: dt.datetime, expected: str) -> None:
    assert state(when, NIGHT) == expected


# -- daylight saving time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "local", "expected"),
    [
        # 2026-03-08: clocks in Los Angeles go from 02:00 PST to 03:00 PDT
        ((2026, 3, 8, 9, 30), "01:30 PST", "open"),
        ((2026, 3, 8, 9, 59), "01:59 PST", "open"),
        ((2026, 3, 8, 10, 0), "03:00 PDT", "closed"),  # 02:00-03:00 never happens
        # the Friday before and the Monday after: same UTC time, an hour apart locally
        ((2026, 3, 6, 16, 30), "08:30 PST", "closed"),
        ((2026, 3, 9, 16, 30), "09:30 PDT", "open"),
        ((2026, 3, 9, 0, 59), "17:59 PDT", "closed"),  # Sunday evening, not office hours
        # 2026-11-01: 01:00-02:00 happens twice; both are inside 01:00-03:00
        ((2026, 11, 1, 8, 30), "01:30 PDT", "open"),
        ((2026, 11, 1, 9, 30), "01:30 PST", "open"),
        ((2026, 11, 1, 10, 59), "02:59 PST", "open"),
        ((2026, 11, 1, 11, 0), "03:00 PST", "closed"),
        ((2026, 11, 2, 17, 0), "09:00 PST", "open"),
        ((2026, 10, 30, 16, 30), "09:30 PDT", "open"),
    ],
)
def test_daylight_saving_change_days(utc: tuple[int, ...], local: str, expected: str) -> None:
    when = dt.datetime(*utc, tzinfo=UTC)
    assert when.astimezone(LA).strftime("%H:%M %Z") == local  # the test's own premise
    assert state(when) == expected


def test_daylight_saving_in_europe() -> None:
    # 2026-03-29: Madrid goes from 02:00 CET to 03:00 CEST; Saturday's night ends at 06:00
    assert state(dt.datetime(2026, 3, 29, 3, 59, tzinfo=UTC), NIGHT) == "open"  # 05:59 CEST
    assert state(dt.datetime(2026, 3, 29, 4, 0, tzinfo=UTC), NIGHT) == "closed"  # 06:00 CEST
    # 2026-10-25: back to CET; the same UTC time is an hour earlier locally
    assert state(dt.datetime(2026, 10, 25, 4, 59, tzinfo=UTC), NIGHT) == "open"  # 05:59 CET
    assert state(dt.datetime(2026, 10, 25, 5, 0, tzinfo=UTC), NIGHT) == "closed"


# -- holidays and exceptions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (la(2026, 11, 26, 10, 0), "closed"),  # Thanksgiving 2026, a Thursday
        (la(2027, 11, 26, 10, 0), "open"),  # a dated holiday is one year only
        (la(2027, 12, 25, 10, 0), "closed"),  # 12-25 every year (a Saturday in 2027)
        (la(2028, 12, 25, 10, 0), "closed"),  # (a Monday in 2028)
        (la(2026, 12, 25, 10, 30), "open"),  # a dated exception beats the yearly holiday
        (la(2026, 12, 25, 11, 0), "closed"),
        (la(2026, 12, 24, 11, 59), "open"),  # Christmas Eve: mornings only
        (la(2026, 12, 24, 12, 0), "closed"),
        (la(2026, 12, 31, 10, 0), "closed"),  # an exception can close a whole day
        (la(2026, 12, 30, 10, 0), "open"),
    ],
)
def test_holidays_and_exceptions(when: dt.datetime, expected: str) -> None:
    assert state(when) == expected


def test_a_night_that_starts_before_a_holiday_runs_into_it() -> None:
    # Friday 2026-12-25 22:00 opens the night; Saturday the 26th is a holiday, so no night
    # starts on it, but Friday's night still runs until 06:00 on the holiday morning
    assert state(madrid(2026, 12, 26, 5, 0), NIGHT) == "open"
    assert state(madrid(2026, 12, 26, 23, 0), NIGHT) == "closed"
    assert state(madrid(2026, 12, 27, 5, 0), NIGHT) == "closed"


# -- conditions, explain, agreement -----------------------------------------------------


def test_during_and_outside_pick_rules() -> None:
    inbound = {"sip.ruleID": "SDR_abc"}
    assert POLICY.decide(inbound, now=la(2026, 12, 22, 10, 0)).rule == "in-office"
    # Sunday 02:00 in Madrid is Saturday 17:00 in San Francisco: the office has closed
    assert POLICY.decide(inbound, now=madrid(2026, 12, 6, 2, 0)).rule == "at-night"
    assert POLICY.decide(inbound, now=la(2026, 12, 22, 20, 0)).rule == "after-hours"
    assert POLICY.decide({}, now=la(2026, 12, 22, 20, 0)).rule is None  # outbound


def test_explain_says_why_with_the_local_time() -> None:
    d = POLICY.explain({"sip.ruleID": "SDR_abc"}, now=dt.datetime(2026, 12, 25, 2, 30, tzinfo=UTC))
    failed = d.trace[0].failed
    assert failed is not None
    assert str(failed) == (
        "`schedule.office` is `closed at Thu 18:30 PST, exception 09:00-12:00`, expected `open`"
    )
    d = POLICY.explain({"sip.ruleID": "SDR_abc"}, now=la(2026, 12, 31, 10, 0))
    assert d.trace[0].failed is not None
    assert d.trace[0].failed.actual == "closed at Thu 10:00 PST, exception, closed"


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, LA, ZoneInfo("Europe/Madrid"), ZoneInfo("Asia/Kolkata")]),
    ),
    st.booleans(),
)
def test_indexed_decide_agrees_with_the_scan_at_any_time(when: dt.datetime, inbound: bool) -> None:
    attrs = {"sip.ruleID": "SDR_abc"} if inbound else {}
    assert POLICY.decide(attrs, now=when).rule == POLICY.explain(attrs, now=when).rule


def test_the_schedule_is_worked_out_once_per_decision() -> None:
    d = POLICY.decide({"sip.ruleID": "SDR_abc"}, now=la(2026, 12, 22, 20, 0))
    assert d.rule == "after-hours"
    assert d.facts[OFFICE] == "closed"  # read by two rules, cached once


# -- load errors, with positions --------------------------------------------------------


def schedule_errors(body: str) -> list[tuple[str, int, int, str]]:
    text = "version: 1\nschedules:\n  s:\n" + body
    with pytest.raises(PolicyError) as info:
        policy.loads(text)
    return [
        (d.code, d.location.line, d.location.column, d.message)
        for d in info.value.diagnostics
        if d.is_error
    ]


@pytest.mark.parametrize(
    ("body", "code", "line", "at", "words"),
    [
        (
            "    timezone: Mars/Olympus\n    hours: {daily: '09:00-17:00'}\n",
            "unknown-timezone",
            4,
            "Mars",
            "`Mars/Olympus`",
        ),
        (
            "    timezone: America/Los_Angles\n    hours: {daily: '09:00-17:00'}\n",
            "unknown-timezone",
            4,
            "America",
            "`America/Los_Angles`",
        ),
        ("    timezone: UTC\n    hours: {mon: '09:00-25:00'}\n", "bad-hours", 5, "'09", "`25:00`"),
        ("    timezone: UTC\n    hours: {mon: '09:00-17:60'}\n", "bad-hours", 5, "'09", "`17:60`"),
        ("    timezone: UTC\n    hours: {mon: '24:00-02:00'}\n", "bad-hours", 5, "'24", "24:00"),
        ("    timezone: UTC\n    hours: {mon: '24:30-02:00'}\n", "bad-hours", 5, "'24", "`24:30`"),
        (
            "    timezone: UTC\n    hours: {mon: '09:00-09:00'}\n",
            "bad-hours",
            5,
            "'09",
            "same time",
        ),
        ("    timezone: UTC\n    hours: {mon: 9am-5pm}\n", "bad-hours", 5, "9am", "`9am-5pm`"),
        ("    timezone: UTC\n    hours: {mon: 17:30}\n", "bad-hours", 5, "17:30", "`17:30`"),
        ("    timezone: UTC\n    hours: {mon: [closed]}\n", "bad-hours", 5, "closed", "`closed`"),
        (
            "    timezone: UTC\n    hours: {funday: '09:00-10:00'}\n",
            "unknown-day",
            5,
            "funday",
            "`funday`",
        ),
        (
            "    timezone: UTC\n    hours: {mon-fri: '09:00-10:00', fri: closed}\n",
            "bad-hours",
            5,
            "fri: closed",
            "`fri` is given twice",
        ),
        (
            "    timezone: UTC\n    hours: {mon: closed}\n    holidays: ['2026-02-30']\n",
            "bad-date",
            6,
            "'2026",
            "`2026-02-30`",
        ),
        (
            "    timezone: UTC\n    hours: {mon: closed}\n    holidays: ['13-01']\n",
            "bad-date",
            6,
            "'13",
            "`13-01`",
        ),
        (
            "    timezone: UTC\n    hours: {mon: closed}\n    holidays: [2026-12-25 10:00:00]\n",
            "bad-date",
            6,
            "2026",
            "not a date",
        ),
        (
            "    timezone: UTC\n    hours: {mon: closed}\n    exceptions: {'12-25': '10:00-11:00'}\n    holidays: ['12-25']\n",
            "bad-date",
            6,
            "'12",
            "both a holiday",
        ),
        (
            "    timezone: UTC\n    hours: {mon: closed}\n    exceptions: {tomorrow: closed}\n",
            "bad-date",
            6,
            "tomorrow",
            "`tomorrow`",
        ),
        (
            "    timezone: UTC\n    hours: {mon: closed}\n    opening: {}\n",
            "unknown-key",
            6,
            "opening",
            "`opening`",
        ),
        ("    timezone: UTC\n", "missing-key", 3, "s:", "`hours`"),
    ],
)
def test_schedule_errors_point_at_the_mistake(
    body: str, code: str, line: int, at: str, words: str
) -> None:
    found = schedule_errors(body)
    assert len(found) == 1, found
    got_code, got_line, column, message = found[0]
    text = ("version: 1\nschedules:\n  s:\n" + body).splitlines()[got_line - 1]
    assert (got_code, got_line, column) == (code, line, text.index(at) + 1)
    assert words in message


def test_an_unquoted_time_gets_the_quote_advice() -> None:
    with pytest.raises(PolicyError) as info:
        policy.loads("version: 1\nschedules:\n  s:\n    timezone: UTC\n    hours: {mon: 17:30}\n")
    diag = info.value.errors[0]
    assert diag.message == "`17:30` is read by YAML as a number, not as text"
    assert diag.help is not None and 'put it in quotes: "17:30"' in diag.help


def test_leap_day_every_year_and_abbreviation_advice() -> None:
    p = policy.loads(
        "version: 1\nschedules:\n  s:\n    timezone: UTC\n    hours: {daily: '00:00-24:00'}\n"
        "    holidays: ['02-29']\nrules:\n  - name: r\n    when: {during: s}\n"
    )
    assert p.decide({}, now=dt.datetime(2028, 2, 29, 12, tzinfo=UTC)).rule is None
    assert p.decide({}, now=dt.datetime(2028, 2, 28, 12, tzinfo=UTC)).rule == "r"
    with pytest.raises(PolicyError) as info:
        policy.loads("version: 1\nschedules:\n  s:\n    timezone: PST\n    hours: {mon: closed}\n")
    assert "did you mean `America/Los_Angeles`?" in (info.value.errors[0].help or "")


def test_a_fixed_offset_zone_is_a_warning() -> None:
    p = policy.loads("version: 1\nschedules:\n  s:\n    timezone: EST\n    hours: {mon: closed}\n")
    warnings = [(w.code, w.location.line) for w in p.warnings if w.code != "no-rules"]
    assert warnings == [("fixed-timezone", 4)]


def test_unknown_schedule_names_in_rules() -> None:
    text = (
        HEAD + "  - name: typo\n    when: {outside: ofice}\n  - name: bad\n    when: {during: 3}\n"
    )
    with pytest.raises(PolicyError) as info:
        policy.loads(text)
    found = [(d.code, d.message, d.help) for d in info.value.errors]
    assert found == [
        (
            "unknown-schedule",
            "rule `typo` uses schedule `ofice`, which is not defined",
            "did you mean `office`?",
        ),
        (
            "unquoted-value",
            "`during`: `3` is read by YAML as a number, not as text",
            'put it in quotes: "3"',
        ),
    ]


def test_a_broken_schedule_is_reported_once_not_again_by_its_rules() -> None:
    found = schedule_errors(
        "    timezone: Nowhere/City\n    hours: {mon: closed}\nrules:\n  - name: r\n    when: {during: s}\n"
    )
    assert [code for code, *_ in found] == ["unknown-timezone"]


def test_schedules_must_be_a_mapping() -> None:
    with pytest.raises(PolicyError) as info:
        policy.loads("version: 1\nschedules: [office]\n")
    assert [d.code for d in info.value.errors] == ["invalid-value"]


# -- the sample policy and the command line ---------------------------------------------


def test_the_sample_policy_cases_pass() -> None:
    sample = policy.load(ROOT / "rules.yaml")
    report = run_cases(sample, [ROOT / "rules.tests.yaml"])
    assert report.diagnostics == []
    assert [r.name for r in report.results if not r.passed] == []
    assert report.unreached == []
    names = {r.rule for r in report.results}
    assert {"after-hours", "after-hours-spanish", "spanish-speaking-callers"} <= names


def test_explain_at_a_time_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(
        [
            "explain",
            str(ROOT / "rules.yaml"),
            "--attr",
            "sip.phoneNumber=+14155550123",
            "--attr",
            "sip.ruleID=SDR_xkVKoqTfPE4Q",
            "--at",
            "2026-12-24T18:30:00-08:00",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "decision: rule `after-hours`" in out
    assert "schedule.office-hours = closed" in out
    assert "caller.location = San Francisco, CA" in out
