"""`reject`, `transfer`, `transfer_to`, `max_duration` in the rules: checked at load, merged
down the layers, shown by `explain`, expected by test cases; and instructions split for
prompt caching."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import policy
from policy.errors import PolicyError
from policy.explain import to_json, to_text
from policy.runtime.decision import MaxDuration, Reject, Transfer

ROOT = Path(__file__).resolve().parent.parent
ATTR = ("--attr", "sip.trunkPhoneNumber=+15105550144")

RULES = """
defaults:
  llm: openai/gpt-4.1-mini
  max_duration: 20m
  transfer_to: "+15105550100"
profiles:
  billing:
    transfer: {to: "sip:billing@pbx.example.com", say: Connecting you to billing.}
rules:
  - name: blocked
    when: {sip.phoneNumber: "+17025550111"}
    set:
      reject: {say: "Sorry, we cannot take your call."}
  - name: silent-block
    when: {sip.phoneNumber: "+17025550112"}
    set:
      reject: {}
  - name: billing
    when: {sip.trunkPhoneNumber: "+15105550144"}
    use: billing
  - name: billing-vip
    when: {sip.trunkPhoneNumber: "+15105550145"}
    use: billing
    set:
      reject: {say: Closed.}
      max_duration: {after: 1h30m, say: Goodbye!}
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as err:
        policy.loads(text, base_dir=ROOT)
    return [(d.code, d.message) for d in err.value.diagnostics]


def test_actions_are_decided_and_merged() -> None:
    p = policy.loads(RULES)
    blocked = p.decide({"sip.phoneNumber": "+17025550111"}, "sip").outcome
    assert blocked.reject == Reject("Sorry, we cannot take your call.")
    assert blocked.action == "reject" and blocked.transfer is None
    assert p.decide({"sip.phoneNumber": "+17025550112"}, "sip").outcome.reject == Reject(None)
    billing = p.decide({"sip.trunkPhoneNumber": "+15105550144"}, "sip").outcome
    assert billing.transfer == Transfer("sip:billing@pbx.example.com", "Connecting you to billing.")
    assert billing.action == "transfer"
    assert billing.max_duration == MaxDuration(1200.0, None)
    assert billing.transfer_to == "+15105550100"
    # a rule's `reject` replaces its profile's `transfer`: one action per call
    vip = p.decide({"sip.trunkPhoneNumber": "+15105550145"}, "sip").outcome
    assert vip.action == "reject" and vip.transfer is None
    assert "transfer" not in vip.sources and vip.sources["reject"] == "rule:billing-vip"
    assert vip.max_duration == MaxDuration(5400.0, "Goodbye!")
    nobody = p.decide({}, "sip").outcome
    assert nobody.action is None and nobody.reject is None and nobody.transfer is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("600", 600), ('"90s"', 90), ('"15m"', 900), ('"1h"', 3600), ('"1h30m"', 5400)],
)
def test_max_duration_forms(value: str, seconds: float) -> None:
    p = policy.loads(f"defaults:\n  max_duration: {value}\nrules: []\n")
    assert p.decide({}, "sip").outcome.max_duration == MaxDuration(seconds, None)


def test_call_control_problems_are_reported_where_they_are() -> None:
    found = problems(
        """
rules:
  - name: a
    when: {kind: sip}
    set:
      reject: {say: "Sorry {{ customer.name }}"}
      transfer: {to: "+1 (510) 555-0199"}
      max_duration: 15x
  - name: b
    when: {kind: standard}
    set:
      transfer_to: "sip:nobody"
      max_duration: 0
  - name: c
    when: {kind: agent}
    set:
      transfer: {say: hello}
"""
    )
    assert found == [
        ("invalid-value", "`say` is spoken as written: placeholders are not filled here"),
        ("conflicting-keys", "give either `reject` or `transfer`, not both"),
        (
            "bad-transfer-target",
            "`+1 (510) 555-0199` is not a number in E.164 form or a `sip:` address",
        ),
        ("invalid-value", "`max_duration` must be a time from 1 second to 24 hours, not `15x`"),
        ("bad-transfer-target", "`sip:nobody` is not a number in E.164 form or a `sip:` address"),
        ("invalid-value", "`max_duration` must be a time from 1 second to 24 hours, not `0`"),
        ("missing-key", found[6][1]),
    ]
    assert "`to`" in found[6][1]


def test_explain_json_shows_the_action_for_a_caller_it_catches(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)

    run = subprocess.run(
        [sys.executable, "-m", "policy", "explain", str(rules), "--format", "json", *ATTR],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["action"] == {
        "type": "transfer",
        "to": "sip:billing@pbx.example.com",
        "say": "Connecting you to billing.",
    }
    assert out["outcome"]["transfer"] == {
        "to": "sip:billing@pbx.example.com",
        "say": "Connecting you to billing.",
    }
    assert out["outcome"]["max_duration"] == {"seconds": 1200.0, "say": None}
    assert out["outcome"]["transfer_to"] == "+15105550100"
    # the other callers in-process (one subprocess above shows the command itself works)
    p = policy.load(rules)

    def explained(attrs: dict[str, str]) -> tuple[dict[str, Any], str]:
        d = p.explain(attrs, "sip")
        return to_json(d, attrs, "sip", p), to_text(p, d, attrs, "sip")

    out, text = explained({"sip.phoneNumber": "+17025550111"})
    assert out["action"] == {
        "type": "reject",
        "say": "Sorry, we cannot take your call.",
        "hang_up": True,
    }
    assert 'action: reject: say "Sorry, we cannot take your call.", then hang up' in text
    assert "max_duration  1200 s, then the LLM says goodbye  from defaults" in text
    out, text = explained({"sip.phoneNumber": "+17025550112"})
    assert out["action"] == {"type": "reject", "say": None, "hang_up": True}
    assert "action: reject: hang up; no agent starts" in text
    out, text = explained({"sip.phoneNumber": "+13125550188"})
    assert out["action"] is None
    assert "action: the agent answers" in text
    _, text = explained({"sip.trunkPhoneNumber": "+15105550144"})
    assert "transfer the call to sip:billing@pbx.example.com (cold SIP transfer)" in text


def test_test_cases_can_expect_the_new_fields(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    (tmp_path / "rules.tests.yaml").write_text(
        """
cases:
  - name: blocked
    attributes: {sip.phoneNumber: "+17025550111"}
    expect: {action: reject, reject: {say: "Sorry, we cannot take your call."}}
  - name: billing
    attributes: {sip.trunkPhoneNumber: "+15105550144"}
    expect:
      action: transfer
      transfer: {to: "sip:billing@pbx.example.com"}
      max_duration: 20m
      transfer_to: "+15105550100"
      session: {}
  - name: wrong on purpose
    attributes: {sip.trunkPhoneNumber: "+15105550144"}
    expect:
      action: reject
      transfer: {to: "+15105550199"}
      max_duration: 300
"""
    )
    run = subprocess.run(
        [sys.executable, "-m", "policy", "test", str(rules), "--format", "json"],
        capture_output=True,
        text=True,
    )
    report = json.loads(run.stdout)
    assert [c["passed"] for c in report["cases"]] == [True, True, False]
    assert report["cases"][2]["failures"] == [
        "expected action `reject`, got `transfer`",
        "expected transfer.to `+15105550199`, got `sip:billing@pbx.example.com`",
        "expected max_duration `300`, got 1200 seconds",
    ]


def test_instructions_keep_per_caller_lines_apart_for_prompt_caching() -> None:
    p = policy.loads(
        """
attributes:
  customer.name: {}
defaults:
  instructions: |-
    You are Acme support.
    The caller is {{ customer.name | a customer }}.
    Keep answers short.
rules: []
"""
    )
    o = p.decide({"customer.name": "Ana"}, "sip").outcome
    assert o.instructions == "You are Acme support.\nThe caller is Ana.\nKeep answers short."
    assert o.instructions_static == "You are Acme support.\nKeep answers short."
    assert o.instructions_call == "The caller is Ana."
    assert p.decide({}, "sip").outcome.instructions_static == o.instructions_static
    fixed = policy.loads("defaults:\n  instructions: Be brief.\nrules: []\n").decide({}, "sip")
    assert (fixed.outcome.instructions_static, fixed.outcome.instructions_call) == ("Be brief.", "")


def test_an_action_in_defaults_is_refused_with_the_way_to_say_it() -> None:
    found = problems(
        'defaults:\n  reject: {say: "Closed."}\n  transfer_to: "+15105550177"\n'
        "  max_duration: 0\nrules: []\n"
    )
    assert found == [
        (
            "invalid-value",
            "`reject` cannot be a default: every rule would inherit it, so every caller "
            "would be refused",
        ),
        ("invalid-value", "`max_duration` must be a time from 1 second to 24 hours, not `0`"),
    ]
    catch_all = policy.loads(
        "rules:\n  - name: known\n    when: {customer.tier: gold}\n"
        "  - name: everyone-else\n    when: {kind: sip}\n    set:\n      reject: {}\n"
    )
    assert catch_all.decide({"customer.tier": "gold"}, "sip").outcome.action is None
    assert catch_all.decide({}, "sip").outcome.action == "reject"
