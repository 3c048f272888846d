"""`make bench`: the policy's share of what a job sets up, against livekit-agents' own part.

Per job process (once): `process_policy` (follow the snapshot, warm the phone data).
Per call: `job_policy` (look for a newer snapshot) and `PolicyCall` (decide, log, resolve
tools), against the rest a call's set-up takes in the worker: `AgentSession` and `Agent`
built and the session started (text only: no room audio, no network).
Medians of `--repeat` calls, in milliseconds of wall time on this machine.

Usage: python benchmarks/setup_bench.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "livekit"))
os.environ.setdefault("LIVEKIT_API_KEY", "devkey")
os.environ.setdefault("LIVEKIT_API_SECRET", "devsecret-devsecret-devsecret-00")

from livekit import rtc  # noqa: E402
from livekit.agents import AgentSession, JobExecutorType, JobProcess  # noqa: E402
from livekit.agents.testing import fake_job_context  # noqa: E402
from lk_harness import ScriptedLLM, TextOnlyAgent, join  # noqa: E402

from policy.livekit import PolicyCall, job_policy, process_policy, start_gatekeeper  # noqa: E402
from policy.livekit.tools import registry  # noqa: E402
from policy.watch import ENV_SNAPSHOT_DIR  # noqa: E402

CALLER = json.loads((ROOT / "tests/livekit/fixtures/twilio-inbound-active.json").read_text())


async def one_call(rules: Path, proc: JobProcess) -> tuple[float, float]:
    room = rtc.Room()
    join(room, CALLER)
    with fake_job_context(room=room) as ctx:
        ctx._proc = proc
        began = time.perf_counter()
        holder = await job_policy(ctx, rules, registry)
        call = PolicyCall(holder, registry, room.remote_participants[CALLER["identity"]], room=room)
        policy_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        session: AgentSession[Any] = AgentSession(
            **{**call.session_kwargs(), "llm": ScriptedLLM(lambda c, t: "OK.")},
            vad=None,
            turn_handling={"turn_detection": None},
            session_close_transcript_timeout=0.1,
        )
        await call.start(session, call.build_agent(TextOnlyAgent), link_room=False, greet=False)
        rest_ms = (time.perf_counter() - began) * 1000
        await session.aclose()
        call.close()
    return policy_ms, rest_ms


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    rules = ROOT / "rules.yaml"
    os.environ[ENV_SNAPSHOT_DIR] = tempfile.mkdtemp(prefix="sip-policy-bench-")
    gate = start_gatekeeper(rules, registry, interval=3600)
    proc = JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None, http_proxy=None)
    began = time.perf_counter()
    process_policy(proc, rules, registry)
    prewarm_ms = (time.perf_counter() - began) * 1000
    await one_call(rules, proc)  # warm-up
    samples = [await one_call(rules, proc) for _ in range(args.repeat)]
    gate.stop()
    policy_ms = statistics.median(s[0] for s in samples)
    rest_ms = statistics.median(s[1] for s in samples)
    print(f"per job process, once: process_policy            {prewarm_ms:8.2f} ms")
    print(f"per call: job_policy + PolicyCall (the policy)    {policy_ms:8.2f} ms")
    print(f"per call: AgentSession + Agent built and started   {rest_ms:8.2f} ms")
    print(
        f"the policy's share of a call's set-up             {policy_ms / (policy_ms + rest_ms):8.1%}"
    )


if __name__ == "__main__":
    asyncio.run(main())
