"""The worker as a deployment runs it: livekit-agents' own `AgentServer` (our `PolicyServer`)
with real forkserver job processes, jobs driven without a LiveKit server; and the launchers
livekit-agents offers, as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import worker_app
from lk_harness import HERE

from policy.livekit import PolicyServer
from policy.livekit.tools import registry
from policy.watch import ENV_SNAPSHOT_DIR

ROOT = HERE.parent.parent
#: A hang guard, never a timing: how long to wait for a job process before failing.
HANG = 120


async def recorded(out: Path, room: str) -> dict[str, Any]:
    path = out / f"{room}.json"
    for _ in range(HANG * 20):
        if path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"the job for {room} never ran")


async def test_every_job_process_serves_the_last_good_policy(
    rules_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "jobs"
    out.mkdir()
    monkeypatch.setenv(worker_app.ENV_RULES, str(rules_copy))
    monkeypatch.setenv(worker_app.ENV_OUT, str(out))
    monkeypatch.setenv(ENV_SNAPSHOT_DIR, str(tmp_path / "snapshots"))
    monkeypatch.syspath_prepend(str(HERE))  # job processes import `worker_app` by name
    server = PolicyServer(
        rules_copy,
        registry,
        setup_fnc=worker_app.prewarm,
        num_idle_processes=1,
        poll_interval=3600,  # the test polls the gatekeeper itself
        settle=0,
        port=0,
    )
    server.rtc_session()(worker_app.entrypoint)
    started = asyncio.Event()
    server.on("worker_started", lambda: started.set())
    run = asyncio.create_task(server.run(devmode=True, unregistered=True))
    try:
        await asyncio.wait_for(started.wait(), HANG)
        # the main process masks livekit's own lines too (its job requests name the room)
        caplog.set_level(logging.INFO)
        logging.getLogger("livekit.agents").info(
            "received job request", extra={"room_name": "call-+14155550123"}
        )
        assert "14155550123" not in caplog.text + str([r.__dict__ for r in caplog.records])
        gate = server.gatekeeper
        assert gate is not None
        good = gate.revision
        text = rules_copy.read_text()

        # a broken edit: a tool nothing registered
        rules_copy.write_text(text.replace("tools: [end_call]", "tools: [end_call, refund]"))
        assert gate.poll() is False
        await server.simulate_job("room-a", fake_job=True)  # the process forked before
        await server.simulate_job("room-b", fake_job=True)  # a process forked after the edit
        a, b = await recorded(out, "room-a"), await recorded(out, "room-b")
        assert a["revision"] == b["revision"] == good
        assert a["pid"] != b["pid"] != os.getpid()

        # a good edit reaches the next call
        rules_copy.write_text(text.replace("Acme priority support", "Acme gold support"))
        assert gate.poll() is True
        await server.simulate_job("room-c", fake_job=True)
        c = await recorded(out, "room-c")
        assert c["revision"] == gate.revision != good
        assert c["rule"] == "acme-line"
    finally:
        await server.aclose()
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


BAD = "defaults:\n  llm: openai/gpt-4.1-mini\n  tools: [end_call, refund_order]\n"


def launch(*argv: str, rules: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SIP_POLICY_RULES": str(rules), "PYTHONUNBUFFERED": "1"}
    env.pop(ENV_SNAPSHOT_DIR, None)
    args = ["--url", "ws://127.0.0.1:9", "--api-key", "devkey", "--api-secret", "x" * 32]
    return subprocess.Popen(
        [sys.executable, *argv, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


LAUNCHERS = [
    pytest.param(["-m", "livekit.agents", "start", "agent_entry.py"], id="python-m-livekit-agents"),
    pytest.param(["agent_entry.py", "start"], id="deprecated-run-app"),
]


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_rules_with_errors_stop_the_worker_whatever_launches_it(
    tmp_path: Path, launcher: list[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BAD)
    proc = launch(*launcher, rules=rules)
    stdout, stderr = proc.communicate(timeout=HANG)
    assert proc.returncode == 1
    assert "sip-policy: cannot start, the rules have errors" in stderr
    assert "error[unknown-tool]" in stderr and "`refund_order`" in stderr
    assert "never retrieved" not in stdout + stderr


def test_good_rules_start_the_gatekeeper_under_the_recommended_launcher(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text((HERE / "rules.yaml").read_text())
    (tmp_path / "support.md").write_text((HERE / "support.md").read_text())
    proc = launch("-m", "livekit.agents", "start", "agent_entry.py", rules=rules)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # livekit's JSON log lines
            if '"policy.gatekeeper_started"' in line:
                event = json.loads(line)
                assert event["file"] == str(rules)
                break
        else:
            raise AssertionError(proc.stderr.read() if proc.stderr else "no output")
    finally:
        proc.terminate()
        proc.wait(timeout=HANG)
