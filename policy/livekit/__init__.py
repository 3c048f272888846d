"""The adapter between a `Policy` and livekit-agents 1.8: the one module of `policy` (with
the sample tools) that imports livekit.

    server = PolicyServer(RULES, registry, setup_fnc=prewarm) # checks the rules in `run()`
    holder = await job_policy(ctx, RULES, registry)           # per process, follows reloads
    call = await PolicyCall.join(ctx, holder, registry)       # waits for the caller, decides
    if call is None: return                                   # nobody came, or they left
    session = AgentSession(**call.session_kwargs())           # STT, LLM, TTS of the decision
    await call.start(session)                                 # agent, greeting, live updates

What a call can change after it started, when the caller's attributes change (livekit-agents
1.8, `Agent.update_instructions`, `Agent.update_tools`, `Agent.update_options`):

- instructions and tools: replaced on the running agent; the next reply uses them;
- STT: swapped on the running agent (a new recognition stream starts; words in flight may be
  lost); LLM and TTS: swapped for the next reply; at most one model swap every
  `MODEL_SWAP_INTERVAL` seconds;
- all of these at once or none: when one cannot be applied (an unregistered tool, a swap to
  or from a realtime LLM) the old set-up stays whole and `policy.update_refused` says why;
  a model field the new decision leaves empty is kept (logged as `not_applied`);
- greeting: said once (to an outbound callee when they answer); metadata: in the decision only.
"""

from __future__ import annotations

from .call import (
    CALLER_KINDS,
    CALLER_TIMEOUT,
    COALESCE,
    LIVE_FIELDS,
    MODEL_SWAP_INTERVAL,
    PolicyCall,
    UpdateRefused,
    caller_attributes,
    caller_kinds,
    current_call,
    participant_facts,
    participant_kind,
    resolve_tools,
    wait_for_caller,
)
from .worker import PolicyServer, job_policy, load_checked, process_policy, start_gatekeeper

__all__ = [
    "CALLER_KINDS",
    "CALLER_TIMEOUT",
    "COALESCE",
    "LIVE_FIELDS",
    "MODEL_SWAP_INTERVAL",
    "PolicyCall",
    "PolicyServer",
    "UpdateRefused",
    "caller_attributes",
    "caller_kinds",
    "current_call",
    "job_policy",
    "load_checked",
    "participant_facts",
    "participant_kind",
    "process_policy",
    "resolve_tools",
    "start_gatekeeper",
    "wait_for_caller",
]
