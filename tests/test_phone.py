"""Phone numbers: carrier formats, countries, areas, number types, hidden numbers, hostile
values, load errors, and the indexed `decide` agreeing with the plain `explain` scan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy
from policy import PolicyError
from policy.runtime.context import Context
from policy.runtime.phone import _analyse

FIXTURES = Path(__file__).parent / "fixtures" / "attributes"

BASE = """
version: 1
settings:
  default_region: US
defaults:
  stt: deepgram/nova-3
"""


def make(rules: str, head: str = BASE) -> policy.Policy:
    return policy.loads(head + rules)


def fixture(name: str) -> tuple[dict[str, str], str]:
    data = json.loads((FIXTURES / name).read_text())
    return data["attributes"], data["kind"]


def compared(p: policy.Policy, attrs: dict[str, Any], rule: int = 0) -> str | None:
    """The value rule `rule`'s condition on `sip.phoneNumber` compares (its E.164 form
    when it is a number, else the text as it came)."""
    source = p.rules[rule].cond.source
    assert source is not None
    return source.get(Context(attrs, "sip", None, p.settings))


def both(p: policy.Policy, attrs: dict[str, Any], kind: str = "sip") -> str | None:
    """The rule chosen, after checking the index agrees with the plain scan."""
    decided = p.decide(attrs, kind)
    scanned = p.explain(attrs, kind)
    assert decided.rule == scanned.rule, (attrs, decided.rule, scanned.rule)
    return decided.rule


def errors(text: str) -> list[tuple[str, int, int, str]]:
    with pytest.raises(PolicyError) as info:
        policy.loads(text)
    return [
        (d.code, d.location.line, d.location.column, d.message)
        for d in info.value.diagnostics
        if d.is_error
    ]


# -- every carrier format in the fixtures ----------------------------------------------

FACTS_RULES = """
rules:
  - name: bay-area
    when: {sip.phoneNumber: {prefix: "+1415"}}
  - name: new-york
    when: {sip.phoneNumber: {area: "212"}}
  - name: hidden
    when: {sip.phoneNumber: {withheld: true}}
  - name: toll-free-line
    when: {sip.trunkPhoneNumber: {type: toll_free}}
"""


@pytest.mark.parametrize(
    ("name", "rule", "number", "country", "location", "withheld"),
    [
        # the generic carrier sends numbers without `+`
        (
            "generic-carrier-x-headers.json",
            "bay-area",
            "+14155550176",
            "US",
            "San Francisco, CA",
            "false",
        ),
        ("hidden-number-inbound.json", "hidden", None, None, None, "true"),
        ("outbound-answered.json", "bay-area", "+14155550199", "US", "San Francisco, CA", "false"),
        ("outbound-dialing.json", "bay-area", "+14155550198", "US", "San Francisco, CA", "false"),
        ("telnyx-inbound-ringing.json", "new-york", "+12125550147", "US", "New York, NY", "false"),
        (
            "twilio-inbound-active.json",
            "bay-area",
            "+14155550123",
            "US",
            "San Francisco, CA",
            "false",
        ),
        ("web-participant.json", None, None, None, None, None),
    ],
)
def test_each_fixture_normalizes_and_routes(
    name: str,
    rule: str | None,
    number: str | None,
    country: str | None,
    location: str | None,
    withheld: str | None,
) -> None:
    p = make(FACTS_RULES)
    attrs, kind = fixture(name)
    assert both(p, attrs, kind) == rule
    facts = p.explain(attrs, kind).facts
    assert facts["caller.number"] == number
    assert facts["caller.country"] == country
    assert facts["caller.location"] == location
    assert facts["caller.withheld"] == withheld


def test_the_generic_carrier_trunk_number_without_plus_is_a_toll_free_number() -> None:
    p = make("""
rules:
  - name: toll-free-line
    when: {sip.trunkPhoneNumber: {type: toll_free}}
""")
    attrs, kind = fixture("generic-carrier-x-headers.json")
    assert attrs["sip.trunkPhoneNumber"] == "18005550142"
    assert both(p, attrs, kind) == "toll-free-line"


def test_numbers_without_plus_are_read_even_without_a_default_region() -> None:
    p = make(
        'rules:\n  - name: bay\n    when: {sip.phoneNumber: {prefix: "+1415"}}\n',
        head="version: 1\n",
    )
    attrs, kind = fixture("generic-carrier-x-headers.json")
    assert both(p, attrs, kind) == "bay"
    # a national number cannot be read without a region: no number, no match, no error
    assert both(p, {"sip.phoneNumber": "(415) 555-0176"}) is None


@pytest.mark.parametrize(
    "raw",
    [
        "+14155550176",
        "14155550176",
        "4155550176",
        "(415) 555-0176",
        "415-555-0176",
        "415.555.0176",
        "+1 415 555 0176",
        "+1 (415) 555-0176",
        "0014155550176",
    ],
)
def test_every_format_of_one_number_matches_the_same_rules(raw: str) -> None:
    p = make("""
rules:
  - name: exact
    when: {sip.phoneNumber: "(415) 555-0176"}
  - name: prefix
    when: {sip.phoneNumber: {prefix: "+1 415"}}
""")
    assert both(p, {"sip.phoneNumber": raw}) == "exact"
    before = _analyse.cache_info()
    assert compared(p, {"sip.phoneNumber": raw}) == "+14155550176"
    after = _analyse.cache_info()
    if raw == "+14155550176":  # already E.164: compared as written, no parse at all
        assert (after.hits, after.misses) == (before.hits, before.misses)
    assert p.explain({"sip.phoneNumber": raw}).facts["caller.number"] == "+14155550176"


def test_prefix_literals_are_normalized_like_numbers() -> None:
    p = make("""
rules:
  - name: spain
    when: {sip.phoneNumber: {prefix: ["0034", "+52 55"]}}
""")
    assert both(p, {"sip.phoneNumber": "+34911234567"}) == "spain"
    assert both(p, {"sip.phoneNumber": "525512345678"}) == "spain"
    assert both(p, {"sip.phoneNumber": "+525212345678"}) is None


def test_a_trunk_region_reads_national_numbers_of_that_country() -> None:
    p = make(
        """
settings:
  default_region: US
  trunk_regions: {ST_mexico0001: MX}
rules:
  - name: cdmx
    when: {sip.phoneNumber: {prefix: "+5255"}}
""",
        head="version: 1\n",
    )
    national = {"sip.phoneNumber": "55 1234 5678"}
    assert both(p, {**national, "sip.trunkID": "ST_mexico0001"}) == "cdmx"
    assert p.decide({**national, "sip.trunkID": "ST_mexico0001"}).facts["call.region"] == "MX"
    assert both(p, {**national, "sip.trunkID": "ST_other000001"}) is None


def test_lower_case_regions_are_accepted() -> None:
    p = make("settings:\n  default_region: mx\nrules: []\n", head="version: 1\n")
    assert p.settings.default_region == "MX"


# -- countries, areas, types -----------------------------------------------------------


def test_country_operator_fact_and_trunk() -> None:
    p = make("""
rules:
  - name: spanish
    when: {sip.phoneNumber: {country: [mx, ES]}}
  - name: uk-line
    when: {sip.trunkPhoneNumber: {country: GB}}
  - name: canada
    when: {caller.country: CA}
""")
    assert both(p, {"sip.phoneNumber": "+525512345678"}) == "spanish"
    assert both(p, {"sip.phoneNumber": "+34911234567"}) == "spanish"
    assert both(p, {"sip.phoneNumber": "+14155550176"}) is None
    assert both(p, {"sip.trunkPhoneNumber": "+442079460000"}) == "uk-line"
    assert both(p, {"sip.phoneNumber": "+16135550123"}) == "canada"
    assert both(p, {"sip.phoneNumber": "anonymous"}) is None


def test_area_codes_in_the_default_region_and_abroad() -> None:
    p = make("""
rules:
  - name: east-bay
    when: {sip.phoneNumber: {area: ["510", "925"]}}
  - name: london
    when: {sip.phoneNumber: {area: "+44 20"}}
""")
    assert both(p, {"sip.phoneNumber": "510-555-0199"}) == "east-bay"
    assert both(p, {"sip.phoneNumber": "+19255550123"}) == "east-bay"
    assert both(p, {"sip.phoneNumber": "+442079460000"}) == "london"
    assert both(p, {"sip.phoneNumber": "+14155550176"}) is None
    uk = make(
        'rules:\n  - name: london\n    when: {sip.phoneNumber: {area: "020"}}\n',
        head="version: 1\nsettings: {default_region: GB}\n",
    )
    assert both(uk, {"sip.phoneNumber": "020 7946 0000"}) == "london"


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("+447400123456", "mobile"),
        ("+441212345678", "fixed_line"),
        ("+12015550123", "fixed_line_or_mobile"),
        ("+448001234567", "toll_free"),
        ("+449012345678", "premium_rate"),
        ("+523001234567", "shared_cost"),
        ("+445612345678", "voip"),
        ("+447012345678", "personal_number"),
        ("+447640123456", "pager"),
        ("+445512345678", "uan"),
        ("+49177991234567", "voicemail"),
        ("+447700900123", "unknown"),  # possible but never assigned
    ],
)
def test_each_number_type(number: str, kind: str) -> None:
    p = make(f"""
rules:
  - name: by-type
    when: {{sip.phoneNumber: {{type: {kind}}}}}
  - name: by-fact
    when: {{caller.type: {kind}}}
""")
    assert both(p, {"sip.phoneNumber": number}) == "by-type"
    assert p.decide({"sip.phoneNumber": number}).facts["caller.type"] == kind
    others = "mobile" if kind != "mobile" else "fixed_line"
    q = make(f"rules:\n  - name: other\n    when: {{sip.phoneNumber: {{type: {others}}}}}\n")
    assert both(q, {"sip.phoneNumber": number}) is None


def test_type_names_with_dashes_are_accepted() -> None:
    p = make("rules:\n  - name: free\n    when: {sip.phoneNumber: {type: toll-free}}\n")
    assert both(p, {"sip.phoneNumber": "+18005550199"}) == "free"


# -- valid, invalid, withheld ----------------------------------------------------------

STATUS_RULES = """
rules:
  - name: hidden
    when: {sip.phoneNumber: {withheld: true}}
  - name: junk
    when: {sip.phoneNumber: {valid: false}}
  - name: real
    when: {sip.phoneNumber: {valid: true}}
"""


@pytest.mark.parametrize(
    ("attrs", "rule"),
    [
        ({}, "hidden"),
        ({"sip.phoneNumber": "anonymous"}, "hidden"),
        ({"sip.phoneNumber": "Anonymous"}, "hidden"),
        ({"sip.phoneNumber": "restricted"}, "hidden"),
        ({"sip.phoneNumber": ""}, "hidden"),  # LiveKit deletes a key set to ""
        ({"sip.phoneNumber": "+447700900123"}, "junk"),
        ({"sip.phoneNumber": "+1415"}, "junk"),
        ({"sip.phoneNumber": "hello"}, "junk"),
        ({"sip.phoneNumber": "14155550176"}, "real"),
    ],
)
def test_valid_invalid_withheld(attrs: dict[str, str], rule: str) -> None:
    assert both(make(STATUS_RULES), attrs) == rule


def test_a_web_visitor_has_no_caller_id_to_hide() -> None:
    assert both(make(STATUS_RULES), {}, "standard") is None


def test_text_that_is_not_a_number_compares_as_it_came() -> None:
    p = make("""
rules:
  - name: usable-number
    when: {sip.phoneNumber: {valid: true}}
  - name: something-else
    when: {sip.phoneNumber: {exists: true}}
""")
    assert both(p, {"sip.phoneNumber": "14155550176"}) == "usable-number"
    assert both(p, {"sip.phoneNumber": "anonymous"}) == "something-else"
    assert both(p, {"sip.phoneNumber": "+14155550176 "}) == "something-else"  # odd text
    d = p.explain({"sip.phoneNumber": "anonymous"})
    assert compared(p, {"sip.phoneNumber": "anonymous"}, rule=1) == "anonymous"
    assert d.facts["caller.number"] is None


def test_declared_phone_attributes_are_numbers_too() -> None:
    p = make("""
attributes:
  crm.mobile: {phone: true}
rules:
  - name: mexican-mobile-on-file
    when: {crm.mobile: {country: MX}}
  - name: on-file
    when: {crm.mobile: "+1 415 555 0176"}
""")
    assert both(p, {"crm.mobile": "+52 55 1234 5678"}) == "mexican-mobile-on-file"
    assert both(p, {"crm.mobile": "4155550176"}) == "on-file"


def test_location_placeholder_with_fallback() -> None:
    p = make("""
profiles:
  local:
    greeting: "Hi, caller from {{ caller.location | your area }}!"
rules:
  - name: everyone
    when: {kind: sip}
    use: local
""")
    assert p.decide({"sip.phoneNumber": "+14155550123"}).outcome.greeting == (
        "Hi, caller from San Francisco, CA!"
    )
    assert p.decide({"sip.phoneNumber": "anonymous"}).outcome.greeting == (
        "Hi, caller from your area!"
    )


# -- explain ---------------------------------------------------------------------------


def test_explain_shows_the_normalized_value_and_the_facts() -> None:
    p = make("""
rules:
  - name: spanish
    when: {sip.phoneNumber: {country: [MX, ES]}}
  - name: bay
    when: {sip.phoneNumber: {prefix: "+1510"}}
""")
    d = p.explain({"sip.phoneNumber": "(415) 555-0176", "sip.ruleID": "SDR_abc"})
    assert d.rule is None
    first, second = (step.failed for step in d.trace)
    assert first is not None and second is not None
    assert str(first) == "`caller.country` is `US`, expected one of `ES`, `MX`"
    assert str(second) == "`sip.phoneNumber` is `+14155550176`, expected to start with `+1510`"
    assert d.facts["caller.type"] == "fixed_line_or_mobile"
    assert d.facts["call.region"] == "US"
    assert d.facts["caller.valid"] == "true"


def test_a_narrower_country_rule_after_a_wider_one_is_unreachable() -> None:
    p = make("""
rules:
  - name: spanish
    when: {sip.phoneNumber: {country: [MX, ES]}}
  - name: mexico
    when: {caller.country: MX}
""")
    assert [w.code for w in p.warnings] == ["unreachable-rule"]


# -- once per decision, and hostile values ---------------------------------------------


def test_the_number_is_parsed_once_per_decision_however_many_rules_read_it() -> None:
    rules = "".join(
        f'  - name: r{i}\n    when: {{sip.phoneNumber: {{prefix: "+1{200 + i}"}}, customer.x: y}}\n'
        for i in range(60)
    )
    p = make("rules:\n" + rules)
    for n in range(5):
        attrs = {"sip.phoneNumber": f"+1 215 555 01{n:02d}", "customer.x": "y"}
        before = _analyse.cache_info()
        assert p.decide(attrs).rule == "r15"
        after = _analyse.cache_info()
        assert (after.hits + after.misses) - (before.hits + before.misses) == 1
        assert after.misses - before.misses == 1
        # explain tries all 60 rules and derives every fact, and still parses no more
        p.explain(attrs)
        assert _analyse.cache_info().misses == after.misses


@pytest.mark.parametrize(
    "raw",
    [
        "+1415" + "5" * 60_000,  # 60 KB
        "+1415555\x000176",
        "+1415\u200f5550176",  # right-to-left mark
        "\u202e+14155550176",  # right-to-left override
        "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff17\uff16",  # fullwidth
        "+\u0661\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0667\u0666",  # Arabic-Indic
        "tel:+14155550176",
        "+1-800-FLOWERS",
    ],
)
def test_hostile_values_are_not_numbers_and_never_reach_the_parser_when_long(raw: str) -> None:
    p = make("""
profiles:
  p:
    greeting: "from {{ caller.location | somewhere }}"
rules:
  - name: us
    when: {sip.phoneNumber: {country: US}}
    use: p
  - name: mobile
    when: {caller.type: [mobile, fixed_line_or_mobile]}
    use: p
  - name: junk
    when: {sip.phoneNumber: {valid: false}}
    use: p
""")
    before = _analyse.cache_info()
    decision = p.decide({"sip.phoneNumber": raw})
    assert decision.rule == p.explain({"sip.phoneNumber": raw}).rule == "junk"
    assert decision.outcome.greeting == "from somewhere"
    assert p.explain({"sip.phoneNumber": raw}).facts["caller.number"] is None
    assert decision.errors == ()
    if len(raw) > 64:
        assert _analyse.cache_info().misses == before.misses


@pytest.mark.parametrize(
    "raw",
    [
        "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff17\uff16",
        "+\u0661\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0667\u0666",
        "\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff17\uff16",
    ],
)
def test_lookalike_digits_never_match_a_number_rule(raw: str) -> None:
    """Decided: digits other than ASCII are not read as digits. libphonenumber would read
    them, but no carrier sends them, and other systems (raw-text rules, CRM lookups, logs)
    would see a different value than the phone rules did."""
    p = make("""
rules:
  - name: exact
    when: {sip.phoneNumber: "+14155550176"}
  - name: bay
    when: {sip.phoneNumber: {prefix: "+1415"}}
  - name: area
    when: {sip.phoneNumber: {area: "415"}}
  - name: us
    when: {caller.country: US}
""")
    assert both(p, {"sip.phoneNumber": raw}) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(st.characters(exclude_categories=()), max_size=80),
    st.text(st.characters(exclude_categories=()), max_size=20),
)
def test_decide_never_raises_on_any_phone_text(number: str, trunk: str) -> None:
    p = _HOSTILE_POLICY
    attrs = {"sip.phoneNumber": number, "sip.trunkPhoneNumber": trunk, "sip.trunkID": trunk}
    d = p.decide(attrs)
    assert d.rule == p.explain(attrs).rule
    assert d.errors == ()


_HOSTILE_POLICY = make(
    """
settings:
  default_region: US
  trunk_regions: {ST_mexico0001: MX}
rules:
  - name: a
    when: {sip.phoneNumber: {prefix: "+1415"}}
  - name: b
    when: {caller.country: MX}
  - name: c
    when: {sip.phoneNumber: {type: mobile}}
  - name: d
    when: {caller.withheld: "true"}
""",
    head="version: 1\n",
)


# -- the index agrees with the plain scan ----------------------------------------------

NUMBERS = [
    "+14155550176",
    "14155550176",
    "(415) 555-0176",
    "4155550176",
    "+15105550123",
    "510 555 0100",
    "+12125550147",
    "+18005550199",
    "+19005550100",
    "+525512345678",
    "525512345678",
    "55 1234 5678",
    "+34911234567",
    "0034612345678",
    "+447400123456",
    "+442079460000",
    "+447700900123",
    "anonymous",
    "Restricted",
    "+1415",
    "hello",
    "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff17\uff16",
]

AGREEMENT = make(
    """
settings:
  default_region: US
  trunk_regions: {ST_mexico0001: MX, ST_spain000001: ES}
rules:
  - name: spanish-line
    when: {sip.trunkPhoneNumber: "+1 (510) 555-0123"}
  - name: bay-on-other-trunk
    when: {sip.phoneNumber: {prefix: ["+1415", "+1510"], type: fixed_line_or_mobile}, sip.trunkID: ST_other000001}
  - name: bay
    when: {sip.phoneNumber: {area: ["415", "510"]}}
  - name: cdmx
    when: {sip.phoneNumber: {prefix: "+5255"}}
  - name: spanish-speakers
    when: {sip.phoneNumber: {country: [MX, ES]}}
  - name: toll-free
    when: {sip.trunkPhoneNumber: {type: toll_free}}
  - name: uk-mobile
    when: {caller.country: GB, caller.type: mobile}
  - name: hidden
    when: {sip.phoneNumber: {withheld: true}}
  - name: junk
    when: {sip.phoneNumber: {valid: false}}
  - name: exact
    when: {sip.phoneNumber: ["+12125550147", "+19005550100"]}
  - name: not-us
    when: {not: {caller.country: US}}
  - name: anyone
    when: {kind: sip}
""",
    head="version: 1\n",
)


@settings(max_examples=400, deadline=None)
@given(
    caller=st.one_of(st.none(), st.sampled_from(NUMBERS)),
    trunk=st.one_of(st.none(), st.sampled_from(NUMBERS)),
    trunk_id=st.sampled_from([None, "ST_mexico0001", "ST_spain000001", "ST_other000001"]),
    kind=st.sampled_from(["sip", "sip", "sip", "standard"]),
)
def test_indexed_decide_agrees_with_the_plain_scan(
    caller: str | None, trunk: str | None, trunk_id: str | None, kind: str
) -> None:
    attrs = {
        k: v
        for k, v in (
            ("sip.phoneNumber", caller),
            ("sip.trunkPhoneNumber", trunk),
            ("sip.trunkID", trunk_id),
        )
        if v is not None
    }
    assert AGREEMENT.explain(attrs, kind).rule == AGREEMENT.decide(attrs, kind).rule


def test_the_agreement_policy_reaches_every_rule() -> None:
    """The property above is only worth something if the numbers reach each rule."""
    reached = {
        AGREEMENT.decide({"sip.phoneNumber": n, "sip.trunkPhoneNumber": t, "sip.trunkID": i}).rule
        for n in NUMBERS
        for t in ["+15105550123", "+18005550199", "+14155550100"]
        for i in ["ST_mexico0001", "ST_other000001", "ST_spain000001"]
    }
    reached.add(AGREEMENT.decide({"sip.trunkPhoneNumber": "+14155550100"}).rule)
    assert reached == set(AGREEMENT.rule_names())


# -- load errors, with positions -------------------------------------------------------


def test_unknown_country_rendered_for_the_person_editing_the_file() -> None:
    with pytest.raises(PolicyError) as info:
        policy.loads(
            BASE + "rules:\n  - name: uk\n    when:\n      sip.phoneNumber: {country: UK}\n"
        )
    assert info.value.diagnostics[0].render() == (
        "rules.yaml:10:34: error[unknown-country]: `UK` is not an ISO country code\n"
        " 10 |       sip.phoneNumber: {country: UK}\n"
        "    |                                  ^^\n"
        "  help: did you mean `GB` (United Kingdom)? countries are two-letter ISO 3166 codes, "
        "e.g. US, MX, ES, GB (docs/errors.md#unknown-country)"
    )


@pytest.mark.parametrize(
    ("when", "code", "at", "words"),
    [
        ("{sip.phoneNumber: {country: [MX, Mexico]}}", "unknown-country", "Mexico", "`Mexico`"),
        ("{caller.country: Spain}", "unknown-country", "Spain", "`Spain`"),
        ("{sip.phoneNumber: {type: cell}}", "unknown-number-type", "cell", "`cell`"),
        ("{caller.type: landline}", "unknown-number-type", "landline", "`landline`"),
        ("{sip.phoneNumber: {area: abc}}", "bad-phone-prefix", "abc", "`abc`"),
        ('{sip.phoneNumber: {prefix: "1415"}}', "bad-phone-prefix", '"1415"', "`1415`"),
        ('{sip.phoneNumber: "555-0176"}', "bad-phone-number", '"555', "`555-0176`"),
        ("{sip.phoneNumber: {one_of: [anonymous]}}", "bad-phone-number", "anon", "`anonymous`"),
        ("{customer.tier: {country: MX}}", "not-a-phone-number", "country", "`customer.tier`"),
        ("{sip.phoneNumber: {withheld: yes please}}", "invalid-value", "yes", "`withheld`"),
        ('{caller.withheld: "maybe"}', "invalid-value", '"maybe"', "`maybe`"),
    ],
)
def test_condition_errors_point_at_the_value(when: str, code: str, at: str, words: str) -> None:
    line = f"    when: {when}"
    found = errors(BASE + f"rules:\n  - name: r\n{line}\n")
    assert len(found) == 1, found
    got_code, line_no, column, message = found[0]
    assert (got_code, line_no, column) == (code, 9, line.index(at) + 1)
    assert words in message


def test_settings_errors() -> None:
    found = errors("version: 1\nsettings:\n  default_region: XX\n  trunk_regions: {ST_a: Mexico}\n")
    assert [(c, line, col) for c, line, col, _ in found] == [
        ("unknown-country", 3, 19),
        ("unknown-country", 4, 25),
    ]


def test_a_bare_prefix_gets_a_suggestion_in_the_default_region() -> None:
    with pytest.raises(PolicyError) as info:
        policy.loads(BASE + 'rules:\n  - name: r\n    when: {sip.phoneNumber: {prefix: "415"}}\n')
    assert 'did you mean "+1415"?' in (info.value.diagnostics[0].help or "")


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(alphabet="+0123456789١２ ", max_size=18),
        st.from_regex(r"\+[0-9]{5,17}", fullmatch=True),
    )
)
def test_the_hot_path_reads_e164_as_is_e164_does(raw: str) -> None:
    """`PhoneValueSource.get` writes `is_e164` out for speed: both must agree on every text."""
    from policy.runtime.phone import is_e164, phone_source

    source = phone_source("sip.phoneNumber", "value", None, None)
    ctx = Context({"sip.phoneNumber": raw}, "sip")
    value = source.get(ctx)
    if raw and is_e164(raw):
        assert value == raw and not ctx.scratch  # as written, no parse
    elif raw:
        assert ctx.scratch  # anything else goes through the parse
