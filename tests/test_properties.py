"""`decide` never raises and is deterministic on any `str -> str` attributes and any kind."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy

ROOT = Path(__file__).resolve().parent.parent

EVERY_OPERATOR = """
attributes:
  customer.name: {}
defaults:
  instructions: "Hi {{ customer.name | there }} from {{ sip.phoneNumber | nowhere }}"
  greeting: "{{ customer.tier | Hello }}"
rules:
  - name: eq
    when: {sip.trunkPhoneNumber: "+15105550123"}
  - name: any-of
    when: {customer.tier: [gold, platinum]}
  - name: prefix
    when: {sip.phoneNumber: {prefix: ["+1", "+44", "+3491"]}}
  - name: suffix
    when: {sip.hostname: {suffix: .example}}
  - name: contains
    when: {line: {contains: sales}}
  - name: regex
    when: {sip.callID: {regex: 'SCL_[A-Za-z0-9]{12}'}}
  - name: exists
    when: {crm.accountId: {exists: true}, kind: [sip, connector]}
  - name: nested
    when:
      any:
        - not: {sip.ruleID: {exists: true}}
        - all: [{sip.callStatus: active}, {expr: 'len(get("customer.name")) > 3'}]
  - name: expr
    when: {expr: 'int(attrs["n"]) > 3 and startswith(attrs["sip.phoneNumber"], "+")'}
"""

KEYS = [
    "sip.phoneNumber",
    "sip.trunkPhoneNumber",
    "sip.hostname",
    "sip.callID",
    "sip.ruleID",
    "sip.callStatus",
    "customer.tier",
    "customer.name",
    "crm.accountId",
    "line",
    "n",
    "__class__",
]

attributes = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=20)),
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            ["+15105550123", "gold", "", "\x00", "\u202e+1", "１２３", "SCL_abcdefghijkl"]
        ),
    ),
    max_size=15,
)
kinds = st.one_of(
    st.sampled_from(["sip", "standard", "connector", "agent", "ingress", "egress", "bridge"]),
    st.text(max_size=10),
)


def _policies() -> list[policy.Policy]:
    return [policy.load(ROOT / "rules.yaml"), policy.loads(EVERY_OPERATOR, file="every.yaml")]


POLICIES = _policies()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attrs=attributes, kind=kinds)
def test_decide_never_raises_and_is_deterministic(attrs: dict[str, str], kind: str) -> None:
    for p in POLICIES:
        first = p.decide(attrs, kind)
        second = p.decide(dict(attrs), kind)
        assert first.rule == second.rule
        assert first.outcome == second.outcome
        assert first.errors == second.errors
        assert p.explain(attrs, kind).rule == first.rule
        assert isinstance(first.outcome.instructions, str)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(), st.binary(), st.text()), max_size=5))
def test_non_text_values_are_treated_as_missing(values: list[object]) -> None:
    attrs = {f"k{i}": v for i, v in enumerate(values)} | {"sip.phoneNumber": 15105550123}
    for p in POLICIES:
        decision = p.decide(attrs)  # type: ignore[arg-type]
        assert decision.rule != "prefix"


def test_decide_accepts_any_mapping_and_enum_kinds() -> None:
    from types import MappingProxyType

    p = POLICIES[0]
    attrs = {"sip.trunkPhoneNumber": "+15105550123"}
    assert p.decide(MappingProxyType(attrs)).rule == "spanish-line"

    class Broken(dict[str, str]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    decision = p.decide(Broken(attrs), "sip")
    assert decision.rule is not None or decision.errors
