"""A LiveKit voice agent whose STT, LLM, TTS, instructions, tools and greeting come from
`rules.yaml`, decided per caller.

    python -m livekit.agents start agent_entry.py     # the launcher livekit-agents 1.8 recommends
    lk agent ...                                      # the LiveKit CLI drives the same
    python agent_entry.py dev                         # deprecated, still works: start, console
    SIP_POLICY_RULES=/etc/acme/rules.yaml python -m livekit.agents start agent_entry.py

Whatever starts it, `PolicyServer.run` checks the rules first: errors or unregistered tools
stop the worker with every diagnostic and a non-zero exit. LiveKit credentials the usual way:
LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET. The logic lives in policy/livekit/; the
tools in policy/livekit/tools.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from livekit.agents import AgentSession, JobContext, JobProcess, cli

from policy import shared
from policy.livekit import PolicyCall, PolicyServer, job_policy, process_policy
from policy.livekit.tools import registry

RULES = Path(os.environ.get("SIP_POLICY_RULES") or Path(__file__).with_name("rules.yaml"))


def prewarm(proc: JobProcess) -> None:
    """Load the rules before the first call reaches this process. A module-level function:
    livekit-agents pickles `setup_fnc` for its job processes (a lambda cannot be)."""
    process_policy(proc, RULES, registry)


# the forkserver compiles the rules once; every job process inherits them (policy/shared.py)
server = PolicyServer(
    RULES, registry, setup_fnc=prewarm, preload_modules=shared.preload_modules(RULES)
)


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    holder = await job_policy(ctx, RULES, registry)  # the newest valid rules
    call = await PolicyCall.join(ctx, holder, registry)  # wait for the caller, decide, log
    if call is None:
        return  # nobody came, or they left before the decision: the job has ended
    session: AgentSession = AgentSession(**call.session_kwargs())  # decided STT, LLM, TTS
    await call.start(session)  # instructions, tools, greeting; re-decides on attribute changes


if __name__ == "__main__":
    cli.run_app(server)  # deprecated launcher; the rules are checked in `server.run` all the same
