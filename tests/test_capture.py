"""Decision capture for replay: off by default, pseudonymised unless asked, rotated by size,
never failing a call; and a capture replayed by `sip-policy diff --calls`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest

from policy import load, loads
from policy.capture import CaptureWriter, Pseudonymiser, from_env, read_capture

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-12-22T10:00:00-08:00"

RULES = """\
version: 1
attributes:
  customer.tier: {sensitive: false}
  account.id: {sensitive: true}
rules:
  - name: one-vip-number
    when: {sip.phoneNumber: "+14155550100"}
  - name: spanish
    when: {sip.phoneNumber: {country: [ES, MX]}}
  - name: bay-area
    when: {sip.phoneNumber: {prefix: ["+1415", "+1510"]}}
  - name: account
    when: {account.id: "A-1"}
"""


def test_capture_is_off_by_default() -> None:
    assert from_env({}) is None
    writer = from_env({"SIP_POLICY_CAPTURE": "/tmp/x-{pid}.jsonl", "SIP_POLICY_CAPTURE_RAW": "1"})
    assert writer is not None and writer.raw and str(os.getpid()) in str(writer.path)


def test_numbers_keep_what_routing_reads() -> None:
    p = Pseudonymiser(b"k" * 32)
    for number in ("+14155550100", "+34911234567", "+525512345678", "+447911123456"):
        fake = p.number(number, None)
        assert fake != number and len(fake) == len(number)
        real, pseudo = phonenumbers.parse(number), phonenumbers.parse(fake)
        assert phonenumbers.region_code_for_number(pseudo) == phonenumbers.region_code_for_number(
            real
        )
        ndc = phonenumbers.length_of_national_destination_code(real)
        assert (
            fake[: 1 + len(str(real.country_code)) + ndc]
            == number[: 1 + len(str(real.country_code)) + ndc]
        )
        assert phonenumbers.is_valid_number(pseudo)
        assert p.number(number, None) == fake  # stable for one key
    assert Pseudonymiser(b"other" * 8).number("+14155550100", None) != p.number(
        "+14155550100", None
    )
    assert p.number("anonymous", None) == "anonymous"
    assert p.token("A-1").startswith("hmac:") and p.token("A-1") == p.token("A-1")


def test_writer_records_pseudonymised_lines(tmp_path: Path) -> None:
    policy = loads(RULES)
    writer = CaptureWriter(tmp_path / "calls.jsonl", key=b"k" * 32)
    attrs = {
        "sip.phoneNumber": "+14155550100",
        "sip.trunkPhoneNumber": "+15105550123",
        "customer.tier": "gold",
        "account.id": "A-1",
    }
    writer.record(policy, policy.decide(attrs), attrs, "sip")
    writer.close()
    [(line, record)] = list(read_capture(tmp_path / "calls.jsonl"))
    assert line == 1
    assert set(record) == {
        "time",
        "kind",
        "attributes",
        "rule",
        "variant",
        "revision",
        "pseudonymised",
    }
    got = record["attributes"]
    assert got["sip.phoneNumber"].startswith("+1415") and got["sip.phoneNumber"] != "+14155550100"
    assert got["sip.trunkPhoneNumber"] == "+15105550123"  # our own number
    assert got["customer.tier"] == "gold"
    assert got["account.id"].startswith("hmac:")
    assert (record["rule"], record["revision"], record["pseudonymised"]) == (
        "one-vip-number",
        policy.revision,
        True,
    )
    raw = CaptureWriter(tmp_path / "raw.jsonl", raw=True)
    raw.record(policy, policy.decide(attrs), attrs, "sip")
    raw.close()
    [(_, record)] = list(read_capture(tmp_path / "raw.jsonl"))
    assert record["attributes"] == attrs and record["pseudonymised"] is False


def test_rotation_by_size(tmp_path: Path) -> None:
    policy = loads(RULES)
    writer = CaptureWriter(tmp_path / "calls.jsonl", max_bytes=1000, backups=2, raw=True)
    attrs = {"sip.phoneNumber": "+34911234567"}
    for _ in range(60):
        writer.record(policy, policy.decide(attrs), attrs, "sip")
    writer.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["calls.jsonl", "calls.jsonl.1", "calls.jsonl.2"]
    for name in files:
        assert 0 < (tmp_path / name).stat().st_size <= 1000
        assert all(r["rule"] == "spanish" for _, r in read_capture(tmp_path / name))


def test_a_failing_capture_never_fails_the_call(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    policy = loads(RULES)
    writer = CaptureWriter(tmp_path / "file" / "calls.jsonl")
    with pytest.warns(UserWarning, match="decision capture turned off"):
        writer.record(policy, policy.decide({}), {}, "sip")
    assert writer.broken
    writer.record(policy, policy.decide({}), {}, "sip")  # silent from now on


def test_replay_of_a_pseudonymised_capture(tmp_path: Path) -> None:
    """Routing by country and prefix replays as recorded; the rule on one exact number does
    not, and is flagged."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    policy = load(rules)
    writer = CaptureWriter(tmp_path / "calls.jsonl", key=b"k" * 32)
    for number in ("+14155550100", "+34911234567", "+15105550199", "+525512345678"):
        attrs = {"sip.phoneNumber": number}
        writer.record(policy, policy.decide(attrs), attrs, "sip")
    writer.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    calls = str(tmp_path / "calls.jsonl")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy",
            "diff",
            str(rules),
            str(rules),
            "--at",
            AT,
            "--calls",
            calls,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["callers"]["recorded"] == 4
    assert [(f["recorded_rule"], f["replayed_rule"]) for f in data["replay"]["flagged"]] == [
        ("one-vip-number", "bay-area")
    ]


def test_the_worker_hook_reads_the_environment_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import policy.capture as capture

    policy = loads(RULES)
    attrs = {"sip.phoneNumber": "+34911234567"}
    monkeypatch.setattr(capture, "_configured", False)
    monkeypatch.setattr(capture, "_writer", None)
    monkeypatch.delenv("SIP_POLICY_CAPTURE", raising=False)
    capture.record_decision(policy, policy.decide(attrs), attrs, "sip")  # off: nothing written
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(capture, "_configured", False)
    monkeypatch.setenv("SIP_POLICY_CAPTURE", str(tmp_path / "calls-{pid}.jsonl"))
    monkeypatch.setenv("SIP_POLICY_CAPTURE_KEY", "secret")
    capture.record_decision(policy, policy.decide(attrs), attrs, "sip")
    capture.record_decision(policy, policy.decide(attrs), attrs, "sip")
    assert capture._writer is not None
    capture._writer.close()
    [file] = list(tmp_path.iterdir())
    assert file.name == f"calls-{os.getpid()}.jsonl"
    records = [r for _, r in read_capture(file)]
    assert [r["rule"] for r in records] == ["spanish", "spanish"]
    assert (
        records[0]["attributes"]["sip.phoneNumber"] == records[1]["attributes"]["sip.phoneNumber"]
    )
    assert records[0]["attributes"]["sip.phoneNumber"].startswith("+349")
