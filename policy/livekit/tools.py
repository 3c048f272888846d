"""The sample tools the sample rules name: end the call, transfer to a human, look up an order.

Real livekit-agents `@function_tool`s, registered under the names `rules.yaml` uses. Point
`sip-policy check --tools policy.livekit.tools` at this module, or copy it as the start of
your own. `transfer_to_human` sends the caller where the decision says: the rules'
`transfer_to:` (an E.164 number or a `sip:` address, checked at load).
"""

from __future__ import annotations

import asyncio
from typing import Any

from livekit.agents import AgentSession, RunContext, function_tool, get_job_context, llm
from livekit.agents.voice import SpeechHandle
from livekit.agents.voice.events import SpeechCreatedEvent

from ..logs import get_logger
from ..tools import ToolRegistry
from .actions import transfer
from .call import current_call, participant_kind

registry = ToolRegistry()
_log = get_logger()


@registry.register("end_call")
@function_tool
async def end_call(context: RunContext) -> str:
    """End the call. Use it only when the caller clearly says they are done (for example
    "that's all, bye"); never to pause, hold or transfer."""
    session = context.session

    def on_close(_: Any) -> None:
        # deleting the room hangs up the phone line; then the job ends
        job = get_job_context(required=False)
        if job is not None:
            job.add_shutdown_callback(lambda: _delete_room(job))
            job.shutdown(reason="end_call")

    def on_turn_done(_: Any) -> None:
        if replies_in_a_new_speech(session):
            # a realtime model answers the tool in a speech of its own: say it, then close
            _pending.add(asyncio.ensure_future(shutdown_after_next_speech(session)))
        else:  # the goodbye is spoken in this same turn: close the session once it is done
            session.shutdown()

    context.speech_handle.add_done_callback(on_turn_done)
    session.once("close", on_close)
    call = current_call(session)
    _log.info("policy.tool.end_call", participant=call.identity if call else None)
    return "The call will end after your reply: say a short goodbye."


_pending: set[asyncio.Future[None]] = set()
#: How long to wait for a realtime model's goodbye to start before closing anyway.
GOODBYE_TIMEOUT = 5.0


def replies_in_a_new_speech(session: AgentSession[Any]) -> bool:
    """True when the model answers a tool in a new speech (a realtime model that generates
    its tool replies itself), as livekit-agents' own `EndCallTool` checks."""
    try:
        activity = session.current_agent._get_activity_or_raise()
    except Exception:
        return False
    rt = activity.realtime_llm_session
    return (
        isinstance(activity.llm, llm.RealtimeModel)
        and rt is not None
        and bool(rt.capabilities.auto_tool_reply_generation)
    )


async def shutdown_after_next_speech(
    session: AgentSession[Any], timeout: float = GOODBYE_TIMEOUT
) -> None:
    """Close `session` once the next speech (the goodbye) has been played out."""
    created: asyncio.Future[SpeechHandle] = asyncio.get_running_loop().create_future()

    def on_created(ev: SpeechCreatedEvent) -> None:
        if not created.done():
            created.set_result(ev.speech_handle)

    session.on("speech_created", on_created)
    try:
        handle = await asyncio.wait_for(created, timeout)
        await handle
    except TimeoutError:
        _log.warning("policy.tool.end_call_no_goodbye", waited=timeout)
    finally:
        session.off("speech_created", on_created)
        session.shutdown()


async def _delete_room(job: Any) -> None:
    try:
        await job.delete_room()
    except Exception as exc:  # the call is over either way
        _log.warning("policy.tool.end_call_failed", error=str(exc))


@registry.register("transfer_to_human")
@function_tool
async def transfer_to_human(context: RunContext, reason: str) -> str:
    """Transfer the caller to a human agent, when they ask for a person or you cannot help.

    Args:
        reason: One sentence on why the caller needs a human.
    """
    call = current_call(context.session)
    target = call.decision.outcome.transfer_to if call else None
    if call is None or not target:
        _log.warning("policy.tool.transfer_unavailable", reason=reason, has_target=bool(target))
        return "No human is available right now; apologise and offer to help further."
    if participant_kind(call.participant) != "sip":
        return "This caller is not on a phone line and cannot be transferred; offer other help."
    job = get_job_context(required=False)
    if job is None:
        return "The transfer is not possible right now; apologise and offer to help further."
    await context.wait_for_playout()
    try:
        await transfer(job, call.participant, target)
    except Exception as exc:  # offline, no trunk transfer permission, callee busy...
        _log.error(
            "policy.tool.transfer_failed",
            participant=call.identity,
            transfer_to=target,
            error=str(exc),
        )
        return "The transfer failed; apologise and offer to take a message."
    _log.info("policy.tool.transferred", participant=call.identity, transfer_to=target)
    return "The caller has been transferred."


#: Invented orders: the sample's stand-in for a real order system.
ORDERS: dict[str, dict[str, str]] = {
    "A1001": {"status": "shipped", "carrier": "UPS", "eta": "tomorrow"},
    "A1002": {"status": "processing", "carrier": "", "eta": "in 3 days"},
    "A1003": {"status": "delivered", "carrier": "FedEx", "eta": "delivered on Monday"},
}


@registry.register("lookup_order")
@function_tool
async def lookup_order(context: RunContext, order_id: str) -> str:
    """Look up the status of an order by its order number (letters and digits, like A1001).

    Args:
        order_id: The order number the caller gives.
    """
    key = "".join(ch for ch in order_id.upper() if ch.isalnum())
    order = ORDERS.get(key)
    if order is None:
        return f"No order {key} was found; ask the caller to check the number."
    carrier = f" with {order['carrier']}" if order["carrier"] else ""
    return f"Order {key} is {order['status']}{carrier}, expected {order['eta']}."


__all__ = ["ORDERS", "end_call", "lookup_order", "registry", "transfer_to_human"]
