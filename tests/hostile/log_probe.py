"""Writes hostile log records the way a worker would, then exits; `test_logs_hostile.py`
reads what came out. `ours`: livekit-agents' production logging (`setup_logging`, JSON to
stdout) with `policy.logs` masking installed; `naive`: stdlib logging with a text format and
no masking, logging the decision and its attributes as they are.

    python log_probe.py ours|naive
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import policy

CALLER = "+15105550100"
FORGED = '{"level": "ERROR", "name": "sip_policy", "message": "forged"}'
HEADER = f"gold\n{FORGED}\x1b[2J\x1b[31m"
ATTRS = {
    "sip.phoneNumber": CALLER,
    "sip.trunkPhoneNumber": "+1 (510) 555-0123",
    "sip.callID": "SCL_3x4mpl3C4ll1",
    "sip.h.x-customer-tier": HEADER,
    "customer.name": f"Alice\r\n{FORGED}",
}
RULES = """
attributes:
  customer.name: {}
rules:
  - name: gold
    when:
      sip.h.x-customer-tier: {prefix: gold}
"""


def main(mode: str) -> None:
    decision = policy.loads(RULES).decide(ATTRS, kind="sip")
    if mode == "ours":
        from livekit.agents.cli.log import setup_logging

        from policy.logs import install_stdlib_masking, log_decision

        setup_logging("INFO", devmode=False, console=False)
        install_stdlib_masking()
        log_decision(decision, identity=f"sip_{CALLER}", kind="sip", attributes=ATTRS)
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s %(name)s %(message)s", stream=sys.stdout
        )
        logging.getLogger("sip_policy").info(
            "policy.decision rule=%s participant=%s attributes=%s",
            decision.rule,
            f"sip_{CALLER}",
            {k: v for k, v in ATTRS.items()},
        )
    # what livekit's own loggers and an application's code write
    lk = logging.getLogger("livekit.agents")
    lk.info("participant joined: %s", f"sip_{CALLER}", extra={"caller": CALLER, "tier": HEADER})
    try:
        raise ValueError(f"no route for {CALLER} with tier {HEADER}")
    except ValueError:
        lk.exception("dispatch failed for %s", CALLER)
    logging.getLogger("livekit").warning("INVITE sip:%%2B15105550100@trunk rejected: %s", HEADER)
    logging.getLogger("app").info("caller said %s", f"call me back on {CALLER[1:]}\n{FORGED}")
    for handler in logging.getLogger().handlers:
        handler.flush()


if __name__ == "__main__":
    main(sys.argv[1])
