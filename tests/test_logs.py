"""Masking and log-line safety, through livekit-agents' own JSON and coloured formatters."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from livekit.agents.cli.log import ColoredFormatter, JsonFormatter

import policy
from policy.logs import (
    LOGGER_NAME,
    escape_control,
    get_logger,
    install_stdlib_masking,
    log_decision,
    mask_attributes,
    mask_phone,
    mask_text,
    set_masking,
)

HOSTILE = 'gold\n{"level": "ERROR", "message": "forged"}\x1b[31m'


@pytest.fixture(autouse=True)
def env_masking() -> Iterator[None]:
    set_masking(None)
    yield
    set_masking(None)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A handler with livekit-agents' production JSON formatter on the root logger."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    install_stdlib_masking([handler])
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(old)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_phone_numbers_keep_the_country_and_area_code_only() -> None:
    assert mask_phone("+15105550100") == "+1510******00"
    assert mask_phone("14155550176") == "1415******76"
    assert mask_phone("12345") == "******"
    assert mask_text("sip_+14155550123 / (415) 555-0123") == "sip_+1415******23 / (4155******23"
    assert mask_text("job 42 at line 1234") == "job 42 at line 1234"


def test_attributes_outside_the_safe_list_are_masked() -> None:
    masked = mask_attributes(
        {
            "sip.callID": "SCL_b8AesnBB2KPi",
            "sip.phoneNumber": "+14155550123",
            "sip.h.x-customer-tier": "gold",
            "sip.twilio.callSid": "CA15f38f96d445e1c04f6994e87f3c7095",
        }
    )
    assert masked == {
        "sip.callID": "SCL_b8AesnBB2KPi",
        "sip.phoneNumber": "+1415******23",
        "sip.h.x-customer-tier": "******",
        "sip.twilio.callSid": "CA******",
    }


def test_a_decision_is_one_masked_json_line(stream: io.StringIO) -> None:
    rules = policy.loads("defaults:\n  llm: openai/gpt-4.1-mini\nrules: []\n")
    attrs = {"sip.phoneNumber": "+14155550123", "sip.callID": "SCL_x", "sip.h.x-tier": HOSTILE}
    decision = rules.decide(attrs, "sip")
    log_decision(decision, identity="sip_+14155550123", kind="sip", attributes=attrs)
    [event] = lines(stream)
    assert event["message"] == "policy.decision"
    assert event["name"] == LOGGER_NAME
    assert event["participant"] == "sip_+1415******23"
    assert event["call_id"] == "SCL_x"
    assert event["revision"] == rules.revision
    assert event["attributes"] == {
        "sip.phoneNumber": "+1415******23",
        "sip.callID": "SCL_x",
        "sip.h.x-tier": "go******",
    }
    assert "+14155550123" not in stream.getvalue()


def test_unmasked_for_local_debugging_but_never_forged(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIP_POLICY_LOG_UNMASKED", "1")
    get_logger().info("policy.test", participant="sip_+14155550123", note=HOSTILE)
    logging.getLogger("some.library").warning("caller %s said %s", "+14155550123", HOSTILE)
    text = stream.getvalue()
    assert len(text.splitlines()) == 2
    first, second = lines(stream)
    assert first["participant"] == "sip_+14155550123"
    assert first["note"] == escape_control(HOSTILE)
    assert "\x1b" not in text and "\\u001b" not in text
    assert second["message"] == "caller +14155550123 said " + escape_control(HOSTILE)


def test_stdlib_records_and_tracebacks_are_masked(stream: io.StringIO) -> None:
    log = logging.getLogger("livekit.agents.test")
    try:
        raise ValueError("cannot dial +14155550123")
    except ValueError:
        log.exception("failed for %s", "sip_14155550176", extra={"participant": "+15105550100"})
    [event] = lines(stream)
    assert event["message"] == "failed for sip_1415******76"
    assert event["participant"] == "+1510******00"
    assert "ValueError: cannot dial +1415******23" in str(event["exc_info"])
    assert "14155550123" not in stream.getvalue()


def test_the_dev_formatter_prints_one_line_per_record() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(ColoredFormatter("%(levelname)s %(name)s %(message)s %(extra)s"))
    install_stdlib_masking([handler])
    logger = logging.getLogger("sip_policy.dev_test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        get_logger("sip_policy.dev_test").info("policy.test", note=HOSTILE)
        logger.info("header %s", HOSTILE)
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert text.count("\n") == 2
    assert "\x1b[31m" not in text.replace("\x1b[0m", "")  # only the formatter's own reset


@given(st.text())
def test_escaped_text_has_no_line_breaks_or_escapes(text: str) -> None:
    clean = escape_control(text)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", clean)


@given(st.text(alphabet="0123456789+-() abc_", max_size=60))
def test_no_run_of_seven_digits_survives_masking(text: str) -> None:
    masked = mask_text(text)
    assert not re.search(r"\d{7}", masked)
    assert mask_text(masked) == masked


def test_remembered_caller_values_are_masked_in_free_text() -> None:
    from policy import logs

    logs.forget_all()
    try:
        assert logs.mask_text("tier platinum-plus for acme") == "tier platinum-plus for acme"
        logs.remember({"customer.tier": "platinum-plus", "sip.callID": "SCL_abc", "x": "ab"})
        assert logs.mask_text("tier platinum-plus for acme") == "tier ****** for acme"
        assert logs.mask_text("call SCL_abc ab") == "call SCL_abc ab"  # safe key, too short
    finally:
        logs.forget_all()


SENSITIVE_RULES = """
attributes:
  crm.accountId: {description: from the CRM, sensitive: true}
  customer.tier: {description: "a tier, not caller data", sensitive: false}
  x.note: {description: "declared, sensitivity left as is"}
rules: []
"""
SENSITIVE_CALLER = {
    "crm.accountId": "ACME-778812",
    "customer.tier": "platinum-plus",
    "x.note": "left-unchanged-note",
}


@pytest.mark.parametrize("unmasked", [False, True])
def test_declared_sensitivity_holds_in_every_log_line(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, unmasked: bool
) -> None:
    if unmasked:
        monkeypatch.setenv("SIP_POLICY_LOG_UNMASKED", "1")
    rules = policy.loads(SENSITIVE_RULES)
    decision = rules.decide(SENSITIVE_CALLER, "sip")
    log_decision(
        decision,
        identity="web-1",
        kind="sip",
        attributes=SENSITIVE_CALLER,
        declared=rules.declared,
    )
    logging.getLogger("some.library").warning("account %s", "ACME-778812")
    first, second = lines(stream)
    attrs = first["attributes"]
    assert isinstance(attrs, dict)
    assert attrs["crm.accountId"] == "******"  # sensitive: true, even when unmasked
    assert attrs["customer.tier"] == "platinum-plus"  # sensitive: false, always in clear
    assert attrs["x.note"] == ("left-unchanged-note" if unmasked else "le******")
    if not unmasked:
        assert "ACME-778812" not in stream.getvalue()  # remembered, masked in free text too
        assert second["message"] == "account ******"


def test_explain_hides_sensitive_values_unless_asked() -> None:
    from policy.explain import HIDDEN, shown_attributes

    rules = policy.loads(SENSITIVE_RULES)
    shown = shown_attributes(rules, SENSITIVE_CALLER)
    assert shown["crm.accountId"] == HIDDEN
    assert shown["customer.tier"] == "platinum-plus"
    assert shown["x.note"] == "left-unchanged-note"
    assert shown_attributes(rules, SENSITIVE_CALLER, show_sensitive=True) == SENSITIVE_CALLER


# -- issue 10: one masking path, cheap and bounded -----------------------------------------


def test_a_room_named_after_the_caller_is_masked(stream: io.StringIO) -> None:
    rules = policy.loads("defaults:\n  llm: openai/gpt-4.1-mini\n")
    log_decision(rules.decide({}, "sip"), identity="sip_x", kind="sip", room="call-+14155550123")
    [event] = lines(stream)
    assert event["room"] == "call-+1415******23"
    assert "14155550123" not in stream.getvalue()


def test_tracebacks_of_our_own_exception_calls_are_masked(stream: io.StringIO) -> None:
    try:
        raise RuntimeError("apply failed for caller +14155550123")
    except RuntimeError:
        get_logger().exception("policy.reevaluate_failed", participant="sip_+14155550123")
    [event] = lines(stream)
    assert event["message"] == "policy.reevaluate_failed"
    assert "RuntimeError: apply failed for caller +1415******23" in str(event["exc_info"])
    assert "14155550123" not in stream.getvalue()


def test_attribute_values_that_are_not_text_are_masked(stream: io.StringIO) -> None:
    rules = policy.loads("defaults:\n  llm: openai/gpt-4.1-mini\n")
    attrs: dict[str, object] = {"sip.phoneNumber": 14155550123, "x.account": 98765432, "x.n": None}
    log_decision(rules.decide({}, "sip"), identity="w", kind="sip", attributes=attrs)  # type: ignore[arg-type]
    [event] = lines(stream)
    assert event["attributes"] == {
        "sip.phoneNumber": "1415******23",
        "x.account": "9876******32",
        "x.n": "",
    }
    assert "98765432" not in stream.getvalue()


def test_a_caller_with_ten_thousand_headers_makes_one_bounded_line(stream: io.StringIO) -> None:
    from policy.logs import MAX_ITEMS

    rules = policy.loads("defaults:\n  llm: openai/gpt-4.1-mini\n")
    attrs = {f"sip.h.x-header-{i}": f"value {i} " * 4 for i in range(10_000)}
    attrs["sip.h.x-long"] = "y" * 1_000_000
    log_decision(rules.decide(attrs, "sip"), identity="w", kind="sip", attributes=attrs)
    text = stream.getvalue()
    assert len(text.splitlines()) == 1 and len(text) < 64 * 1024
    [event] = lines(stream)
    shown = event["attributes"]
    assert isinstance(shown, dict) and len(shown) == MAX_ITEMS + 1
    assert shown["…"] == f"+{10_001 - MAX_ITEMS} more"


def test_a_long_message_ends_in_a_truncation_marker(stream: io.StringIO) -> None:
    logging.getLogger("some.library").warning("x" * 100_000)
    [event] = lines(stream)
    assert str(event["message"]).endswith(f"…[+{100_000 - 4096} chars]")


def _cpu(fn: Callable[[int], object], start: int, repeat: int = 5) -> float:
    best = float("inf")
    for n in range(start, start + repeat):
        began = time.process_time()
        fn(n)
        best = min(best, time.process_time() - began)
    return best


def test_masking_costs_the_same_after_many_callers() -> None:
    """CPU time with a generous factor: what one new caller's decision log costs must not
    grow with the number of callers this process has seen (the old pattern was rebuilt from
    every remembered value at each new caller)."""
    from policy import logs

    logs.forget_all()
    rules = policy.loads("defaults:\n  llm: openai/gpt-4.1-mini\n")
    line = "caller said: " + " ".join(f"word{i}" for i in range(2_000))
    logging.getLogger("sip_policy.quiet").propagate = False

    def header(n: int) -> dict[str, str]:  # about 60 KB, different for every caller
        return {"sip.h.x-note": " ".join(f"c{n}v{i:05d}" for i in range(6_000))}

    def new_caller(n: int) -> None:
        attrs = header(n)
        log = get_logger("sip_policy.quiet")
        log_decision(rules.decide(attrs, "sip"), identity="w", kind="sip", attributes=attrs, logger=log)  # fmt: skip
        mask_text(line)

    try:
        first = _cpu(new_caller, 0)
        for n in range(100, 140):  # 40 more callers seen
            logs.remember(header(n))
        after = _cpu(new_caller, 1000)
        assert after < 4 * first + 0.01
    finally:
        logs.forget_all()


def test_explain_hides_a_sensitive_value_where_the_trace_quotes_it() -> None:
    from policy.explain import HIDDEN, to_json, to_text

    rules = policy.loads(
        SENSITIVE_RULES.replace(
            "rules: []",
            "rules:\n  - name: acme\n    when: {crm.accountId: ACME-000001}",
        )
    )
    decision = rules.explain(SENSITIVE_CALLER, "sip")
    assert decision.trace[0].failed is not None
    assert decision.trace[0].failed.actual == "ACME-778812"  # the engine keeps it
    text = to_text(rules, decision, SENSITIVE_CALLER, "sip")
    data = to_json(decision, SENSITIVE_CALLER, "sip", rules)
    assert "ACME-778812" not in text and HIDDEN in text
    assert "ACME-778812" not in json.dumps(data)
    shown = to_text(rules, decision, SENSITIVE_CALLER, "sip", show_sensitive=True)
    assert "ACME-778812" in shown
