"""The hostile cases prove something: each case marked `naive:` breaks a naive engine
(`naive_engine.py`: yaml.safe_load + re + simpleeval defaults + str.format) in the stated way,
while `test_hostile_cases.py` shows the same case holding against the real engine.

Each naive run is a subprocess with a 3 s timeout and a 1 GiB address-space limit, so a
hang, a memory bomb or a segfault is observed rather than suffered. The cases are chosen so
the naive engine fails by orders of magnitude: a backtracking regex needs minutes, not 3 s.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hostile_harness import DEFAULT_WITHIN_MS, Case, load_cases

NAIVE = Path(__file__).resolve().parent / "naive_engine.py"
TIMEOUT_S = 3.0
MEMORY_BYTES = 1 << 30
CASES = [c for c in load_cases() if c.naive]


def _limit_memory() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_naive(case: Case) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [sys.executable, str(NAIVE), case.id],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout"}
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or [f"signal {-proc.returncode}"]
        return {"outcome": "crash", "returncode": proc.returncode, "why": last[0]}
    return json.loads(proc.stdout)


def naive_problems(case: Case, result: dict[str, Any]) -> list[str]:
    """How the naive result misses the case's expectation (empty: it would have passed)."""
    expect = case.expect
    if "error" in expect:
        if result["outcome"] == "error" and result["line"] == expect["line"]:
            return []
        return [f"not refused at line {expect['line']}: {result['outcome']}"]
    out = []
    decisions = result["decisions"]
    wanted = expect.get("rules", [expect.get("rule")] * len(decisions))
    for d, rule in zip(decisions, wanted, strict=True):
        if d["rule"] != rule:
            out.append(f"decided {d['rule']!r}, expected {rule!r}")
        if d["best_ms"] > expect.get("within_ms", DEFAULT_WITHIN_MS):
            out.append(f"took {d['best_ms']:.0f} ms")
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
    if result["outcome"] in ("timeout", "crash"):
        got = result["outcome"]
    else:
        found = naive_problems(case, result)
        assert found, f"{case.id}: the naive engine passes this case, so it proves nothing"
        got = "wrong"
    allowed = case.naive if isinstance(case.naive, list) else [case.naive]
    assert got in allowed, f"{case.id}: naive engine {got}, case says {case.naive}: {result}"
    if case.naive_rule != "unset":
        assert [d["rule"] for d in result["decisions"]] == [case.naive_rule], result


def test_every_point_breaks_the_naive_engine() -> None:
    assert {c.point for c in CASES} >= {1, 2, 3, 4, 5}
