"""The hostile cases prove something: each case marked `naive:` breaks a naive engine
(`naive_engine.py`: yaml.safe_load + re + simpleeval defaults + str.format), while
`test_hostile_cases.py` shows the same case holding against the real engine.

Each naive run is a subprocess with a CPU-time budget of 3 s (RLIMIT_CPU) and a 1 GiB
address-space limit, so a hang, a memory bomb or a segfault is observed rather than suffered.
The budget is CPU time, not wall-clock time: a busy machine slows the child down but does not
change what it is allowed to do. The cases are chosen so the naive engine fails by orders of
magnitude: a backtracking regex needs minutes of CPU, not 3 s.

What a case asserts about the naive engine is only that it did not pass the case. Every way of
breaking proves that: running out of its CPU budget (or, for a child blocked without using
CPU, the wall-clock safety net), dying (an exception, a MemoryError, a signal), or answering
wrongly (accepting what must be refused, deciding another rule, too much CPU per decision).
The `naive:` label of a case says how it is usually seen to break; which of these ways shows
up can depend on the machine, so it is documentation, not part of the verdict.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hostile_harness import DEFAULT_WITHIN_MS, Case, load_cases, run_bounded

NAIVE = Path(__file__).resolve().parent / "naive_engine.py"
CPU_BUDGET_S = 3
MEMORY_BYTES = 1 << 30
CASES = [c for c in load_cases() if c.naive]
#: The ways a naive engine is seen to break, for the `naive:` labels of the cases.
WAYS = {"timeout", "crash", "wrong"}


def run_naive(case: Case) -> dict[str, Any]:
    proc = run_bounded(
        [sys.executable, str(NAIVE), case.id], cpu_s=CPU_BUDGET_S, memory_bytes=MEMORY_BYTES
    )
    if proc.hung or proc.out_of_cpu:
        return {"outcome": "timeout", "why": proc.why()}
    if proc.returncode != 0:
        return {"outcome": "crash", "returncode": proc.returncode, "why": proc.why()}
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def naive_problems(case: Case, result: dict[str, Any]) -> list[str]:
    """How the naive result misses the case's expectation (empty: it would have passed)."""
    expect = case.expect
    if "error" in expect:
        if result["outcome"] == "error" and result["line"] == expect["line"]:
            return []
        return [f"not refused at line {expect['line']}: {result['outcome']}"]
    if result["outcome"] != "loaded":
        return [f"expected the rules to load, got {result['outcome']}"]
    out = []
    decisions = result["decisions"]
    wanted = expect.get("rules", [expect.get("rule")] * len(decisions))
    within = expect.get("within_ms", DEFAULT_WITHIN_MS)
    for d, rule in zip(decisions, wanted, strict=True):
        if d["rule"] != rule:
            out.append(f"decided {d['rule']!r}, expected {rule!r}")
        if d["cpu_ms"] > within:  # CPU time, like the real engine's bound
            out.append(f"used {d['cpu_ms']:.0f} ms of CPU")
        for key in ("instructions", "greeting"):
            text = d[key]
            out += [
                f"{key} lacks {p!r}" for p in _list(expect.get(f"{key}_contains")) if p not in text
            ]
            out += [f"{key} shows {p!r}" for p in _list(expect.get(f"{key}_lacks")) if p in text]
            if len(text) > expect.get(f"{key}_max_len", len(text)):
                out.append(f"{key} is {len(text)} characters")
    return out


def _list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def naive_results() -> dict[str, dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip([c.id for c in CASES], pool.map(run_naive, CASES), strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_naive_engine_breaks(case: Case, naive_results: dict[str, dict[str, Any]]) -> None:
    result = naive_results[case.id]
    if result["outcome"] not in ("timeout", "crash"):
        found = naive_problems(case, result)
        assert found, f"{case.id}: the naive engine passes this case, so it proves nothing"
    # When the naive engine answered, the case may also say what it answered; when it broke
    # in another way (ran out of CPU, died), that answer is not there to check, and the
    # case is proven all the same.
    if case.naive_rule != "unset" and result["outcome"] == "loaded":
        assert [d["rule"] for d in result["decisions"]] == [case.naive_rule], result


def test_naive_labels_name_ways_of_breaking() -> None:
    for case in CASES:
        ways = case.naive if isinstance(case.naive, list) else [case.naive]
        assert set(ways) <= WAYS, f"{case.id}: naive: {case.naive}; known ways: {sorted(WAYS)}"


def test_every_point_breaks_the_naive_engine() -> None:
    assert {c.point for c in CASES} >= {1, 2, 3, 4, 5}
