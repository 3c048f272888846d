"""The adapter's per-call questions to the policy at 100,000 rules: `Policy.kinds()` (which
caller kinds to wait for) and `Policy.tool_names()` (which tools to check), asked on every
incoming call. Both are worked out at load since the architecture change (issue 9); before
it, each call walked every condition of every rule (about 24 ms and 41 ms at 100,000 rules).

    .venv/bin/python benchmarks/adapter_bench.py          # about 10 s, most of it the load
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen

import policy

RUNS = 20
os.environ.setdefault("SIP_POLICY_MAX_RULES_MB", "64")  # a 100,000-rule YAML file, on purpose


def median_us(fn: object, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rules = gen.write_yaml_form(gen.generate(100_000), Path(tmp))
        loaded = policy.load(rules)
    print(f"{len(loaded.rules):,} rules")
    for name in ("kinds", "tool_names"):
        fn = getattr(loaded, name)
        print(f"Policy.{name}(): median {median_us(fn):.2f} µs per call ({RUNS} calls)")


if __name__ == "__main__":
    main()
