"""Behaviour cases in the style of OPA's conformance suite: each YAML file under
tests/cases/ lists cases with a `note`, a rules file, and either callers with the rule they
must get, or the diagnostics the rules must produce (code and line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import policy

CASES = Path(__file__).parent / "cases"


def _collect() -> list[Any]:
    params = []
    for file in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load(file.read_text(encoding="utf-8"))["cases"]:
            params.append(pytest.param(case, id=f"{file.stem}: {case['note']}"))
    return params


@pytest.mark.parametrize("case", _collect())
def test_case(case: dict[str, Any], tmp_path: Path) -> None:
    for name, text in (case.get("files") or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(case["rules"], encoding="utf-8")
    if "errors" in case or "warnings" in case:
        expected_errors = [(e["code"], e["line"]) for e in case.get("errors", [])]
        expected_warnings = [(w["code"], w["line"]) for w in case.get("warnings", [])]
        try:
            diagnostics = list(policy.load(rules_file).warnings)
        except policy.PolicyError as exc:
            diagnostics = exc.diagnostics
        for d in diagnostics:
            assert d.location.file == str(rules_file)
            assert d.message == d.message.strip() and not d.message.endswith(".")
        assert [(d.code, d.location.line) for d in diagnostics if d.is_error] == expected_errors
        if "warnings" in case:
            got = [(d.code, d.location.line) for d in diagnostics if not d.is_error]
            assert got == expected_warnings
        rendered = "\n".join(d.render() for d in diagnostics)
        for fragment in case.get("messages", []):
            assert fragment in rendered
    for caller in case.get("callers", []):
        loaded = policy.load(rules_file)
        decision = loaded.decide(caller.get("attributes", {}), caller.get("kind", "sip"))
        assert decision.rule == caller["rule"], caller
        assert (
            loaded.explain(caller.get("attributes", {}), caller.get("kind", "sip")).rule
            == caller["rule"]
        )
        for field, want in (caller.get("outcome") or {}).items():
            got = getattr(decision.outcome, field)
            assert (list(got) if isinstance(got, tuple) else got) == want, field
