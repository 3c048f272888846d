"""The catalogue of attribute keys LiveKit sets on participants, for typo hints and masking.

Facts from ../shared/reference/sip-attributes.md (livekit/protocol `livekit/attrs.go`,
livekit/sip). Custom names stay allowed everywhere; this list only powers "did you mean".
"""

from __future__ import annotations

import difflib

KNOWN_KEYS: frozenset[str] = frozenset(
    {
        "sip.callID",
        "sip.callIDFull",
        "sip.callTag",
        "sip.callStatus",
        "sip.phoneNumber",
        "sip.trunkPhoneNumber",
        "sip.hostname",
        "sip.trunkID",
        "sip.ruleID",
        "sip.twilio.accountSid",
        "sip.twilio.callSid",
        "sip.telnyx.callLegID",
        "sip.telnyx.callSessionID",
        "sip.amazon.contactId",
        "sip.amazon.initialContactId",
        "sip.amazon.sourceAccount",
        "sip.amazon.sourceArn",
        "sip.amazon.targetArn",
    }
)

#: Keys people write that LiveKit never shipped, with what they meant.
NEVER_SHIPPED: dict[str, str] = {
    "sip.fromNumber": "sip.phoneNumber",
    "sip.from": "sip.phoneNumber",
    "sip.callerNumber": "sip.phoneNumber",
    "sip.toNumber": "sip.trunkPhoneNumber",
    "sip.to": "sip.trunkPhoneNumber",
    "sip.calledNumber": "sip.trunkPhoneNumber",
}

#: Keys whose values are identifiers of LiveKit's own, safe to print in logs unmasked.
SAFE_TO_LOG: frozenset[str] = frozenset(
    {"sip.callID", "sip.callStatus", "sip.trunkID", "sip.ruleID", "sip.hostname"}
)

#: Participant kinds by name (livekit.rtc.ParticipantKind). Compare names, never integers:
#: the server protobuf numbers CONNECTOR and BRIDGE differently from the Python SDK.
KINDS: tuple[str, ...] = ("standard", "ingress", "egress", "sip", "agent", "connector", "bridge")

_LOWER = {k.lower(): k for k in KNOWN_KEYS}


def suggest(name: str) -> str | None:
    """The known key `name` most likely meant, or None when it looks like a custom name."""
    if name in KNOWN_KEYS:
        return None
    if name in NEVER_SHIPPED:
        return NEVER_SHIPPED[name]
    if name.startswith("lk.sip."):
        return suggest("sip." + name[len("lk.sip.") :]) or "sip." + name[len("lk.sip.") :]
    if name.lower() in _LOWER:
        return _LOWER[name.lower()]
    if name.startswith("sip.h."):
        return name.lower() if name != name.lower() else None
    if not name.startswith("sip."):
        return None
    close = difflib.get_close_matches(name, KNOWN_KEYS, n=1, cutoff=0.85)
    return close[0] if close else None
