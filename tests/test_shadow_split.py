"""Shadow rules (`mode: shadow`) and traffic splits (`split:`): real rules text, the real
engine, test-case files run by the real runner, `explain` as printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from policy import PolicyError, loads
from policy.explain import to_text
from policy.runtime.rule import bucket, moved_share
from policy.testing import run_cases

ROOT = Path(__file__).resolve().parent.parent

RULES = """\
version: 1
defaults: {llm: openai/gpt-4.1-mini, tools: [end_call]}
profiles:
  prompt-a: {instructions: "Prompt A"}
  prompt-b: {instructions: "Prompt B", tools: [transfer_to_human]}
rules:
  - name: try-big-model
    mode: shadow
    when: {customer.tier: gold}
    set: {llm: openai/gpt-4.1}
  - name: phone
    when: {kind: sip}
    split: [{use: prompt-a, weight: 90}, {use: prompt-b, weight: 10}]
  - name: late-shadow
    mode: shadow
    when: {kind: sip}
    set: {llm: openai/o3}
"""


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    return loads(RULES)


def test_a_shadow_rule_never_decides_but_would_match(policy) -> None:  # type: ignore[no-untyped-def]
    d = policy.decide({"customer.tier": "gold", "sip.phoneNumber": "+14155550100"})
    assert d.rule == "phone"
    assert d.outcome.llm == "openai/gpt-4.1-mini"
    assert [m.rule for m in d.would_match] == ["try-big-model"]  # not late-shadow: after `phone`
    assert d.would_match[0].outcome.llm == "openai/gpt-4.1"
    assert policy.decide({"customer.tier": "silver"}).would_match == ()
    # the reference scan agrees, and explain shows both
    e = policy.explain({"customer.tier": "gold", "sip.phoneNumber": "+14155550100"})
    assert (e.rule, e.would_match) == (d.rule, d.would_match)
    text = to_text(policy, e, {"customer.tier": "gold"}, "sip")
    assert "shadow try-big-model (line 7): holds; shadow, never decides" in text
    assert "would match (shadow): rule `try-big-model`, if switched on:" in text
    assert "llm           openai/gpt-4.1  (now openai/gpt-4.1-mini)" in text


def test_a_shadow_rule_before_no_match_is_reported(policy) -> None:  # type: ignore[no-untyped-def]
    d = policy.decide({"customer.tier": "gold"}, "standard")
    assert d.rule is None and [m.rule for m in d.would_match] == ["try-big-model"]


def test_split_is_sticky_weighted_and_in_the_decision(policy) -> None:  # type: ignore[no-untyped-def]
    numbers = [f"+1415555{i:04d}" for i in range(4000)]
    variants = [policy.decide({"sip.phoneNumber": n}).variant for n in numbers]
    again = [policy.decide({"sip.phoneNumber": n}).variant for n in numbers]
    assert variants == again
    share = Counter(variants)["prompt-b"] / len(numbers)
    assert 0.07 < share < 0.13
    d = next(
        policy.decide({"sip.phoneNumber": n})
        for n, v in zip(numbers, variants, strict=True)
        if v == "prompt-b"
    )
    assert d.outcome.instructions == "Prompt B" and d.outcome.tools == ("transfer_to_human",)
    assert d.to_dict()["variant"] == "prompt-b"
    assert policy.tool_names() == {"end_call", "transfer_to_human"}


def test_split_falls_back_to_the_call_id_and_can_be_pinned(policy) -> None:  # type: ignore[no-untyped-def]
    by_call = {policy.decide({"sip.callID": f"SCL_{i}"}).variant for i in range(200)}
    assert by_call == {"prompt-a", "prompt-b"}
    for pin in ("prompt-a", "prompt-b"):
        assert policy.decide({"sip.phoneNumber": "+14155550100"}, variant=pin).variant == pin
        assert policy.explain({}, variant=pin).variant == pin


def test_the_split_hash_is_the_same_in_every_process() -> None:
    """Not Python's `hash()`: another process with another hash seed picks the same."""
    code = "from policy.runtime.rule import bucket; print(bucket('phone', '+14155550100'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert float(out.stdout) == bucket("phone", "+14155550100")


def test_moved_share_of_changed_weights(policy) -> None:  # type: ignore[no-untyped-def]
    old = next(r for r in policy.rules if r.name == "phone").split
    new = next(
        r
        for r in loads(
            RULES.replace("weight: 90", "weight: 80").replace("weight: 10", "weight: 20")
        ).rules
        if r.name == "phone"
    ).split
    assert moved_share(old, new) == pytest.approx(0.10)
    assert moved_share(old, old) == 0


@pytest.mark.parametrize(
    ("split", "message"),
    [
        (
            "[{use: prompt-a, weight: 0}]",
            "the weight of variant `prompt-a` must be a positive number",
        ),
        ("[{use: prompt-a, weight: -5}]", "must be a positive number, not -5"),
        ("[{use: prompt-c, weight: 1}]", "splits to profile `prompt-c`, which is not defined"),
        ("[{use: prompt-a, weight: 1}, {use: prompt-a, weight: 2}]", "is listed twice"),
        ("[]", "`split` lists no variants"),
    ],
)
def test_splits_are_checked_at_load(split: str, message: str) -> None:
    text = RULES.replace(
        "split: [{use: prompt-a, weight: 90}, {use: prompt-b, weight: 10}]", f"split: {split}"
    )
    with pytest.raises(PolicyError) as exc:
        loads(text)
    assert message in str(exc.value)


def test_use_and_split_together_are_refused() -> None:
    text = RULES.replace("    split: [", "    use: prompt-a\n    split: [")
    with pytest.raises(PolicyError) as exc:
        loads(text)
    assert "has both `use:` and `split:`" in str(exc.value)


def test_mode_is_live_or_shadow() -> None:
    with pytest.raises(PolicyError) as exc:
        loads(RULES.replace("mode: shadow", "mode: shadw", 1))
    assert "mode" in str(exc.value)


def test_cases_pin_a_variant_and_expect_would_match(tmp_path: Path, policy) -> None:  # type: ignore[no-untyped-def]
    cases = tmp_path / "rules.tests.yaml"
    cases.write_text(
        """\
cases:
  - name: pinned to the new prompt
    attributes: {sip.phoneNumber: "+14155550100", customer.tier: gold}
    variant: prompt-b
    expect: {rule: phone, variant: prompt-b, instructions: Prompt B, would_match: try-big-model}
  - name: a wrong expectation fails
    attributes: {sip.phoneNumber: "+14155550100"}
    variant: prompt-a
    expect: {variant: prompt-b, would_match: [try-big-model]}
""",
        encoding="utf-8",
    )
    report = run_cases(policy, [cases])
    assert not report.diagnostics
    assert [r.passed for r in report.results] == [True, False]
    assert report.results[1].failures == [
        "expected variant `prompt-b`, got `prompt-a`",
        "expected shadow rules ['try-big-model'] to match, got []",
    ]


def test_the_decision_log_names_the_variant_and_the_shadow_rules(policy) -> None:  # type: ignore[no-untyped-def]
    from policy.logs import clean_event, decision_event

    attrs = {"sip.phoneNumber": "+14155550100", "customer.tier": "gold"}
    event = decision_event(
        policy.decide(attrs, variant="prompt-b"), identity="caller", kind="sip", attributes=attrs
    )
    clean_event(event, masked=True)
    assert event["variant"] == "prompt-b"
    assert event["would_match"] == [
        {
            "rule": "try-big-model",
            "variant": None,
            "sources": {"llm": "rule:try-big-model", "tools": "defaults"},
        }
    ]
    assert event["attributes"]["sip.phoneNumber"] != "+14155550100"  # still masked


def test_a_shadow_rule_a_case_reaches_is_not_unreached(tmp_path: Path, policy) -> None:  # type: ignore[no-untyped-def]
    cases = tmp_path / "rules.tests.yaml"
    cases.write_text(
        "cases:\n  - name: gold\n    attributes: {customer.tier: gold}\n"
        "    expect: {would_match: try-big-model}\n",
        encoding="utf-8",
    )
    assert run_cases(policy, [cases]).unreached == ["late-shadow"]


def test_a_case_pinning_an_unknown_variant_is_reported(tmp_path: Path, policy) -> None:  # type: ignore[no-untyped-def]
    cases = tmp_path / "rules.tests.yaml"
    cases.write_text(
        "cases:\n  - name: typo\n    attributes: {}\n    variant: prompt-c\n"
        "    expect: {rule: phone}\n",
        encoding="utf-8",
    )
    report = run_cases(policy, [cases])
    [diag] = report.diagnostics
    assert "`variant: prompt-c` is not a variant of any `split:` rule" in diag.render()
    assert "variants: prompt-a, prompt-b" in diag.render()
    assert report.results == []


def test_explain_pins_a_variant_from_the_command_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}

    def explain(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "policy", "explain", str(rules), "--kind", "sip"]
        return subprocess.run([*command, *args], capture_output=True, text=True, env=env)

    done = explain("--variant", "prompt-b")
    assert done.returncode == 0, done.stderr
    assert "decision: rule `phone` (" in done.stdout and "), variant `prompt-b`" in done.stdout
    bad = explain("--variant", "prompt-c")
    assert bad.returncode == 2
    assert "`--variant prompt-c` is not a variant (variants: prompt-a, prompt-b)" in bad.stderr
