"""Runs `decide` N times over the benchmark's 1,000-rule policy and callers, for instruction
counting (`benchmarks/instructions.sh`): wall-clock time on a shared virtual machine moves
by a third between runs, instruction counts do not."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen

import policy


def main(rounds: int) -> None:
    g = gen.generate(1000)
    with tempfile.TemporaryDirectory(prefix="sip-policy-ir-") as tmp:
        p = policy.load(gen.write_table_form(g, Path(tmp)))
    callers = [a for _, a in g.callers]
    for a in callers:  # warm every cache first, so both runs pay the same set-up
        p.decide(a)
    for _ in range(rounds):
        for a in callers:
            p.decide(a)


if __name__ == "__main__":
    main(int(sys.argv[1]))
