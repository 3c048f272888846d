"""`sip-policy diff` timings (issue 12): on the sample, and on a 10,000-rule policy (gen.py,
in its table form: a rules.yaml and the numbers.csv / regions.csv tables) with 100,000
recorded calls. Not a test: figures for docs/performance.md.

Each case runs the CLI in a fresh process (`python -m policy diff OLD NEW ...`), as a user
or a CI job does, and reports the wall time and the callers compared; the edit is one table
row dropped and the default `llm` changed (which changes every outcome).

Usage: python benchmarks/bench_diff.py [--calls 100000] [--rules 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen

import policy
from policy.capture import CaptureWriter

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-12-22T10:00:00-08:00"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(*args: str) -> tuple[float, float, int, dict[str, object]]:
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(
        [sys.executable, "-m", "policy", "diff", *args, "--at", AT, "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    elapsed, used = time.perf_counter() - start, _cpu() - cpu
    if done.returncode == 2:
        raise SystemExit(done.stderr)
    return elapsed, used, done.returncode, json.loads(done.stdout)


def report(label: str, elapsed: float, cpu: float, code: int, data: dict[str, object]) -> None:
    callers = data["callers"]
    moves = data["moves"]
    assert isinstance(callers, dict) and isinstance(moves, list)
    print(
        f"{label:<46} wall {elapsed:6.2f} s  cpu {cpu:6.2f} s  exit {code}  callers {callers}  "
        f"moves {len(moves)}  changes {len(data['changes'])}"  # type: ignore[arg-type]
    )


def sample(tmp: Path) -> None:
    edited = tmp / "sample"
    shutil.copytree(ROOT / "prompts", edited / "prompts")
    text = (ROOT / "rules.yaml").read_text(encoding="utf-8")
    text = text.replace('["+1415", "+1510", "+1650"]', '["+1415", "+1510"]')
    (edited / "rules.yaml").write_text(text, encoding="utf-8")
    report("sample, unchanged", *run("rules.yaml", "rules.yaml"))
    report("sample, one prefix dropped", *run("rules.yaml", str(edited / "rules.yaml")))


def large(tmp: Path, n_rules: int, n_calls: int) -> None:
    g = gen.generate(n_rules, callers=300)
    old = gen.write_table_form(g, tmp / "old")
    new_dir = tmp / "new"
    shutil.copytree(tmp / "old", new_dir)
    rows = (new_dir / "numbers.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    del rows[len(rows) // 2]
    (new_dir / "numbers.csv").write_text("".join(rows), encoding="utf-8")
    rules = (new_dir / "rules.yaml").read_text(encoding="utf-8")
    (new_dir / "rules.yaml").write_text(
        rules.replace("openai/gpt-4.1-mini", "openai/gpt-4.1-nano", 1), encoding="utf-8"
    )
    p = policy.load(old)
    calls = tmp / "calls.jsonl"
    rng = random.Random(12)
    writer = CaptureWriter(calls, max_bytes=1 << 40, raw=True)
    start = time.perf_counter()
    for _label, attrs in gen.make_callers(g, rng, n_calls):
        writer.record(p, p.decide(attrs), attrs, "sip")
    writer.close()
    size = calls.stat().st_size / 1e6
    print(
        f"captured {n_calls:,} calls ({size:.0f} MB) in {time.perf_counter() - start:.1f} s "
        f"(raw; pseudonymised costs a number parse per call)"
    )
    pseudo = CaptureWriter(tmp / "pseudo.jsonl", max_bytes=1 << 40, key=b"k" * 32)
    sample_calls = gen.make_callers(g, random.Random(13), 10_000)
    decided = [(attrs, p.decide(attrs)) for _label, attrs in sample_calls]
    start = time.perf_counter()
    for attrs, d in decided:
        pseudo.record(p, d, attrs, "sip")
    pseudo.close()
    per_call = (time.perf_counter() - start) / len(decided) * 1e6
    print(f"pseudonymised capture: {per_call:.0f} µs per call (10,000 calls)")
    label = f"{n_rules:,} rules, unchanged, {n_calls:,} calls"
    report(label, *run(str(old), str(old), "--calls", str(calls)))
    label = f"{n_rules:,} rules, 1 row + defaults, {n_calls:,} calls"
    report(label, *run(str(old), str(new_dir / "rules.yaml"), "--calls", str(calls)))
    report(
        f"{n_rules:,} rules, 1 row + defaults, no calls",
        *run(str(old), str(new_dir / "rules.yaml")),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sample(Path(tmp))
        large(Path(tmp), args.rules, args.calls)


if __name__ == "__main__":
    main()
