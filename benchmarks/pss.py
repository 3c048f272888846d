"""Memory per job process (issue 14): proportional set size (PSS) and private memory of
job processes started the way livekit-agents 1.8.9 starts them on Linux: a forkserver that
imports the `preload_modules`, then `livekit.agents.ipc._preload_freeze`, and forks each job.

- own:    what job processes did before: each compiles the rules in its `setup_fnc`;
- shared: `policy.shared` in `preload_modules`: the forkserver compiles them once and each
          job process inherits them (`load_inherited`).

Each job decides for the benchmark's callers (so the pages a decision touches are counted),
then the parent reads /proc/PID/smaps_rollup of every job process.

    python benchmarks/pss.py [--rules 100000] [--jobs 4] [--form table|yaml]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic


def smaps(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        out[key] = int(value.split()[0]) / 1024
    return out


def job(
    mode: str, rules: str, callers: list[tuple[dict[str, str], str]], ready: Any, done: Any
) -> None:
    import policy

    if mode == "shared":
        from policy import shared

        p = shared.load_inherited(Path(rules))
        inherited = shared.inherited() is p
    else:  # as before policy/shared.py existed (benchmarks/pss.py runs on older code too)
        p, inherited = policy.load(rules), False
    for _ in range(3):
        for attrs, kind in callers:
            p.decide(attrs, kind)
    ready.put((mp.current_process().pid, inherited))
    done.wait()


def measure(mode: str, rules: Path, callers: list[Any], jobs: int) -> dict[str, float]:
    ctx = mp.get_context("forkserver")
    preload = ["policy.shared"] if mode == "shared" else ["policy"]
    ctx.set_forkserver_preload([*preload, "livekit.agents.ipc._preload_freeze"])
    import os

    os.environ["SIP_POLICY_PRELOAD"] = str(rules) if mode == "shared" else ""
    ready, done = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=job, args=(mode, str(rules), callers, ready, done)) for _ in range(jobs)
    ]
    for p in procs:
        p.start()
    reports = [ready.get(timeout=600) for _ in procs]
    stats = [smaps(pid) for pid, _ in reports]
    done.set()
    for p in procs:
        p.join()
    n = len(stats)
    return {
        "pss": sum(s["Pss"] for s in stats) / n,
        "private": sum(s["Private_Clean"] + s["Private_Dirty"] for s in stats) / n,
        "rss": sum(s["Rss"] for s in stats) / n,
        "inherited": float(sum(1 for _, inh in reports if inh)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--form", choices=("table", "yaml"), default="table")
    ap.add_argument("--mode", choices=("own", "shared"), required=True)
    args = ap.parse_args()
    r = realistic.generate(args.rules)
    callers = [(a, realistic.kind_of(label)) for label, a in r.callers]
    with tempfile.TemporaryDirectory(prefix="sip-policy-pss-") as tmp:
        write = realistic.write_table_form if args.form == "table" else realistic.write_yaml_form
        rules = write(r, Path(tmp))
        m = measure(args.mode, rules, callers, args.jobs)
    print(
        f"| {args.rules:>9,} | {args.form:<5} | {args.mode:<6} | {args.jobs} | {m['rss']:>7.0f} "
        f"| {m['pss']:>7.0f} | {m['private']:>7.0f} | {int(m['inherited'])}/{args.jobs} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
