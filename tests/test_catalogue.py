"""Model names and session options checked against the installed livekit-agents, through
the committed catalogue (`policy/catalogue.json`, written by `make catalogue`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import policy
from policy.errors import PolicyError
from policy.sdk import catalogue

ROOT = Path(__file__).resolve().parent.parent


def codes(text: str) -> list[tuple[str, str]]:
    """(code, message) of every diagnostic of `text`, errors and warnings."""
    try:
        loaded = policy.loads(text, base_dir=ROOT)
    except PolicyError as err:
        return [(d.code, d.message) for d in err.diagnostics]
    return [(d.code, d.message) for d in loaded.warnings]


def helps(text: str) -> list[str]:
    try:
        loaded = policy.loads(text, base_dir=ROOT)
    except PolicyError as err:
        return [d.help or "" for d in err.diagnostics]
    return [d.help or "" for d in loaded.warnings]


def test_the_committed_catalogue_is_the_installed_sdks() -> None:
    """An upgrade of livekit-agents fails here until `make catalogue` is run."""
    from policy.livekit import catalogue as generator

    built = json.loads(generator.dumps(generator.build()))
    committed = json.loads((ROOT / "policy" / "catalogue.json").read_text(encoding="utf-8"))
    assert built == committed, "the installed livekit-agents differs: run `make catalogue`"
    from livekit.agents import inference

    assert "deepgram/nova-2-phonecall" in built["models"]["stt"]
    assert "openai/gpt-realtime" in built["models"]["realtime"]
    assert inference.is_realtime_model(built["models"]["realtime"][0])
    assert built["session"]["endpointing"]["arg"] == "turn_handling"
    assert built["session"]["max_tool_steps"] == {"arg": None, "type": "int", "default": 3}


def test_check_does_not_import_livekit_to_read_the_catalogue() -> None:
    code = (
        "import sys, policy; "
        "policy.loads('defaults: {stt: deepgram/nova-3, session: {max_tool_steps: 4}}\\n"
        "rules: []'); print(any(m.startswith('livekit') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(
    ("field", "typo", "right"),
    [
        ("stt", "deepgram/nova-2-phonecal", "deepgram/nova-2-phonecall"),
        ("stt", "deepgram/nova-2-phonecal:es", "deepgram/nova-2-phonecall:es"),
        ("llm", "openai/gpt-4.1-mni", "openai/gpt-4.1-mini"),
        ("llm", "openai/gpt-realtme", "openai/gpt-realtime"),
        ("tts", "cartesia/sonic-22", "cartesia/sonic-2"),
    ],
)
def test_a_model_typo_is_a_warning_with_the_right_suggestion(
    field: str, typo: str, right: str
) -> None:
    text = f'defaults:\n  {field}: "{typo}"\nrules: []\n'
    [(code, message)] = codes(text)
    assert code == "unknown-model"
    assert f"`{typo.split(':')[0]}` is not" in message
    assert helps(text)[0].startswith(f"did you mean `{right}`?")


def test_known_models_pass_and_allow_models_accepts_a_new_one() -> None:
    ok = "defaults:\n  stt: deepgram/nova-3:es\n  llm: openai/gpt-realtime\n  tts: cartesia\nrules: []\n"
    assert codes(ok) == []
    new = "defaults:\n  stt: deepgram/nova-9\nrules: []\n"
    assert [c for c, _ in codes(new)] == ["unknown-model"]
    allowed = "settings:\n  allow_models: [deepgram/nova-9]\n" + new
    assert codes(allowed) == []


def test_a_tts_voice_that_looks_like_a_language_is_flagged() -> None:
    [(code, message)] = codes('defaults:\n  tts: "cartesia/sonic-2:es"\nrules: []\n')
    assert code == "unknown-model"
    assert "for TTS what follows `:` is a voice" in message
    voice = 'defaults:\n  tts: "cartesia/sonic-2:9626c31c-bec5-4cca-baa8-f8ba9e84c8bc"\nrules: []\n'
    assert codes(voice) == []


def test_bad_model_says_language_for_stt_and_voice_for_tts() -> None:
    found = codes(
        "defaults:\n  stt: nova 2\n  llm: openai/gpt-4.1:fast\n  tts: sonic 2\nrules: []\n"
    )
    assert found == [
        ("bad-model", "`nova 2` is not a model name of the form `provider/model[:language]`"),
        ("bad-model", "`openai/gpt-4.1:fast` is not a model name of the form `provider/model`"),
        ("bad-model", "`sonic 2` is not a model name of the form `provider/model[:voice]`"),
    ]


def test_check_strict_fails_on_a_model_typo_and_names_the_fix(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("defaults:\n  stt: deepgram/nova-2-phonecal\nrules: []\n")
    loose = subprocess.run(
        [sys.executable, "-m", "policy", "check", str(rules)], capture_output=True, text=True
    )
    assert loose.returncode == 0
    strict = subprocess.run(
        [sys.executable, "-m", "policy", "check", "--strict", str(rules)],
        capture_output=True,
        text=True,
    )
    assert strict.returncode == 1
    assert "warning[unknown-model]" in strict.stderr
    assert "did you mean `deepgram/nova-2-phonecall`?" in strict.stderr


# -- session options -------------------------------------------------------------------------


def test_every_session_option_of_the_catalogue_is_accepted() -> None:
    samples = {"bool": True, "int": 2, "float": 0.5, "str": "x", "null": None}

    def sample(t: Any) -> Any:
        if isinstance(t, str):
            return samples[t]
        if "enum" in t:
            return t["enum"][0]
        if "list" in t:
            return [sample(t["list"])]
        if "tuple" in t:
            return [sample(x) for x in t["tuple"]]
        if "any_of" in t:
            return sample(t["any_of"][0])
        return {k: sample(v) for k, v in t["keys"].items()}

    options = {k: sample(v["type"]) for k, v in catalogue()["session"].items()}
    loaded = policy.loads(
        json.dumps({"defaults": {"session": options}, "rules": []}), base_dir=ROOT
    )
    assert dict(loaded.decide({}, "sip").outcome.session) == options


def test_session_option_names_and_types_are_checked() -> None:
    text = """
defaults:
  session:
    user_away_timout: 30
    endpointing: {min_dealy: 0.8, mode: fixed}
    max_tool_steps: "5"
    interruption: {enabled: false, min_duration: -1, mode: smart}
    keyterms: Acme
rules: []
"""
    found = codes(text)
    assert found == [
        ("unknown-option", "`user_away_timout` is not a session option of livekit-agents 1.8.9"),
        ("unknown-option", "`endpointing` has no option `min_dealy`"),
        ("invalid-value", "`max_tool_steps` must be a whole number"),
        ("invalid-value", "`interruption.min_duration` cannot be negative"),
        ("invalid-value", "`interruption.mode` must be one of adaptive, vad"),
        ("invalid-value", "`keyterms` must be a list of text"),
    ]
    assert helps(text)[0].startswith("did you mean `user_away_timeout`?")
    assert helps(text)[1].startswith("did you mean `min_delay`?")


def test_session_options_merge_option_by_option_down_the_layers() -> None:
    loaded = policy.loads(
        """
defaults:
  session: {user_away_timeout: 15, endpointing: {min_delay: 0.5, max_delay: 3}}
profiles:
  phone:
    session: {endpointing: {min_delay: 0.8}, keyterms: [Acme]}
rules:
  - name: phone
    when: {kind: sip}
    use: phone
    set:
      session: {user_away_timeout: null}
"""
    )
    d = loaded.decide({}, "sip")
    assert dict(d.outcome.session) == {
        "user_away_timeout": None,
        "endpointing": {"min_delay": 0.8, "max_delay": 3},
        "keyterms": ["Acme"],
    }
    assert d.outcome.sources["session.endpointing"] == "profile:phone"
    assert d.outcome.sources["session.user_away_timeout"] == "rule:phone"
    assert d.outcome.sources["session.keyterms"] == "profile:phone"


def test_realtime_turn_detection_needs_a_realtime_llm() -> None:
    text = """
defaults:
  llm: openai/gpt-4.1-mini
  session: {turn_detection: realtime_llm}
profiles:
  vip:
    llm: openai/gpt-realtime
rules:
  - name: gold
    when: {customer.tier: gold}
    use: vip
  - name: platinum
    when: {customer.tier: platinum}
    set:
      llm: google/gemini-2.5-flash
"""
    warnings = policy.loads(text).warnings
    # once, at the `turn_detection` the defaults set; the realtime `gold` callers are fine
    assert [(d.code, d.location.line) for d in warnings] == [("realtime-llm", 4)]
    assert "`openai/gpt-4.1-mini` is not one" in warnings[0].message
    mixed = "defaults:\n  llm: openai/gpt-4.1-mini\nrules:\n  - name: vip\n    when: {kind: sip}\n    set: {llm: openai/gpt-realtime}\n"
    assert not policy.loads(mixed).warnings  # mixing kinds is fine: the worker hands off


def test_the_keyterm_detection_llm_is_a_model_name_too() -> None:
    text = (
        "defaults:\n  session:\n    keyterm_detection: {enabled: true, llm: google/gemini-3.5-flsh}\n"
        "rules: []\n"
    )
    [(code, message)] = codes(text)
    assert code == "unknown-model" and "`google/gemini-3.5-flsh`" in message
    assert helps(text)[0].startswith("did you mean `google/gemini-3.5-flash`?")
