"""Runs `decide` N rounds over a generated policy's callers, for instruction counting
(`benchmarks/instructions.sh`): wall-clock time on a shared virtual machine moves by a third
between runs, instruction counts do not.

    python benchmarks/decide_loop.py ROUNDS [MIX] [RULES]     # MIX: project or realistic
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen
import realistic

import policy


def main(rounds: int, mix: str, n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sip-policy-ir-") as tmp:
        if mix == "project":
            g = gen.generate(n)
            p = policy.load(gen.write_table_form(g, Path(tmp)))
            callers = [(a, "sip") for _, a in g.callers]
        else:
            r = realistic.generate(n)
            p = policy.load(realistic.write_table_form(r, Path(tmp)))
            callers = [(a, realistic.kind_of(label)) for label, a in r.callers]
    for a, k in callers:  # warm every cache first, so both runs pay the same set-up
        p.decide(a, k)
    for _ in range(rounds):
        for a, k in callers:
            p.decide(a, k)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]),
        args[1] if len(args) > 1 else "project",
        int(args[2]) if len(args) > 2 else 1000,
    )
