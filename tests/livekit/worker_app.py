"""The job-process side of the AgentServer test (imported by name in each job process, as
livekit-agents imports a worker's entrypoint): the sample's set-up, and an entrypoint that
records which policy its process serves. Paths come from the environment the job processes
inherit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from livekit.agents import JobContext, JobProcess

from policy.livekit import job_policy, process_policy
from policy.livekit.tools import registry

ENV_RULES = "SIP_POLICY_TEST_RULES"
ENV_OUT = "SIP_POLICY_TEST_OUT"


def prewarm(proc: JobProcess) -> None:
    process_policy(proc, os.environ[ENV_RULES], registry)


async def entrypoint(ctx: JobContext) -> None:
    holder = await job_policy(ctx, os.environ[ENV_RULES], registry)
    decision = holder.decide({"tenant": "acme"}, "sip")
    record = {
        "pid": os.getpid(),
        "revision": holder.revision,
        "rule": decision.rule,
        "instructions": decision.outcome.instructions,
    }
    out = Path(os.environ[ENV_OUT]) / f"{ctx.job.room.name}.json"  # a fake job's room is a mock
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.rename(out)
    ctx.shutdown(reason="recorded")
