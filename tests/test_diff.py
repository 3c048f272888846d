"""`sip-policy diff`, run as a user runs it: real git repositories in temporary folders,
real edits to the sample rules, real subprocesses of the CLI, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-12-22T10:00:00-08:00"  # a Tuesday morning in San Francisco: the office is open

#: Cases that cover neither the +1650 prefix nor the platinum tier: the moves the diff must
#: find come from the generated callers.
CASES = """\
cases:
  - name: a San Francisco caller reaches the Bay Area team
    at: "2026-12-22T10:00:00-08:00"
    attributes: {sip.phoneNumber: "+14155550100", sip.ruleID: SDR_1}
    expect: {rule: bay-area-callers}
  - name: a gold customer gets priority support
    at: "2026-12-22T10:00:00-08:00"
    attributes: {customer.tier: gold, sip.ruleID: SDR_1}
    expect: {rule: vip-callers}
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def diff(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "policy", "diff", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The sample rules, its prompts and two test cases, committed."""
    shutil.copy(ROOT / "rules.yaml", tmp_path / "rules.yaml")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    (tmp_path / "rules.tests.yaml").write_text(CASES, encoding="utf-8")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "sample")
    return tmp_path


def edit(repo: Path, old: str, new: str, file: str = "rules.yaml") -> None:
    path = repo / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


DROP_PREFIX = ('prefix: ["+1415", "+1510", "+1650"]', 'prefix: ["+1415", "+1510"]')
NARROW_TIERS = ("customer.tier: [gold, platinum]", "customer.tier: [gold]")


def test_unchanged_policy_exits_0(repo: Path) -> None:
    result = diff(repo, "--at", AT)
    assert result.returncode == 0, result.stderr
    assert "no decision changes" in result.stdout
    assert "rules.yaml at HEAD" in result.stdout
    data = json.loads(diff(repo, "--at", AT, "--format", "json").stdout)
    assert data["changed"] is False and data["changes"] == []
    assert data["callers"]["cases"] == 2 and data["callers"]["generated"] > 20


def test_dropping_one_of_three_prefixes_names_the_move(repo: Path) -> None:
    edit(repo, *DROP_PREFIX)
    result = diff(repo, "--at", AT)
    assert result.returncode == 1, result.stderr
    assert "`bay-area-callers` → `phone-callers`" in result.stdout
    assert "sip.phoneNumber=+1650" in result.stdout
    assert "metadata:" in result.stdout  # the outcome fields that differ

    data = json.loads(diff(repo, "--at", AT, "--format", "json").stdout)
    moved = [
        c
        for c in data["changes"]
        if (c["old_rule"], c["new_rule"]) == ("bay-area-callers", "phone-callers")
    ]
    assert moved and all(
        c["caller"]["attributes"]["sip.phoneNumber"].startswith("+1650") for c in moved
    )
    # no test case covers it: every such caller was generated
    assert all(c["caller"]["origin"].startswith("generated") for c in moved)
    assert {"greeting", "metadata"} <= set(moved[0]["fields"])
    assert moved[0]["fields"]["metadata"] == {"old": {"team": "bay-area"}, "new": {}}
    # nothing else moved
    assert {(m["old_rule"], m["new_rule"]) for m in data["moves"]} == {
        ("bay-area-callers", "phone-callers")
    }


def test_narrowing_an_any_of_list_names_the_move(repo: Path) -> None:
    edit(repo, *NARROW_TIERS)
    result = diff(repo, "--at", AT, "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    pairs = {(c["old_rule"], c["new_rule"]) for c in data["changes"]}
    assert ("vip-callers", "phone-callers") in pairs
    tiers = {
        c["caller"]["attributes"].get("customer.tier")
        for c in data["changes"]
        if c["old_rule"] == "vip-callers"
    }
    assert tiers == {"platinum"}
    text = diff(repo, "--at", AT).stdout
    assert "`vip-callers` → `phone-callers`" in text
    assert 'llm: "openai/gpt-4.1" → "openai/gpt-4.1-mini"' in text


def test_moves_are_grouped_largest_first_and_output_is_deterministic(repo: Path) -> None:
    edit(repo, *DROP_PREFIX)
    edit(repo, *NARROW_TIERS)
    first = diff(repo, "--at", AT, "--format", "json")
    assert first.stdout == diff(repo, "--at", AT, "--format", "json").stdout
    counts = [m["count"] for m in json.loads(first.stdout)["moves"]]
    assert counts == sorted(counts, reverse=True) and len(counts) >= 2
    text = diff(repo, "--at", AT)
    assert text.stdout == diff(repo, "--at", AT).stdout


def test_profile_edit_reports_callers_whose_rule_stays(repo: Path) -> None:
    edit(repo, "    llm: openai/gpt-4.1\n", "    llm: openai/gpt-4.1-nano\n")
    result = diff(repo, "--at", AT)
    assert result.returncode == 1
    assert "keep rule `vip-callers`, with another outcome" in result.stdout
    assert 'llm: "openai/gpt-4.1" → "openai/gpt-4.1-nano"' in result.stdout


def test_markdown_is_ready_for_a_pull_request(repo: Path) -> None:
    edit(repo, *DROP_PREFIX)
    result = diff(repo, "--at", AT, "--format", "markdown")
    assert result.returncode == 1
    assert result.stdout.startswith("### sip-policy diff: 1 move, ")
    assert "| callers | from | to | what changes | example caller |" in result.stdout
    assert "| `bay-area-callers` | `phone-callers` | greeting, metadata |" in result.stdout


def test_against_a_revision_and_two_paths(repo: Path) -> None:
    edit(repo, *DROP_PREFIX)
    git(repo, "commit", "-qam", "drop 650")
    assert diff(repo, "--at", AT).returncode == 0  # HEAD is the working copy now
    result = diff(repo, "--at", AT, "--against", "HEAD~1")
    assert result.returncode == 1, result.stderr
    assert "at HEAD~1" in result.stdout and "`bay-area-callers` → `phone-callers`" in result.stdout
    shutil.copy(ROOT / "rules.yaml", repo / "old.yaml")
    result = diff(repo, "old.yaml", "rules.yaml", "--at", AT)
    assert result.returncode == 1 and "`bay-area-callers` → `phone-callers`" in result.stdout


def test_referenced_files_come_from_the_revision(repo: Path) -> None:
    """An edit to a prompt file is a change of outcome, though rules.yaml is unchanged."""
    edit(repo, "Acme", "Acme Corp", file="prompts/support.md")
    result = diff(repo, "--at", AT, "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert all(set(c["fields"]) == {"instructions"} for c in data["changes"])
    assert any(m["old_rule"] == m["new_rule"] == "phone-callers" for m in data["moves"])


def test_errors_exit_2(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("plain")
    shutil.copy(repo / "rules.yaml", outside / "rules.yaml")
    shutil.copytree(repo / "prompts", outside / "prompts")
    result = diff(outside)
    assert result.returncode == 2
    assert "not in a git repository" in result.stderr and "sip-policy diff OLD NEW" in result.stderr
    assert diff(repo, "--against", "no-such-rev").returncode == 2
    edit(repo, "use: phone-support\n", "use: phone-suport\n")
    result = diff(repo)
    assert result.returncode == 2
    assert "error[unknown-profile]" in result.stderr
    assert result.stdout == ""


SHADOW_RULE = """\
  - name: try-gpt-4.1
    description: would bay-area callers do better with the larger model?
    mode: shadow
    when:
      sip.phoneNumber: {prefix: "+1650"}
    use: phone-support
    set: {llm: openai/gpt-4.1}

"""


def test_a_new_shadow_rule_changes_no_decision_and_says_what_it_would(repo: Path) -> None:
    edit(repo, "  - name: vip-callers\n", SHADOW_RULE + "  - name: vip-callers\n")
    result = diff(repo, "--at", AT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no decision changes" in result.stdout
    assert "if the shadow rules were switched on:" in result.stdout
    assert "`bay-area-callers` → `try-gpt-4.1`" in result.stdout
    data = json.loads(diff(repo, "--at", AT, "--format", "json").stdout)
    assert data["shadow"]["moves"][0]["new_rule"] == "try-gpt-4.1"
    assert "llm" in data["shadow"]["moves"][0]["fields"]


SPLIT = """\
  prompt-b:
    extends: phone-support
    instructions: You are Acme's assistant, trying a shorter prompt.
"""


def test_changed_split_weights_report_the_share_moved(repo: Path) -> None:
    edit(repo, "  renewals:\n", SPLIT + "  renewals:\n")
    edit(
        repo,
        "      kind: sip\n    use: phone-support\n",
        "      kind: sip\n    split: [{use: phone-support, weight: 90}, {use: prompt-b, weight: 10}]\n",
    )
    git(repo, "commit", "-qam", "split")
    edit(
        repo, "weight: 90}, {use: prompt-b, weight: 10}", "weight: 80}, {use: prompt-b, weight: 20}"
    )
    result = diff(repo, "--at", AT, "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["splits"] == [
        {
            "rule": "phone-callers",
            "old": {"phone-support": 90.0, "prompt-b": 10.0},
            "new": {"phone-support": 80.0, "prompt-b": 20.0},
            "moved_share": 0.1,
        }
    ]
    assert "an expected 10.0% of its callers change variant" in diff(repo, "--at", AT).stdout


def test_recorded_calls_are_replayed_and_stale_ones_flagged(repo: Path) -> None:
    from policy import load

    policy = load(repo / "rules.yaml")
    calls = repo / "calls.jsonl"
    lines = []
    for number, rule in [
        ("+16505550100", "bay-area-callers"),  # moves once +1650 is dropped
        ("+16505550101", "bay-area-callers"),
        ("+14155550100", "vip-callers"),  # recorded as vip: no longer what it replays as
    ]:
        record = {
            "time": AT,
            "kind": "sip",
            "attributes": {"sip.phoneNumber": number, "sip.ruleID": "SDR_1"},
            "rule": rule,
            "revision": policy.revision,
        }
        lines.append(json.dumps(record))
    calls.write_text("\n".join(lines) + "\n", encoding="utf-8")
    edit(repo, *DROP_PREFIX)
    result = diff(repo, "--at", AT, "--calls", str(calls), "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["callers"]["recorded"] == 3
    recorded = [c for c in data["changes"] if c["caller"]["origin"].startswith("recorded")]
    assert [c["caller"]["origin"] for c in recorded] == [
        f"recorded call {calls}:1",
        f"recorded call {calls}:2",
    ]
    flagged = data["replay"]["flagged"]
    assert [(f["recorded_rule"], f["replayed_rule"]) for f in flagged] == [
        ("vip-callers", "bay-area-callers")
    ]
    text = diff(repo, "--at", AT, "--calls", str(calls)).stdout
    assert "1 recorded call flagged: replayed under the revision that decided it" in text
    calls.write_text("{not json\n", encoding="utf-8")
    bad = diff(repo, "--calls", str(calls))
    assert bad.returncode == 2 and f"{calls}:1: not a JSON object" in bad.stderr


def test_generation_stays_bounded_on_a_large_policy() -> None:
    """Past FULL_LIMIT rules, callers come only from the rules an edit touched."""
    import datetime as dt

    from policy import loads
    from policy.diff import compare
    from policy.diff.compare import FULL_LIMIT

    def rules(drop: bool) -> str:
        body = ["version: 1", "rules:"]
        for i in range(FULL_LIMIT + 500):
            prefixes = [f"+1{200 + i % 700}{i:04d}", f"+44{i:05d}"]
            if drop and i == 1234:
                prefixes = prefixes[:1]
            body.append(f"  - name: r{i}\n    when: {{sip.phoneNumber: {{prefix: {prefixes}}}}}")
        return "\n".join(body) + "\n"

    old, new = loads(rules(False)), loads(rules(True))
    result = compare(old, new, base=dt.datetime(2026, 12, 22, 10))
    assert result.counts["generated"] < 50
    assert [(m.old_rule, m.new_rule) for m in result.moves()] == [("r1234", None)]
    assert result.changes[0].caller.attributes[0][1].startswith("+4401234")


def test_diff_and_capture_never_import_livekit() -> None:
    code = (
        "import sys, policy.cli.diff, policy.capture, policy.diff; "
        "assert not [m for m in sys.modules if m.startswith('livekit')]"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
