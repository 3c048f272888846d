"""One compiled policy per worker: job processes forked from a forkserver that imported
`policy.shared` (as livekit-agents' `preload_modules` makes it) use the policy compiled
there, and load their own when the rules changed since."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, multiprocessing as mp, sys, time
from pathlib import Path

def job(rules, out):
    import gc
    from policy import shared
    p = shared.load_inherited(Path(rules))
    out.put({"inherited": p is shared.inherited(), "rule": p.decide({"x-n": "1"}).rule,
             "frozen": gc.get_freeze_count() > 0})

if __name__ == "__main__":
    rules = sys.argv[1]
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["policy.shared"])
    out = ctx.Queue()
    results = []
    for edit in (False, True):
        if edit:  # the rules change after the forkserver compiled them
            time.sleep(0.01)
            Path(rules).write_text(Path(rules).read_text().replace("first", "second"))
        p = ctx.Process(target=job, args=(rules, out))
        p.start()
        results.append(out.get(timeout=60))
        p.join()
    print(json.dumps(results))
"""

RULES = """version: 1
attributes:
  x-n: {description: a number}
rules:
  - name: first
    when: {x-n: "1"}
    set: {instructions: hello}
"""


def test_job_processes_use_the_policy_compiled_in_the_forkserver(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ, "SIP_POLICY_PRELOAD": str(rules)}
    env.pop("SIP_POLICY_SNAPSHOT_DIR", None)
    out = subprocess.run(
        [sys.executable, str(script), str(rules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == {"inherited": True, "rule": "first", "frozen": True}
    assert after["inherited"] is False  # changed rules: loaded afresh, never the stale copy
    assert after["rule"] == "second"


def test_without_a_preload_request_importing_compiles_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SIP_POLICY_PRELOAD"}
    code = "from policy import shared; print(shared.inherited() is None)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "True"


def test_a_broken_rules_file_is_not_handed_down(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules: [{name: a, when: {nope: {bad-op: 1}}}]\n")
    env = {**os.environ, "SIP_POLICY_PRELOAD": str(rules)}
    env.pop("SIP_POLICY_SNAPSHOT_DIR", None)
    code = "from policy import shared; print(shared.inherited() is None)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "True"


FOLLOW = """
import json, multiprocessing as mp, sys

def job(snapshots, out):
    from policy import shared
    from policy.watch import PolicyHolder
    holder = PolicyHolder.follow(snapshots, loader=shared.load_inherited)
    out.put({"inherited": holder.current is shared.inherited(), "revision": holder.revision})

if __name__ == "__main__":
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["policy.shared"])
    out = ctx.Queue()
    p = ctx.Process(target=job, args=(sys.argv[1], out))
    p.start()
    print(json.dumps(out.get(timeout=60)))
    p.join()
"""


def test_job_processes_following_the_gatekeepers_snapshot_inherit_it(tmp_path: Path) -> None:
    """With a gatekeeper (as the worker runs one), the forkserver compiles the snapshot job
    processes follow, not the rules file they were copied from."""
    import policy
    from policy.watch import publish_snapshot

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    snapshots = tmp_path / "snapshots"
    compiled = policy.load(rules)
    publish_snapshot(compiled, snapshots)
    revision = compiled.revision
    script = tmp_path / "follow.py"
    script.write_text(FOLLOW, encoding="utf-8")
    env = {
        **os.environ,
        "SIP_POLICY_PRELOAD": str(rules),
        "SIP_POLICY_SNAPSHOT_DIR": str(snapshots),
    }
    out = subprocess.run(
        [sys.executable, str(script), str(snapshots)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "inherited": True,
        "revision": revision,
    }
