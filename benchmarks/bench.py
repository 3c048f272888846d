"""`make bench`: decisions and loading at 10 to 100,000 rules, against the alternatives.

For each size, a policy of the issue-5 mix (see gen.py) and a fixed set of callers (a third
matching early rules, a third late rules, a third nothing) are generated with a fixed seed.
Four ways of deciding are run on the same callers and must give the same rule for each:

- indexed:  `Policy.decide` (hash tables, prefix tables, one RE2 set per attribute);
- scan:     the engine's own compiled conditions, tried in order (what `explain` does,
            without building its trace);
- simpleeval: a naive engine: one simpleeval expression per rule, tried in order;
- dict:     one dict lookup on `sip.trunkPhoneNumber` (the floor; not an engine, and not
            part of the agreement check).

Each decision is timed on its own (perf_counter_ns; the timer's own cost is in every row
alike). Loading is measured in a fresh process per form: the whole policy as one YAML item
per rule, and the same policy with the per-number rules in a CSV table.

Usage: python benchmarks/bench.py [--sizes 10,1000] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import re2
from simpleeval import SimpleEval

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the YAML form at 100,000 rules is measured on purpose, past the 2 MiB bound of `load`
os.environ.setdefault("SIP_POLICY_MAX_RULES_MB", "64")

import gen

import policy
from policy.runtime.context import Context
from policy.runtime.engine import Policy, kind_name

SIZES = (10, 1_000, 10_000, 100_000)
Decider = Callable[[dict[str, str]], str | None]


# -- the deciders ---------------------------------------------------------------------------


def indexed(p: Policy) -> Decider:
    return lambda attrs: p.decide(attrs, "sip").rule


def scan(p: Policy) -> Decider:
    rules = p.rules

    def decide(attrs: dict[str, str]) -> str | None:
        ctx = Context(attrs, kind_name("sip"), None, p.settings)
        for rule in rules:
            if rule.enabled and rule.cond.test(ctx):
                return rule.name
        return None

    return decide


def naive(g: gen.GenPolicy) -> Decider:
    """One simpleeval expression per rule, parsed once, evaluated in order."""
    parser = SimpleEval()
    compiled = [(r.name, parser.parse(gen.naive_expression(r))) for r in g.rules]
    options = re2.Options()
    options.log_errors = False

    def fullmatch(pattern: str, text: str) -> bool:
        return re2.fullmatch(pattern, text, options) is not None

    def decide(attrs: dict[str, str]) -> str | None:
        def get(key: str, default: str = "") -> str:
            value = attrs.get(key)
            return value if isinstance(value, str) and value else default

        ev = SimpleEval(
            names={"attrs": attrs, "kind": "sip"},
            functions={"get": get, "startswith": str.startswith, "fullmatch": fullmatch},
        )
        for name, tree in compiled:
            try:
                if ev.eval("", previously_parsed=tree) is True:
                    return name
            except Exception:
                continue
        return None

    return decide


def floor(g: gen.GenPolicy) -> Decider:
    table = {r.value: r.name for r in g.rules if r.attr == "sip.trunkPhoneNumber"}
    return lambda attrs: table.get(attrs.get("sip.trunkPhoneNumber", ""))


# -- measuring ------------------------------------------------------------------------------


def timed(
    decide: Decider, callers: list[dict[str, str]], budget_s: float, max_reps: int
) -> list[int]:
    """Per-decision times in ns: every caller once, then more rounds within the budget."""
    samples: list[int] = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for rep in range(max_reps):
        for attrs in callers:
            t0 = clock()
            decide(attrs)
            samples.append(clock() - t0)
        if rep and time.perf_counter() - start > budget_s:
            break
    return samples


def pct(samples: list[int], q: float) -> float:
    s = sorted(samples)
    return s[min(int(len(s) * q), len(s) - 1)] / 1000


LOADER = """
import json, resource, sys, time
t0 = time.perf_counter()
import policy
t1 = time.perf_counter()
p = policy.load(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "rules": len(p.rules),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load_in_fresh_process(rules: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", LOADER, str(rules)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"loading {rules} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout))


def size_of(*files: Path) -> float:
    return sum(f.stat().st_size for f in files) / 1e6


# -- the run --------------------------------------------------------------------------------


def run(sizes: tuple[int, ...], quick: bool, workdir: Path) -> int:
    decision_rows: list[str] = []
    load_rows: list[str] = []
    failures: list[str] = []
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, seed 5", flush=True)
    for n in sizes:
        g = gen.generate(n)
        callers = [attrs for _, attrs in g.callers]
        ydir, tdir = workdir / f"yaml-{n}", workdir / f"table-{n}"
        yaml_rules = gen.write_yaml_form(g, ydir)
        table_rules = gen.write_table_form(g, tdir)
        # loading, each form in a fresh process (peak memory is that process's)
        for form, rules_file, files in (
            ("yaml", yaml_rules, [yaml_rules]),
            ("yaml+csv", table_rules, [table_rules, tdir / "numbers.csv"]),
        ):
            info = load_in_fresh_process(rules_file)
            load_rows.append(
                f"| {n:>7,} | {form:<8} | {size_of(*files):>7.2f} | {info['load_s']:>8.2f} "
                f"| {info['peak_mb']:>7.0f} |"
            )
            print(load_rows[-1], flush=True)
        p_table = policy.load(table_rules)
        p_yaml = policy.load(yaml_rules) if n <= 10_000 or not quick else p_table
        gc.collect()
        deciders: dict[str, Decider] = {
            "indexed": indexed(p_table),
            "scan": scan(p_table),
            "simpleeval": naive(g),
            "dict": floor(g),
        }
        # agreement: the answers of every engine on every caller (simpleeval on a sample)
        expected = [deciders["indexed"](a) for a in callers]
        yaml_answers = [p_yaml.decide(a).rule for a in callers]
        if yaml_answers != expected:
            failures.append(f"{n}: the YAML and table forms disagree")
        naive_sample = callers if n <= 10_000 else callers[:: max(len(callers) // 30, 1)]
        for name in ("scan", "simpleeval"):
            sample = naive_sample if name == "simpleeval" else callers
            got = [deciders[name](a) for a in sample]
            want = [expected[callers.index(a)] for a in sample]
            if got != want:
                failures.append(f"{n}: {name} disagrees with indexed")
        matched = sum(r is not None for r in expected)
        print(f"  {n:,} rules: {len(callers)} callers, {matched} matched a rule", flush=True)
        results: dict[str, tuple[float, float, float]] = {}
        for name, decide in deciders.items():
            sample = naive_sample if name == "simpleeval" else callers
            budget = {"indexed": 3.0, "dict": 1.0, "scan": 8.0, "simpleeval": 15.0}[name]
            if quick:
                budget /= 5
            samples = timed(decide, sample, budget, max_reps=200)
            mean = statistics.fmean(samples) / 1000
            results[name] = (pct(samples, 0.5), pct(samples, 0.99), 1e6 / mean)
        base = results["indexed"][0]
        for name, (med, p99, dps) in results.items():
            ratio = (
                "1"
                if name == "indexed"
                else (f"{med / base:,.0f}× slower" if med >= base else f"{base / med:,.1f}× faster")
            )
            decision_rows.append(
                f"| {n:>7,} | {name:<10} | {med:>10,.2f} | {p99:>10,.2f} | {dps:>12,.0f} "
                f"| {ratio:>16} |"
            )
            print(decision_rows[-1], flush=True)
        del p_table, p_yaml, deciders
        gc.collect()
    print()
    print("Decisions (µs per decision; ratio = median against indexed)")
    print()
    print("|   rules | engine     | median µs  |    p99 µs  | decisions/s  |   median ratio   |")
    print("|--------:|------------|-----------:|-----------:|-------------:|-----------------:|")
    print("\n".join(decision_rows))
    print()
    print("Loading (load + validate + compile, fresh process; peak = max RSS of that process)")
    print()
    print("|   rules | form     |   MB    |  load s  | peak MB |")
    print("|--------:|----------|--------:|---------:|--------:|")
    print("\n".join(load_rows))
    if failures:
        print("\nDISAGREEMENT:\n  " + "\n  ".join(failures))
        return 1
    print("\nall engines agree on every caller")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--quick", action="store_true", help="shorter timing budgets")
    ap.add_argument("--keep", type=Path, help="write the generated policies here and keep them")
    args = ap.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if args.keep:
        return run(sizes, args.quick, args.keep)
    with tempfile.TemporaryDirectory(prefix="sip-policy-bench-") as tmp:
        return run(sizes, args.quick, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
