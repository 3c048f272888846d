"""Property tests: `decide` on arbitrary attributes, arbitrary `expr:` strings, and a fuzz
target for the loader. Brief in `make test`; `make fuzz` sets SIP_POLICY_FUZZ_EXAMPLES.

Bounds stated here: a decision within 250 ms and a load of a small file within 2 s, both of
CPU time (`time.thread_time`), which a busy machine does not inflate as it does wall-clock
time. The engine needs microseconds and milliseconds; the naive engine needs minutes on the
same inputs (test_hostile_naive.py), so a regression shows by orders of magnitude, not by
noise. The loader's fuzz target runs in a child with a CPU-time budget (RLIMIT_CPU); its
wall-clock timeout is only a safety net for a child blocked without using CPU.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fuzz_targets import fuzz_loader  # noqa: F401  (the subprocess runs it)
from hostile_harness import HANG_S, build, case_by_id, run_bounded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy
from policy.compile.expr import ExprProblem, plan
from policy.errors import PolicyError

EXAMPLES = int(os.environ.get("SIP_POLICY_FUZZ_EXAMPLES", "150"))
#: CPU seconds one decision may use; the engine needs well under a millisecond.
DECIDE_CPU_BOUND_S = 0.25
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE_POLICY = policy.loads(build(case_by_id("attributes-hostile-sets").rules))
# First use imports phone metadata lazily (hundreds of ms, once per process): warm it up so
# the bound measures decisions, not imports.
HOSTILE_POLICY.explain({"sip.phoneNumber": "+15105550100", "sip.trunkPhoneNumber": "+4420794600"})

KEYS = [
    "sip.phoneNumber",
    "sip.trunkPhoneNumber",
    "sip.ruleID",
    "sip.callStatus",
    "sip.h.x-note",
    "customer.tier",
    "customer.name",
    "__class__",
    "",
]
#: Any code point, lone surrogates included (hypothesis leaves them out by default).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)
VALUES = st.one_of(
    ANY_TEXT,
    st.sampled_from(["", "+15105550100", "gold", "\u202e\u200b", "\x00", "a " * 2000 + "!"]),
    st.none(),
    st.integers(),
    st.binary(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
)
ATTRIBUTES = st.dictionaries(st.sampled_from(KEYS) | ANY_TEXT, VALUES, max_size=12)
KINDS = st.sampled_from(["sip", "standard", "connector", "", "\x00", 3, None])


def timed_decide(compiled: Any, attrs: dict[Any, Any], kind: Any) -> Any:
    # the CPU time of this thread: neither other processes nor pytest's threads count
    start = time.thread_time()
    d = compiled.decide(attrs, kind=kind)
    assert time.thread_time() - start < DECIDE_CPU_BOUND_S
    return d


@FUZZ
@given(ATTRIBUTES, KINDS)
def test_fuzz_decide_never_raises_and_is_stable(attrs: dict[Any, Any], kind: Any) -> None:
    first = HOSTILE_POLICY.decide(attrs, kind=kind)  # may load a country's phone metadata
    again = timed_decide(HOSTILE_POLICY, dict(attrs), kind)
    assert (first.rule, first.outcome) == (again.rule, again.outcome)
    assert HOSTILE_POLICY.explain(attrs, kind=kind).rule == first.rule
    assert len(first.outcome.instructions) < 1000  # three placeholders of at most 200


_EXPR_TOKENS = [
    'attrs["customer.tier"]',
    'attrs["__class__"]',
    'get("x")',
    "kind",
    "attrs",
    "True",
    "None",
    '"gold"',
    "'%0999d'",
    "0",
    "4000000",
    "9" * 30,
    "1e999",
    "==",
    "!=",
    "<",
    ">=",
    " in ",
    " not in ",
    " and ",
    " or ",
    "not ",
    "(",
    ")",
    "[",
    "]",
    ",",
    "+",
    "*",
    "**",
    "%",
    ".",
    "clear()",
    "zfill(99999999)",
    "__class__",
    "lower(",
    "len(",
    "int(",
    "startswith(",
    "contains(",
    "lambda x: ",
    "f'{0:>9999999}'",
    " if ",
    " else ",
    " is ",
    "[0]*9999",
    "__import__",
    "'''",
    "\\",
    "\n",
    "\x00",
    "{",
    "}",
    ":",
    "@",
    "await ",
    "yield ",
]
EXPRESSIONS = st.one_of(
    st.lists(st.sampled_from(_EXPR_TOKENS), max_size=25).map("".join),
    st.text(max_size=60),
)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # ast.parse on `1in x` and the like
@FUZZ
@given(EXPRESSIONS, ATTRIBUTES)
def test_fuzz_expressions_are_refused_or_safe(source: str, attrs: dict[Any, Any]) -> None:
    try:
        plan(source)
    except ExprProblem as problem:
        assert problem.message and problem.message == problem.message.strip()
    text = "rules:\n  - name: e\n    when:\n      expr: " + json.dumps(source) + "\n"
    try:
        compiled = policy.loads(text)
    except PolicyError as exc:
        assert exc.errors
        return
    before = dict(attrs)
    timed_decide(compiled, attrs, "sip")
    assert attrs == before  # no expression can change the caller's attributes


def test_fuzz_loader() -> None:
    """The loader target runs in its own process: a segfault is a failure, not a lost run."""
    examples = max(EXAMPLES, 50)
    # 150 examples need about a second of CPU; the budget is a minute plus a second each.
    cpu_s = 60 + examples
    proc = run_bounded(
        [sys.executable, str(Path(__file__).with_name("fuzz_targets.py")), "loader", str(examples)],
        cpu_s=cpu_s,
        hang_s=max(HANG_S, 3.0 * cpu_s),
    )
    assert proc.returncode == 0, f"{proc.why()}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
