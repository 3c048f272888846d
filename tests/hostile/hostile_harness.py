"""Runs the data-driven hostile cases in `cases/*.yaml` against the real engine.

A case is a rules file (inline text or generated) and, optionally, attribute sets. Its
expectation is either a load error (`error:` code at `line:`), or decisions (`rule:`) that
each cost at most `within_ms` of CPU time and are identical on every run. Cases marked
`isolate: true` could crash a process if the engine regressed (libyaml segfaults on deep
nesting), so they run in a subprocess: `python hostile_harness.py CASE_ID` prints the result
as JSON.

No pass/fail verdict here depends on how busy the machine is. Work is measured as CPU time
(`time.thread_time` in process, RLIMIT_CPU for a child), which another process cannot
inflate; wall-clock time appears only as `HANG_S`, a safety net against a child that blocks
without using any CPU (a deadlock), minutes beyond anything a passing run needs.

The case files are trusted test data, so they are read with plain `yaml.safe_load`.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
#: CPU time (ms) a decision may use: the best of `RUNS`, measured with `time.thread_time`, so
#: other processes and threads cannot inflate it. The engine needs about 0.1 ms on the worst
#: case here, so this is a factor of hundreds; a backtracking or quadratic path takes seconds.
DEFAULT_WITHIN_MS = 50.0
RUNS = 3
#: CPU seconds an isolated real-engine run may use (it needs about 0.25 s, start-up included).
ISOLATED_CPU_S = 30
#: Wall-clock safety net for any child process: only a child that blocks without using CPU
#: (a deadlock) can get here, since work is bounded by RLIMIT_CPU.
HANG_S = 600.0


@dataclass
class Case:
    id: str
    point: int
    note: str
    rules: Any
    attributes: list[Any] = field(default_factory=list)
    kind: str = "sip"
    expect: dict[str, Any] = field(default_factory=dict)
    isolate: bool = False
    naive: str | list[str] | None = None
    naive_rule: Any = "unset"


def load_cases() -> list[Case]:
    cases: list[Case] = []
    seen: set[str] = set()
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")):
            case = Case(**raw)
            assert case.id not in seen, f"duplicate case id {case.id} in {path.name}"
            seen.add(case.id)
            cases.append(case)
    return cases


def case_by_id(case_id: str) -> Case:
    return next(c for c in load_cases() if c.id == case_id)


def build(spec: Any) -> Any:
    """Expand generated data: `{repeat: s, times: n, before: a, after: b}` is a + s*n + b,
    `{indent: n, before: a, after: b}` nests n mappings by indentation, and
    `{many: n, key: "x-{i}", value: "v{i}"}` is a mapping of n generated attributes.
    Anything else is taken as written (mappings and lists recursively)."""
    if isinstance(spec, dict) and "repeat" in spec:
        return spec.get("before", "") + spec["repeat"] * spec["times"] + spec.get("after", "")
    if isinstance(spec, dict) and "indent" in spec:
        lines = [f"{'  ' * (i + 2)}k{i}:" for i in range(spec["indent"])]
        body = "\n".join(lines) + " "
        return spec.get("before", "") + body + spec.get("after", "")
    if isinstance(spec, dict) and "many" in spec:
        out = {spec["key"].format(i=i): spec["value"].format(i=i) for i in range(spec["many"])}
        out.update(build(spec.get("also", {})))
        return out
    if isinstance(spec, dict):
        return {k: build(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [build(v) for v in spec]
    return spec


def attribute_sets(case: Case) -> list[dict[str, Any]]:
    sets = [build(a) for a in case.attributes]
    for s in sets:
        # YAML test data cannot hold some of these values directly
        for k, v in list(s.items()):
            if isinstance(v, str) and v.startswith("\\u-escaped:"):
                s[k] = v[len("\\u-escaped:") :].encode("ascii").decode("unicode_escape")
    return sets


def run_engine(case: Case) -> dict[str, Any]:
    """Load the case's rules with the real engine and decide every attribute set."""
    import policy
    from policy.errors import PolicyError

    text = build(case.rules)
    try:
        compiled = policy.loads(text, file="rules.yaml")
    except PolicyError as exc:
        return {
            "outcome": "error",
            "diagnostics": [
                {**d.to_dict(), "rendered": d.render()} for d in exc.diagnostics if d.is_error
            ],
        }
    decisions = []
    for attrs in attribute_sets(case):
        runs = []
        best = float("inf")
        for _ in range(RUNS):
            # CPU time of this thread, not wall-clock time: a busy machine does not change it
            start = time.thread_time()
            d = compiled.decide(attrs, kind=case.kind)
            best = min(best, (time.thread_time() - start) * 1000)
            runs.append(d)
        explained = compiled.explain(attrs, kind=case.kind)
        first = runs[0]
        decisions.append(
            {
                "rule": first.rule,
                "explain_rule": explained.rule,
                "same_every_time": all(
                    r.rule == first.rule and r.outcome == first.outcome for r in runs
                ),
                "best_cpu_ms": best,
                "instructions": first.outcome.instructions,
                "greeting": first.outcome.greeting,
                "errors": [str(e) for e in first.errors],
            }
        )
    return {"outcome": "loaded", "decisions": decisions}


@dataclass
class Bounded:
    """What a child run under `run_bounded` did."""

    returncode: int
    stdout: str
    stderr: str
    cpu_limit_s: int
    hung: bool = False

    @property
    def out_of_cpu(self) -> bool:
        """Killed by the kernel for using up its CPU budget (SIGXCPU at the soft limit; a
        process that does not handle SIGXCPU, as Python does not, dies of it)."""
        return self.returncode == -signal.SIGXCPU

    def why(self) -> str:
        if self.hung:
            return "no exit within the wall-clock safety net (blocked without using CPU?)"
        if self.out_of_cpu:
            return f"killed after {self.cpu_limit_s} s of CPU time (RLIMIT_CPU)"
        last = self.stderr.strip().splitlines()[-1:]
        if last:
            return last[0]
        return f"signal {-self.returncode}" if self.returncode < 0 else f"exit {self.returncode}"


def rlimits(cpu_s: int, memory_bytes: int | None = None) -> Callable[[], None]:
    """A `preexec_fn` that caps the child's CPU time (and, optionally, address space)."""

    def apply() -> None:  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 2))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would dump core
        if memory_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return apply


def run_bounded(
    args: Sequence[str],
    *,
    cpu_s: int,
    memory_bytes: int | None = None,
    hang_s: float = HANG_S,
    env: dict[str, str] | None = None,
) -> Bounded:
    """Run a child with a CPU-time budget (RLIMIT_CPU: the kernel counts only the CPU the
    child itself uses, so a busy machine slows it down without changing the verdict) and a
    wall-clock safety net `hang_s` that only a blocked child reaches."""
    try:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=hang_s,
            preexec_fn=rlimits(cpu_s, memory_bytes),
            env=env,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed the child
        return Bounded(-signal.SIGKILL, _text(exc.stdout), _text(exc.stderr), cpu_s, hung=True)
    return Bounded(proc.returncode, proc.stdout, proc.stderr, cpu_s)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def run_isolated(case: Case) -> dict[str, Any]:
    proc = run_bounded([sys.executable, str(Path(__file__)), case.id], cpu_s=ISOLATED_CPU_S)
    if proc.returncode != 0:
        return {
            "outcome": "crash",
            "returncode": proc.returncode,
            "why": proc.why(),
            "stderr": proc.stderr[-2000:],
        }
    return json.loads(proc.stdout)


def problems(case: Case, result: dict[str, Any]) -> list[str]:
    """What is wrong with `result` for `case`; empty when the case holds."""
    expect = case.expect
    out: list[str] = []
    if "error" in expect:
        if result.get("outcome") != "error":
            return [f"expected load error {expect['error']}, got {result.get('outcome')}"]
        diags = result["diagnostics"]
        hits = [
            d
            for d in diags
            if d["code"] == expect["error"]
            and d["line"] == expect["line"]
            and ("column" not in expect or d["column"] == expect["column"])
        ]
        if not hits:
            shown = [(d["code"], d["line"], d["column"], d["message"]) for d in diags]
            return [f"expected {expect['error']} at line {expect['line']}, got {shown}"]
        text = "\n".join(h["rendered"] for h in hits)
        for part in _as_list(expect.get("says")):
            if part not in text:
                out.append(f"diagnostic does not say {part!r}:\n{text}")
        return out
    if result.get("outcome") != "loaded":
        return [f"expected the rules to load, got {result}"]
    decisions = result["decisions"]
    wanted = expect.get("rules", [expect.get("rule")] * len(decisions))
    within = expect.get("within_ms", DEFAULT_WITHIN_MS)
    for i, (d, rule) in enumerate(zip(decisions, wanted, strict=True)):
        where = f"attribute set {i}"
        if d["rule"] != rule:
            out.append(f"{where}: decided {d['rule']!r}, expected {rule!r}")
        if d["explain_rule"] != d["rule"]:
            out.append(f"{where}: explain chose {d['explain_rule']!r}, decide {d['rule']!r}")
        if not d["same_every_time"]:
            out.append(f"{where}: decisions differ between runs")
        if d["best_cpu_ms"] > within:
            out.append(
                f"{where}: best of {RUNS} used {d['best_cpu_ms']:.1f} ms of CPU > {within} ms"
            )
        for key in ("instructions", "greeting"):
            text = d[key] or ""
            for part in _as_list(expect.get(f"{key}_contains")):
                if part not in text:
                    out.append(f"{where}: {key} {text!r} lacks {part!r}")
            for part in _as_list(expect.get(f"{key}_lacks")):
                if part in text:
                    out.append(f"{where}: {key} {text!r} contains {part!r}")
            if f"{key}_max_len" in expect and len(text) > expect[f"{key}_max_len"]:
                out.append(f"{where}: {key} is {len(text)} characters long")
        if "errors_contain" in expect:
            if not any(expect["errors_contain"] in e for e in d["errors"]):
                out.append(f"{where}: errors {d['errors']} lack {expect['errors_contain']!r}")
        elif not expect.get("errors_allowed") and d["errors"]:
            out.append(f"{where}: unexpected errors {d['errors']}")
        for part in _as_list(expect.get("errors_lack")):
            if any(part in e for e in d["errors"]):
                out.append(f"{where}: errors {d['errors']} show {part!r}")
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))
    print(json.dumps(run_engine(case_by_id(sys.argv[1]))))
