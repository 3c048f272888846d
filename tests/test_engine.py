"""Policy API details that the behaviour cases do not show."""

from __future__ import annotations

import policy

RULES = """
defaults: {tools: [end_call]}
profiles:
  support: {tools: [lookup_order, end_call]}
rules:
  - name: web
    when: {kind: standard}
  - name: nested
    when: {any: [{not: {kind: connector}}, {customer.tier: gold}]}
    use: support
    set: {tools: [transfer_to_human]}
"""


def test_kinds_named_by_the_rules() -> None:
    assert policy.loads(RULES).kinds() == {"standard", "connector"}


def test_tool_names_cover_defaults_profiles_and_rules() -> None:
    assert policy.loads(RULES).tool_names() == {"end_call", "transfer_to_human"}
    assert policy.loads(
        RULES.replace("    set: {tools: [transfer_to_human]}\n", "")
    ).tool_names() == {
        "end_call",
        "lookup_order",
    }


def test_revision_follows_content_and_referenced_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "p.md").write_text("one", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text("defaults: {instructions_file: p.md}\n", encoding="utf-8")
    first = policy.load(rules)
    assert policy.load(rules).revision == first.revision
    (tmp_path / "p.md").write_text("two", encoding="utf-8")
    second = policy.load(rules)
    assert second.revision != first.revision
    assert [p.name for p in second.files] == ["rules.yaml", "p.md"]


def test_decision_to_dict_is_plain_json() -> None:
    import json

    d = policy.loads(RULES).decide({"customer.tier": "gold"}, "connector")
    data = json.loads(json.dumps(d.to_dict()))
    assert data["rule"] == "nested"
    assert data["outcome"]["tools"] == ["transfer_to_human"]
    assert data["outcome"]["sources"]["tools"] == "rule:nested"


def test_kind_enum_names_are_understood() -> None:
    import enum

    class Kind(enum.Enum):
        PARTICIPANT_KIND_STANDARD = 0

    assert policy.loads(RULES).decide({}, Kind.PARTICIPANT_KIND_STANDARD).rule == "web"


def test_schedule_and_phone_facts_work_as_conditions_and_placeholders() -> None:
    import datetime as dt

    rules = policy.loads(
        """
settings: {default_region: US}
schedules:
  office-hours:
    timezone: America/Los_Angeles
    hours: {mon-fri: "09:00-17:00"}
defaults: {greeting: "From {{ sip.trunkPhoneNumber.country | US }}, {{ schedule.office-hours }}"}
rules:
  - name: closed
    when: {schedule.office-hours: closed}
"""
    )
    attrs = {"sip.trunkPhoneNumber": "+34911234567"}
    evening = rules.decide(attrs, now=dt.datetime(2026, 12, 22, 20, 0))
    morning = rules.decide(attrs, now=dt.datetime(2026, 12, 22, 10, 0))
    assert (evening.rule, evening.outcome.greeting) == ("closed", "From ES, closed")
    assert (morning.rule, morning.outcome.greeting) == (None, "From ES, open")
