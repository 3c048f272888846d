"""Table files: rows become rules in place, problems point at the CSV line and cell, the
table is watched and part of the revision."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy
from policy.errors import PolicyError

RULES = """\
profiles:
  acme: {greeting: Hello from Acme}
  globex: {greeting: Hello from Globex}
rules:
  - name: blocked
    when: {sip.trunkID: ST_blocked}
  - name: numbers
    table: numbers.csv
  - name: everyone-else
    when: {kind: sip}
"""


def write(tmp_path: Path, csv: str, rules: str = RULES) -> Path:
    (tmp_path / "numbers.csv").write_text(csv, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    return tmp_path / "rules.yaml"


def problems(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as err:
        policy.load(path)
    return [f"{d.location}: {d.code}: {d.message}" for d in err.value.diagnostics]


def test_rows_are_rules_in_place(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name,sip.trunkID,sip.h.x-account,use\n"
        "acme-main,ST_acme,,acme\n"
        ',,"acct-7",globex\n'
        "acme-blocked,ST_blocked,,acme\n",
    )
    p = policy.load(path)
    assert p.rule_names() == ["blocked", "acme-main", "numbers:3", "acme-blocked", "everyone-else"]
    d = p.decide({"sip.trunkID": "ST_acme"})
    assert (d.rule, d.outcome.greeting) == ("acme-main", "Hello from Acme")
    assert p.decide({"sip.h.x-account": "acct-7"}).outcome.greeting == "Hello from Globex"
    assert p.decide({"sip.trunkID": "ST_blocked"}).rule == "blocked"
    assert p.decide({"sip.trunkID": "ST_other"}).rule == "everyone-else"
    assert tmp_path / "numbers.csv" in p.files
    [warning] = p.warnings
    assert (warning.code, str(warning.location)) == (
        "unreachable-rule",
        f"{tmp_path}/numbers.csv:4:1",
    )
    assert warning.source_line == "acme-blocked,ST_blocked,,acme"  # the row, shown under it
    assert " 4 | acme-blocked,ST_blocked,,acme" in warning.render()


def test_revision_follows_the_table(tmp_path: Path) -> None:
    path = write(tmp_path, "sip.trunkID,use\nST_a,acme\n")
    first = policy.load(path).revision
    (tmp_path / "numbers.csv").write_text("sip.trunkID,use\nST_a,globex\n", encoding="utf-8")
    assert policy.load(path).revision != first


def test_problems_point_at_the_cell(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name,sip.trunkPhoneNumber,sip.trunkID,use\n"
        "a,,ST_a,acme\n"
        "b,,ST_b,acmee\n"
        "c,1.5105E+10,,acme\n"
        "d,,,acme\n"
        "a,,ST_e,acme\n"
        "f,,ST_f,acme,extra\n",
    )
    csv = f"{tmp_path}/numbers.csv"
    assert problems(path) == [
        f"{csv}:3:9: unknown-profile: the row uses profile `acmee`, which is not defined",
        f"{csv}:4:3: invalid-value: `1.5105E+10` looks like a number a spreadsheet rewrote "
        "in scientific notation",
        f"{csv}:5:3: invalid-condition: this row sets no attribute, so it would match every caller",
        f"{csv}:6:1: duplicate-rule: two rules are named `a` (the first at line 2 of the table)",
        f"{csv}:7:14: invalid-file: this row has 5 cells; the header names 4 columns",
    ]


def test_header_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "sip.trunkid,stt,kind\nx,y,z\n")
    csv = f"{tmp_path}/numbers.csv"
    found = problems(path)
    assert found[0].startswith(f"{csv}:1:1: unknown-attribute: the table of rule `numbers`")
    assert found[1:] == [
        f"{csv}:1:13: unknown-key: `stt` cannot be a table column",
        f"{csv}:1:17: invalid-condition: `kind` cannot be a table column: columns are "
        "attribute names",
    ]


def test_missing_and_broken_tables(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    assert problems(tmp_path / "rules.yaml") == [
        f"{tmp_path / 'rules.yaml'}:8:12: missing-file: the table `numbers.csv` does not exist"
    ]
    (tmp_path / "numbers.csv").write_bytes(b"sip.trunkID,use\nST_\xff,acme\n")
    assert problems(tmp_path / "rules.yaml") == [
        f"{tmp_path}/numbers.csv:2:1: invalid-file: the table is not UTF-8 text (byte 19)"
    ]
    (tmp_path / "numbers.csv").write_text('sip.trunkID,use\n"ST_a,acme\n', encoding="utf-8")
    assert problems(tmp_path / "rules.yaml")[0].startswith(
        f"{tmp_path}/numbers.csv:2:1: invalid-file: the table is not valid CSV"
    )


def test_prefix_columns_and_phone_cells(tmp_path: Path) -> None:
    rules = RULES.replace("profiles:", "settings: {default_region: US}\nprofiles:")
    path = write(
        tmp_path,
        "name,sip.phoneNumber prefix,sip.trunkPhoneNumber,use\n"
        "sf,+1415,,acme\n"
        "oakland,+1 510,,globex\n"
        "line,,(800) 555-0142,globex\n",
        rules,
    )
    p = policy.load(path)
    assert p.decide({"sip.phoneNumber": "+14155550100"}).rule == "sf"
    assert p.decide({"sip.phoneNumber": "5105550100"}).rule == "oakland"  # a carrier without +
    assert p.decide({"sip.trunkPhoneNumber": "+18005550142"}).rule == "line"
    step = p.explain({"sip.phoneNumber": "+15105550100"}).trace[1]
    assert (step.rule, step.file, step.line) == ("sf", f"{tmp_path}/numbers.csv", 2)
    path = write(tmp_path, "name,sip.phoneNumber prefix,use\nbad,1650,acme\n", rules)
    assert problems(path) == [
        f"{tmp_path}/numbers.csv:2:5: bad-phone-prefix: the phone prefix `1650` does not start "
        "with a country code"
    ]
