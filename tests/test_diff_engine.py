"""The diff engine on edits no test case covers: the generated callers must find each move
(countries, schedules, holidays, table rows, kinds, negations), in-process on real rules
text and real table files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from policy import loads
from policy.diff import compare
from policy.diff.callers import complete_number, example, schedule_times

BASE = dt.datetime(2026, 12, 22, 10)

RULES = """\
version: 1
schedules:
  office:
    timezone: America/Los_Angeles
    hours: {mon-fri: "08:00-18:00"}
    holidays: ["2026-12-25"]
rules:
  - name: closed
    when: {call.direction: inbound, outside: office}
  - name: iberia
    when: {sip.phoneNumber: {country: [ES, PT]}}
  - name: not-gold
    when: {not: {customer.tier: gold}, kind: standard}
  - name: renewals
    when: {campaign: {prefix: renewal-}}
  - name: web
    when: {kind: standard}
"""


def moves(old: str, new: str, base_dir: Path | None = None) -> set[tuple[str | None, str | None]]:
    a, b = loads(old, base_dir=base_dir), loads(new, base_dir=base_dir)
    return {(m.old_rule, m.new_rule) for m in compare(a, b, base=BASE).moves()}


def test_no_edit_no_move() -> None:
    assert moves(RULES, RULES) == set()


def test_a_country_dropped_from_a_list() -> None:
    assert moves(RULES, RULES.replace("[ES, PT]", "[ES]")) == {("iberia", None)}


def test_opening_hours_narrowed() -> None:
    assert moves(RULES, RULES.replace('"08:00-18:00"', '"09:00-18:00"')) == {(None, "closed")}


def test_a_holiday_added() -> None:
    new = RULES.replace('["2026-12-25"]', '["2026-12-25", "2026-12-24"]')
    assert moves(RULES, new) == {(None, "closed")}


def test_a_prefix_shortened_and_a_negation_changed() -> None:
    assert moves(RULES, RULES.replace("renewal-", "renewal-2026-")) == {("renewals", None)}
    changed = RULES.replace("not: {customer.tier: gold}", "not: {customer.tier: [gold, silver]}")
    assert moves(RULES, changed) == {("not-gold", "web")}


def test_a_changed_table_row(tmp_path: Path) -> None:
    (tmp_path / "numbers.csv").write_text(
        "sip.trunkPhoneNumber,use\n+15105550100,a\n+15105550101,b\n", encoding="utf-8"
    )
    rules = (
        "version: 1\nprofiles:\n  a: {llm: openai/a}\n  b: {llm: openai/b}\n"
        "rules:\n  - name: hosted\n    table: numbers.csv\n"
    )
    old = loads(rules, base_dir=tmp_path)
    (tmp_path / "numbers.csv").write_text(
        "sip.trunkPhoneNumber,use\n+15105550100,a\n+15105550101,a\n", encoding="utf-8"
    )
    new = loads(rules, base_dir=tmp_path)
    diff = compare(old, new, base=BASE)
    [change] = diff.changes
    assert dict(change.caller.attributes) == {"sip.trunkPhoneNumber": "+15105550101"}
    assert change.fields == {"llm": ("openai/b", "openai/a")}


def test_generated_values_are_real_numbers_and_times() -> None:
    assert example("ES") is not None and example("ES").startswith("+34")  # type: ignore[union-attr]
    assert complete_number("+1650").startswith("+1650") and len(complete_number("+1650")) == 12
    policy = loads(RULES)
    schedule = next(
        r.cond.conds[1].source.schedule  # type: ignore[attr-defined]
        for r in policy.rules
        if r.name == "closed"
    )
    times = schedule_times(schedule, BASE.date())
    assert dt.datetime(2026, 12, 25, 12) in times  # the holiday
    assert dt.datetime(2026, 12, 22, 8, 0) in times and dt.datetime(2026, 12, 22, 7, 59) in times
    assert dt.datetime(2026, 12, 22, 18, 0) in times and dt.datetime(2026, 12, 22, 17, 59) in times
