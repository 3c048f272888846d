"""A LiveKit voice agent whose STT, LLM, TTS, instructions, tools and greeting come from
`rules.yaml`, decided per caller.

    python agent_entry.py dev        # or: start, console, --help
    SIP_POLICY_RULES=/etc/acme/rules.yaml python agent_entry.py start

LiveKit credentials the usual way: LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET.
The logic lives in policy/livekit/__init__.py; the tools in policy/livekit/tools.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess, cli

from policy import shared
from policy.livekit import PolicyCall, job_policy, process_policy, start_gatekeeper
from policy.livekit.tools import registry

RULES = Path(os.environ.get("SIP_POLICY_RULES") or Path(__file__).with_name("rules.yaml"))


def prewarm(proc: JobProcess) -> None:
    process_policy(proc, RULES)  # load the rules before the first call reaches this process


# the forkserver compiles the rules once; every job process inherits them (policy/shared.py)
server = AgentServer(setup_fnc=prewarm, preload_modules=shared.preload_modules(RULES))


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    holder = await job_policy(ctx, RULES)  # the newest valid rules
    call = await PolicyCall.join(ctx, holder, registry)  # wait for the caller, decide, log
    session: AgentSession = AgentSession(**call.session_kwargs())  # decided STT, LLM, TTS
    await call.start(session)  # instructions, tools, greeting; re-decides on attribute changes


if __name__ == "__main__":
    if not {"-h", "--help"} & set(sys.argv[1:]) and len(sys.argv) > 1:
        # stop here, with every diagnostic, if the rules are invalid or name unknown tools;
        # then watch them and hand each valid edit to new calls
        start_gatekeeper(RULES, registry)
    cli.run_app(server)
