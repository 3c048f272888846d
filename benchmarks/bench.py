"""`make bench`: decisions and loading of two mixes at 1k to 100k rules (1M: `make bench-1m`).

Two mixes, each generated with a fixed seed with its callers:

- project:   the issue-5 mix of gen.py (exact numbers and trunks, caller prefixes, a few
             regexes and expressions), as before;
- realistic: the issue-14 mix of realistic.py (tenants with any-of tiers, any/not groups,
             regexes on caller numbers, custom headers, country facts, then the numbers,
             trunks and caller prefixes).

For each, the engines below are run on the same callers and must give the same rule:

- indexed:   `Policy.decide` on the table form (and the all-YAML form, which must agree);
- scan:      the engine's own compiled conditions tried in order (what `explain` does,
             without its trace); skipped above 100,000 rules (minutes per round);
- simpleeval: (project mix, up to 10,000 rules) one simpleeval expression per rule;
- dict:      one dict lookup on `sip.trunkPhoneNumber` (the floor; not an engine).

Each decision is timed on its own (perf_counter_ns). Loading is measured in a fresh process
per form: every rule a YAML item, and the same policy with the numbers in CSV tables (peak =
that process's max RSS). Instructions per decision: benchmarks/instructions.sh.

Usage: python benchmarks/bench.py [--sizes 1000,10000] [--mix realistic] [--quick]
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
import realistic

import policy
from policy.parse.document import MAX_FILE_BYTES
from policy.runtime.context import Context
from policy.runtime.engine import Policy, kind_name

SIZES = (1_000, 10_000, 100_000)
MIXES = ("project", "realistic")
Decider = Callable[[dict[str, str], str], str | None]
Caller = tuple[dict[str, str], str]


# -- the deciders ---------------------------------------------------------------------------


def indexed(p: Policy) -> Decider:
    return lambda attrs, kind: p.decide(attrs, kind).rule


def scan(p: Policy) -> Decider:
    rules = p.rules

    def decide(attrs: dict[str, str], kind: str) -> str | None:
        ctx = Context(attrs, kind_name(kind), None, p.settings)
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

    def decide(attrs: dict[str, str], kind: str) -> str | None:
        def get(key: str, default: str = "") -> str:
            value = attrs.get(key)
            return value if isinstance(value, str) and value else default

        ev = SimpleEval(
            names={"attrs": attrs, "kind": kind},
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


def floor(numbers: dict[str, str]) -> Decider:
    return lambda attrs, kind: numbers.get(attrs.get("sip.trunkPhoneNumber", ""))


# -- measuring ------------------------------------------------------------------------------


def timed(decide: Decider, callers: list[Caller], budget_s: float, max_reps: int) -> list[int]:
    """Per-decision times in ns: every caller once, then more rounds within the budget."""
    samples: list[int] = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for rep in range(max_reps):
        for attrs, kind in callers:
            t0 = clock()
            decide(attrs, kind)
            samples.append(clock() - t0)
        if rep and time.perf_counter() - start > budget_s:
            break
    return samples


def pct(samples: list[int], q: float) -> float:
    s = sorted(samples)
    return s[min(int(len(s) * q), len(s) - 1)] / 1000


LOADER = """
import json, sys, time
t0 = time.perf_counter()
import policy
t1, c1 = time.perf_counter(), time.process_time()
p = policy.load(sys.argv[1])
t2, c2 = time.perf_counter(), time.process_time()
# VmHWM, not ru_maxrss: Linux keeps the parent's maximum across fork and exec
mem = dict(line.split(":", 1) for line in open("/proc/self/status"))
kb = lambda key: int(mem[key].split()[0]) / 1024
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "cpu_s": c2 - c1, "rules": len(p.rules),
                  "rss_mb": kb("VmRSS"), "peak_mb": kb("VmHWM")}))
"""


def load_in_fresh_process(rules: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", LOADER, str(rules)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"loading {rules} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout))


def size_of(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.iterdir()) / 1e6


# -- one mix at one size ----------------------------------------------------------------------


class Generated:
    """One mix at one size: both forms written, the callers, the floor's table."""

    def __init__(self, mix: str, n: int, workdir: Path) -> None:
        ydir, tdir = workdir / f"{mix}-yaml-{n}", workdir / f"{mix}-table-{n}"
        self.naive: gen.GenPolicy | None = None
        if mix == "project":
            g = gen.generate(n)
            self.naive = g if n <= 10_000 else None
            self.callers: list[Caller] = [(a, "sip") for _, a in g.callers]
            self.numbers = {r.value: r.name for r in g.rules if r.attr == "sip.trunkPhoneNumber"}
            self.yaml, self.table = gen.write_yaml_form(g, ydir), gen.write_table_form(g, tdir)
        else:
            r = realistic.generate(n)
            self.callers = [(a, realistic.kind_of(label)) for label, a in r.callers]
            self.numbers = {
                str(x.when["sip.trunkPhoneNumber"]): x.name
                for x in r.rules
                if x.section == "bulk" and "sip.trunkPhoneNumber" in x.when
            }
            self.yaml = realistic.write_yaml_form(r, ydir)
            self.table = realistic.write_table_form(r, tdir)


def load_rows(mix: str, n: int, g: Generated) -> list[str]:
    rows = []
    for form, rules_file in (("yaml", g.yaml), ("table", g.table)):
        if rules_file.stat().st_size > MAX_FILE_BYTES:
            rows.append(
                f"| {mix:<9} | {n:>9,} | {form:<5} | {size_of(rules_file.parent):>7.2f} "
                "| refused: rules.yaml is over 32 MiB (use tables) |"
            )
            print(rows[-1], flush=True)
            continue
        info = load_in_fresh_process(rules_file)
        rows.append(
            f"| {mix:<9} | {n:>9,} | {form:<5} | {size_of(rules_file.parent):>7.2f} "
            f"| {info['load_s']:>8.2f} | {info['cpu_s']:>7.2f} | {info['peak_mb']:>7.0f} "
            f"| {info['rss_mb']:>7.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def decide_rows(mix: str, n: int, g: Generated, quick: bool, failures: list[str]) -> list[str]:
    p_table = policy.load(g.table)
    p_yaml = policy.load(g.yaml) if g.yaml.stat().st_size <= MAX_FILE_BYTES else p_table
    gc.collect()
    callers = g.callers
    deciders: dict[str, Decider] = {"indexed": indexed(p_table)}
    if n <= 100_000:
        deciders["scan"] = scan(p_table)
    if g.naive is not None:
        deciders["simpleeval"] = naive(g.naive)
    deciders["dict"] = floor(g.numbers)
    expected = [deciders["indexed"](a, k) for a, k in callers]
    if [p_yaml.decide(a, k).rule for a, k in callers] != expected:
        failures.append(f"{mix} {n}: the YAML and table forms disagree")
    sample = callers if n <= 10_000 else callers[:: max(len(callers) // 30, 1)]
    if [p_table.explain(a, k).rule for a, k in sample] != [
        expected[callers.index(c)] for c in sample
    ]:
        failures.append(f"{mix} {n}: explain disagrees with decide")
    for name in ("scan", "simpleeval"):
        if name in deciders:
            got = [deciders[name](a, k) for a, k in sample]
            if got != [expected[callers.index(c)] for c in sample]:
                failures.append(f"{mix} {n}: {name} disagrees with indexed")
    matched = sum(r is not None for r in expected)
    print(f"  {mix} {n:,} rules: {len(callers)} callers, {matched} matched a rule", flush=True)
    rows = []
    for name, decide in deciders.items():
        budget = {"indexed": 3.0, "dict": 1.0, "scan": 8.0, "simpleeval": 15.0}[name]
        samples = timed(
            decide, sample if name == "simpleeval" else callers, budget / (5 if quick else 1), 200
        )
        med, p99 = pct(samples, 0.5), pct(samples, 0.99)
        rows.append(
            f"| {mix:<9} | {n:>9,} | {name:<10} | {med:>10,.2f} | {p99:>10,.2f} "
            f"| {1e6 / (statistics.fmean(samples) / 1000):>12,.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def run(
    sizes: tuple[int, ...], mixes: tuple[str, ...], quick: bool, load_only: bool, workdir: Path
) -> int:
    decisions: list[str] = []
    loads: list[str] = []
    failures: list[str] = []
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    for n in sizes:
        for mix in mixes:
            g = Generated(mix, n, workdir)
            loads += load_rows(mix, n, g)
            if not load_only:
                decisions += decide_rows(mix, n, g, quick, failures)
            del g
            gc.collect()
    print()
    print("Decisions (µs per decision, each timed on its own)")
    print()
    print("| mix       |     rules | engine     |  median µs |     p99 µs | decisions/s  |")
    print("|-----------|----------:|------------|-----------:|-----------:|-------------:|")
    print("\n".join(decisions))
    print()
    print("Loading (load + validate + compile, fresh process; CPU s = its CPU time, which")
    print("neighbours on a shared machine disturb less than wall time; peak = VmHWM)")
    print()
    print("| mix       |     rules | form  |   MB    |  load s  |  CPU s  | peak MB |  RSS MB |")
    print("|-----------|----------:|-------|--------:|---------:|--------:|--------:|--------:|")
    print("\n".join(loads))
    print(f"\nload average at the end: {os.getloadavg()}")
    if failures:
        print("\nDISAGREEMENT:\n  " + "\n  ".join(failures))
        return 1
    print("\nall engines agree on every caller")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--mix", default=",".join(MIXES), help="project, realistic or both")
    ap.add_argument("--quick", action="store_true", help="shorter timing budgets")
    ap.add_argument("--load-only", action="store_true", help="measure loading only")
    ap.add_argument("--keep", type=Path, help="write the generated policies here and keep them")
    args = ap.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    mixes = tuple(args.mix.split(","))
    if args.keep:
        return run(sizes, mixes, args.quick, args.load_only, args.keep)
    with tempfile.TemporaryDirectory(prefix="sip-policy-bench-") as tmp:
        return run(sizes, mixes, args.quick, args.load_only, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
