"""The command line, run as a user runs it: real subprocesses, real files, exit codes."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
#: A command needs about half a second of CPU. The kernel stops a child that uses a minute of
#: CPU (RLIMIT_CPU), whatever else the machine is doing; the wall-clock `timeout` is only a
#: safety net for a child blocked without using CPU, minutes beyond a passing run.
CPU_LIMIT_S = 60
HANG_S = 600


def _limit_cpu() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S + 2))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would dump core


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR",)}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "policy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        preexec_fn=_limit_cpu,
        env=env,
    )


def test_check_sample_is_clean() -> None:
    result = run("check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rules.yaml: ok: ")
    assert result.stderr == ""


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.txt")))
def test_check_strict_explains_each_likely_mistake_exact_text(name: str) -> None:
    """tests/golden/NAME.yaml, checked with --strict: the exact text (problems on stderr,
    then the summary line) is tests/golden/NAME.txt, and the check fails."""
    result = run("check", "--strict", f"tests/golden/{name}.yaml")
    assert result.returncode == 1
    expected = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    assert result.stderr + result.stdout == expected


def test_check_json(tmp_path: Path) -> None:
    result = run("check", "tests/golden/mistakes.yaml", "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    codes = [d["code"] for d in data["diagnostics"]]
    assert codes[:3] == ["bad-model", "unknown-placeholder", "unknown-key"]
    assert all({"file", "line", "column", "message", "help"} <= set(d) for d in data["diagnostics"])


def test_check_strict_fails_on_warnings(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: all\n    when: {kind: sip}\n  - name: never\n    when: {kind: sip}\n",
        encoding="utf-8",
    )
    assert run("check", str(rules)).returncode == 0
    strict = run("check", str(rules), "--strict")
    assert strict.returncode == 1
    assert "warning[unreachable-rule]: rule `never` can never match" in strict.stderr


def test_missing_rules_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run("check", cwd=tmp_path)
    assert result.returncode == 1
    assert "error[missing-file]: the rules file `rules.yaml` does not exist" in result.stderr


def test_test_runs_the_sample_cases_by_default() -> None:
    result = run("test")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].endswith(" passed, 0 failed")
    assert all(line.startswith("PASS") for line in lines if line.startswith(("PASS", "FAIL")))
    assert "coverage:" in result.stdout


def test_test_reports_failures_and_unreached_rules(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        "  - name: gold\n    when: {customer.tier: gold}\n"
        "  - name: web\n    when: {kind: standard}\n",
        encoding="utf-8",
    )
    (tmp_path / "rules.tests.yaml").write_text(
        "cases:\n"
        "  - name: gold caller\n    attributes: {customer.tier: gold}\n    expect: {rule: gold}\n"
        "  - name: wrong on purpose\n    attributes: {customer.tier: silver}\n    expect: {rule: gold}\n",
        encoding="utf-8",
    )
    result = run("test", cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL  wrong on purpose  (rules.tests.yaml:5)" in result.stdout
    assert "expected rule `gold`, got no rule (defaults)" in result.stdout
    assert "never reached: web" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "rules.yaml: failed: 1 passed, 1 failed"
    as_json = json.loads(run("test", "--format", "json", cwd=tmp_path).stdout)
    assert (as_json["passed"], as_json["failed"], as_json["unreached"]) == (1, 1, ["web"])


def test_test_case_file_errors_point_at_the_line(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - name: a\n    when: {x: '1'}\n", encoding="utf-8"
    )
    (tmp_path / "cases.yaml").write_text(
        "cases:\n  - name: n\n    attributes: {x: 1}\n    expect: {rule: b}\n", encoding="utf-8"
    )
    result = run("test", "rules.yaml", "cases.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "cases.yaml:4:20: error[unknown-rule]: case `n` expects rule `b`" in result.stderr


def test_explain_text_says_why() -> None:
    result = run(
        "explain",
        "--attr",
        "sip.phoneNumber=+34911234567",
        "--attr",
        "sip.trunkPhoneNumber=+15105550123",
        "--at",
        "2026-12-22T10:00",  # a Tuesday morning on the office's clock
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "decision: rule `spanish-line`" in out
    assert "MATCH spanish-line" in out
    assert "stt           deepgram/nova-2-phonecall:es  from profile:spanish" in out


def test_explain_json_shape() -> None:
    result = run(
        "explain",
        "--attrs",
        "tests/fixtures/attributes/twilio-inbound-active.json",
        "--at",
        "2026-12-22T10:00:00-08:00",  # office hours: the sample sends other calls after hours
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rule"] == "bay-area-callers"
    assert set(data["outcome"]) >= {
        "stt",
        "llm",
        "tts",
        "instructions",
        "tools",
        "greeting",
        "metadata",
    }
    assert isinstance(data["revision"], str) and len(data["revision"]) == 12
    first = next(step for step in data["trace"] if step["rule"] == "spanish-line")
    assert first["matched"] is False
    assert first["failed"] == {
        "attribute": "sip.trunkPhoneNumber",
        "actual": "+15105550100",
        "expected": "`+15105550123`",
    }
    assert data["kind"] == "sip"


def test_explain_no_match_and_kind() -> None:
    data = json.loads(run("explain", "--kind", "egress", "--format", "json").stdout)
    assert data["rule"] is None
    assert data["outcome"]["stt"] == "deepgram/nova-3"


@pytest.mark.parametrize(
    "args",
    [
        ["explain"],
        ["explain", "--attr", "no-equals-sign"],
        ["explain", "--attr", "a=b", "--at", "yesterday"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr


def test_schema_matches_the_committed_copy() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema == json.loads((ROOT / "docs" / "rules.schema.json").read_text(encoding="utf-8"))
    assert "rules" in schema["properties"]
    first = (ROOT / "rules.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=docs/rules.schema.json"


def test_cli_does_not_import_livekit() -> None:
    code = (
        "import sys, policy.cli\n"
        "policy.cli.main(['check', 'rules.yaml'])\n"
        "assert not [m for m in sys.modules if m.startswith('livekit')], 'livekit imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        preexec_fn=_limit_cpu,
    )
    assert result.returncode == 0, result.stderr


def test_console_script_installed() -> None:
    script = Path(sys.executable).parent / "sip-policy"
    result = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=HANG_S,
        preexec_fn=_limit_cpu,
        cwd=ROOT,
    )
    assert result.returncode == 0
    assert "check" in result.stdout and "explain" in result.stdout


def test_version_and_help_with_an_example_and_a_doc() -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("sip-policy 0.")
    for command in ("check", "test", "explain", "init", "fmt", "schema"):
        text = run(command, "--help").stdout
        assert f"example:\n  sip-policy {command}" in text
        assert "more: docs/" in text


def test_check_github_annotations() -> None:
    result = run("check", "--strict", "--format", "github", "tests/golden/warnings.yaml")
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(
        "::warning file=tests/golden/warnings.yaml,line=5,col=26,title=placeholder-syntax::"
        "`{name}` in instructions is not a placeholder here"
    )


def test_test_min_coverage_rounds_down(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n" + "".join(f"  - name: r{i}\n    when: {{x: '{i}'}}\n" for i in range(3)),
        encoding="utf-8",
    )
    (tmp_path / "rules.tests.yaml").write_text(
        "cases:\n"
        + "".join(
            f"  - name: c{i}\n    attributes: {{x: '{i}'}}\n    expect: {{rule: r{i}}}\n"
            for i in range(2)
        ),
        encoding="utf-8",
    )
    assert run("test", "--min-coverage", "66", cwd=tmp_path).returncode == 0
    short = run("test", "--min-coverage", "67", cwd=tmp_path)
    assert short.returncode == 1
    assert "the cases reach 66% of the rules; --min-coverage asks for 67%" in short.stderr


def test_pre_commit_hooks_run_check_and_test() -> None:
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"]: h["entry"] for h in hooks} == {
        "sip-policy-check": "sip-policy check --strict",
        "sip-policy-test": "sip-policy test",
    }


def test_init_writes_a_starter_that_checks_and_tests_clean(tmp_path: Path) -> None:
    result = run("init", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rules = (tmp_path / "rules.yaml").read_text(encoding="utf-8")
    assert rules.count("\n#") >= 5  # commented for a newcomer
    assert run("check", "--strict", cwd=tmp_path).returncode == 0
    tested = run("test", "--min-coverage", "100", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.splitlines()[-1] == "rules.yaml: ok: 3 passed, 0 failed"
    assert run("fmt", "--check", cwd=tmp_path).returncode == 0
    again = run("init", str(tmp_path))
    assert again.returncode == 1 and "never overwrites" in again.stderr
    assert (tmp_path / "rules.yaml").read_text(encoding="utf-8") == rules


def test_fmt_indents_and_keeps_comments_quotes_and_order(tmp_path: Path) -> None:
    messy = (
        "rules:\n"
        "- name: gold-line   # the gold line\n"
        "  when:\n"
        "      sip.trunkPhoneNumber:   '+15105550123'\n"
        "  use: gold\n"
        "# the set-ups\n"
        "profiles:\n"
        "    gold: {llm: openai/gpt-4.1}\n"
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(messy, encoding="utf-8")
    check = run("fmt", "--check", cwd=tmp_path)
    assert (check.returncode, check.stdout) == (
        1,
        "rules.yaml: failed: not formatted; run `sip-policy fmt rules.yaml`\n",
    )
    assert rules.read_text(encoding="utf-8") == messy
    assert run("fmt", cwd=tmp_path).returncode == 0
    assert rules.read_text(encoding="utf-8") == (
        "rules:\n"
        "  - name: gold-line # the gold line\n"
        "    when:\n"
        "      sip.trunkPhoneNumber: '+15105550123'\n"
        "    use: gold\n"
        "# the set-ups\n"
        "profiles:\n"
        "  gold: {llm: openai/gpt-4.1}\n"
    )
    assert run("check", cwd=tmp_path).returncode == 0
    assert run("fmt", "--check", cwd=tmp_path).returncode == 0


def test_junit_report(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - name: gold\n    when: {customer.tier: gold}\n", encoding="utf-8"
    )
    (tmp_path / "rules.tests.yaml").write_text(
        "cases:\n"
        "  - name: gold\n    attributes: {customer.tier: gold}\n    expect: {rule: gold}\n"
        "  - name: silver\n    attributes: {customer.tier: silver}\n    expect: {rule: gold}\n",
        encoding="utf-8",
    )
    assert run("test", "--junit", "out.xml", cwd=tmp_path).returncode == 1
    suite = ET.parse(tmp_path / "out.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failed = [c for c in suite if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["silver"]
    assert (
        failed[0].find("failure").get("message") == "expected rule `gold`, got no rule (defaults)"
    )  # type: ignore[union-attr]


def _table_policy(folder: Path) -> None:
    (folder / "numbers.csv").write_text(
        "sip.trunkPhoneNumber,use\n+15105550100,gold\n+15105550101,gold\n+15105550102,gold\n",
        encoding="utf-8",
    )
    (folder / "rules.yaml").write_text(
        "profiles: {gold: {llm: openai/gpt-4.1}}\n"
        "rules:\n"
        "  - name: vip\n    when: {customer.tier: gold}\n"
        "  - name: hosted-numbers\n    table: numbers.csv\n    use: gold\n",
        encoding="utf-8",
    )


def test_a_table_is_one_rule_for_explain_coverage_and_expectations(tmp_path: Path) -> None:
    _table_policy(tmp_path)
    (tmp_path / "rules.tests.yaml").write_text(
        "cases:\n"
        "  - name: any row\n    attributes: {sip.trunkPhoneNumber: '+15105550101'}\n"
        "    expect: {rule: hosted-numbers}\n"
        "  - name: that row\n    attributes: {sip.trunkPhoneNumber: '+15105550102'}\n"
        "    expect: {rule: 'hosted-numbers:4'}\n",
        encoding="utf-8",
    )
    tested = run("test", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert (
        "PASS  any row  (rules.tests.yaml:2) → rule `hosted-numbers`, row `hosted-numbers:3`"
        in (tested.stdout)
    )
    assert "coverage: 1 of 2 rules reached by a case; never reached: vip" in tested.stdout
    explained = run(
        "explain",
        "--attr",
        "sip.trunkPhoneNumber=+15105550101",
        "--at",
        "2026-12-22T10:00",
        cwd=tmp_path,
    ).stdout
    assert "time: 2026-12-22T10:00:00 (--at)\n" in explained
    assert "decision: rule `hosted-numbers`, row `hosted-numbers:3` (numbers.csv:3)" in explained
    trace = explained.split("rules, in order:\n")[1].split("\n\n")[0].splitlines()
    assert trace == [
        "  no    vip (line 3): `customer.tier` is missing, expected `gold`",
        "  MATCH hosted-numbers (numbers.csv, 3 rows): row `hosted-numbers:3` (numbers.csv:3) "
        "matches; this rule decides",
    ]
    rows = run(
        "explain", "--rows", "--attr", "sip.trunkPhoneNumber=+15105550101", cwd=tmp_path
    ).stdout
    assert rows.count("hosted-numbers:") >= 4 and "(numbers.csv, 3 rows)" not in rows
    assert "(now, by this machine's clock; choose one with --at)" in rows


def test_test_reports_rules_and_case_problems_at_once(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - name: a\n    when: {kind: sipp}\n", encoding="utf-8"
    )
    (tmp_path / "rules.tests.yaml").write_text(
        "cases:\n  - name: n\n    attributes: {x: 1}\n    expect: {rule: a}\n", encoding="utf-8"
    )
    result = run("test", cwd=tmp_path)
    assert result.returncode == 1
    assert "rules.yaml:3:18: error[unknown-kind]" in result.stderr
    assert "rules.tests.yaml:3:21: error[unquoted-value]: attribute `x`: `1` is read by YAML" in (
        result.stderr
    )
    assert result.stderr.splitlines()[-1] == "rules.tests.yaml: failed: 1 error, 0 warnings"


@pytest.mark.parametrize(
    ("doc", "path", "key"),
    [
        ({"profiles": {"vip": {"sst": "a/b"}}, "rules": []}, ["profiles", "vip"], "sst"),
        (
            {"schedules": {"office": {"timezone": "UTC", "hours": {}, "holiday": []}}},
            ["schedules", "office"],
            "holiday",
        ),
        ({"tools": {"end_call": {"desc": "x"}}}, ["tools", "end_call"], "desc"),
    ],
)
def test_schema_reports_a_typo_in_a_section_at_its_key(
    doc: dict[str, object], path: list[str], key: str
) -> None:
    """Editors (yaml-language-server) underline where the schema puts the error: at the
    mapping that holds the unknown key, not at the whole section."""
    import jsonschema

    schema = json.loads((ROOT / "docs" / "rules.schema.json").read_text(encoding="utf-8"))
    (error,) = jsonschema.Draft202012Validator(schema).iter_errors(doc)
    assert list(error.absolute_path) == path
    assert error.validator == "additionalProperties" and f"'{key}' was unexpected" in error.message


def test_test_github_annotates_failed_cases(tmp_path: Path) -> None:
    _table_policy(tmp_path)
    (tmp_path / "rules.tests.yaml").write_text(
        "cases:\n  - name: nobody\n    attributes: {sip.trunkPhoneNumber: '+15105550199'}\n"
        "    expect: {rule: hosted-numbers}\n",
        encoding="utf-8",
    )
    result = run("test", "--format", "github", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "::error file=rules.tests.yaml,line=2::case `nobody` failed: expected rule "
        "`hosted-numbers`, got no rule (defaults)"
    ) in result.stdout.splitlines()


def test_help_links_point_at_real_sections() -> None:
    import re

    def slug(heading: str) -> str:  # GitHub's anchors
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    for command in ("check", "test", "explain", "init", "fmt", "schema"):
        link = run(command, "--help").stdout.rsplit("more: ", 1)[1].strip()
        page, _, anchor = link.partition("#")
        text = (ROOT / page).read_text(encoding="utf-8")
        headings = {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
        assert not anchor or anchor in headings, (command, link)


def test_files_that_are_not_utf8_are_pointed_at(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "es.md").write_bytes(b"Hola.\nSe\xf1or.\n")
    (tmp_path / "rules.yaml").write_text(
        "defaults: {instructions_file: prompts/es.md}\nrules: []\n", encoding="utf-8"
    )
    checked = run("check", cwd=tmp_path)
    assert checked.returncode == 1
    assert (
        "rules.yaml:1:31: error[invalid-value]: the instructions file `prompts/es.md` is not "
        "UTF-8 text: the byte 0xf1 at line 2, column 3 is not a UTF-8 character"
    ) in checked.stderr
    (tmp_path / "rules.yaml").write_text("defaults: {stt: a/b}\nrules: []\n", encoding="utf-8")
    (tmp_path / "rules.tests.yaml").write_bytes(b"cases:\n  - name: caf\xe9\n")
    tested = run("test", cwd=tmp_path)
    assert tested.returncode == 1
    assert tested.stderr.startswith(
        "rules.tests.yaml:2:14: error[invalid-file]: the file is not UTF-8 text: the byte 0xe9"
    )
