"""The outcome fields that control the call rather than the agent: `reject`, `transfer`,
`transfer_to`, `max_duration`, and the per-call `session` options; checked once at load
into the runtime's plain values."""

from __future__ import annotations

import re
from typing import Any

from ..errors import Code
from ..model import MaxDuration as MaxDurationModel
from ..model import OutcomeFields
from ..parse.document import Path_
from ..runtime.decision import MaxDuration, Reject, Transfer
from .catalogue import check_session
from .state import Compiler

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SIP_URI = re.compile(r"^sips?:[^\s@:;]+@[A-Za-z0-9.\-\[\]]+(:[0-9]{1,5})?(;[^\s]*)?$")
DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")
#: A day: no call policy needs a longer limit, and a typo of `15h` for `15m` is caught.
MAX_SECONDS = 24 * 3600
PLACEHOLDER_START = "{{"


def check_target(c: Compiler, value: str, path: Path_) -> bool:
    """A transfer destination LiveKit accepts: an E.164 number or a `sip:` URI."""
    if E164.match(value) or SIP_URI.match(value):
        return True
    compact = re.sub(r"[\s().\-]", "", value)
    hint = f'write it as "{compact}"' if E164.match(compact) else None
    c.error(
        Code.BAD_TRANSFER_TARGET,
        f"`{value}` is not a number in E.164 form or a `sip:` address",
        path,
        help=hint or 'e.g. "+15105550199" or "sip:desk@pbx.example.com"',
    )
    return False


def _say(c: Compiler, text: str | None, path: Path_) -> str | None:
    if text is not None and PLACEHOLDER_START in text:
        c.error(
            Code.INVALID_VALUE,
            "`say` is spoken as written: placeholders are not filled here",
            path,
            help="write the words in full, without `{{ }}`",
        )
    return text or None


def seconds(c: Compiler, value: int | str, path: Path_) -> float | None:
    """`max_duration` in seconds: a whole number, or text such as "90s", "15m", "1h30m"."""
    total: int | None = None
    if isinstance(value, int):
        total = value
    else:
        m = DURATION.match(value)
        if m and any(m.groups()):
            h, mins, s = (int(g) if g else 0 for g in m.groups())
            total = h * 3600 + mins * 60 + s
    if total is None or not 0 < total <= MAX_SECONDS:
        c.error(
            Code.INVALID_VALUE,
            f"`max_duration` must be a time from 1 second to 24 hours, not `{value}`",
            path,
            help='e.g. max_duration: "15m", "90s", "1h30m", or 600 (seconds)',
        )
        return None
    return float(total)


def check_control(c: Compiler, fields: OutcomeFields, path: Path_, out: dict[str, Any]) -> None:
    """Add the checked call-control fields and `session` of one outcome block to `out`."""
    if fields.reject is not None and fields.transfer is not None:
        c.error(
            Code.CONFLICTING_KEYS,
            "give either `reject` or `transfer`, not both",
            (*path, "transfer"),
            key=True,
            help="a call is either refused or transferred",
        )
    if tuple(path) == ("defaults",):
        _refuse_action_in_defaults(c, fields, path)
    else:
        if fields.reject is not None:
            out["reject"] = Reject(_say(c, fields.reject.say, (*path, "reject", "say")))
        if fields.transfer is not None:
            t = fields.transfer
            if check_target(c, t.to, (*path, "transfer", "to")):
                out["transfer"] = Transfer(t.to, _say(c, t.say, (*path, "transfer", "say")))
    if fields.transfer_to is not None and check_target(
        c, fields.transfer_to, (*path, "transfer_to")
    ):
        out["transfer_to"] = fields.transfer_to
    limit = fields.max_duration
    if limit is not None:
        if isinstance(limit, MaxDurationModel):
            secs = seconds(c, limit.after, (*path, "max_duration", "after"))
            say = _say(c, limit.say, (*path, "max_duration", "say"))
        else:
            secs, say = seconds(c, limit, (*path, "max_duration")), None
        if secs is not None:
            out["max_duration"] = MaxDuration(secs, say)
    if fields.session is not None:
        out["session"] = check_session(c, fields.session, (*path, "session"))


def _refuse_action_in_defaults(c: Compiler, fields: OutcomeFields, path: Path_) -> None:
    """`reject` or `transfer` in `defaults` would reach every rule (layers inherit it, and
    nothing unsets it): refused, with the way to say what was meant."""
    for key in ("reject", "transfer"):
        if getattr(fields, key) is not None:
            c.error(
                Code.INVALID_VALUE,
                f"`{key}` cannot be a default: every rule would inherit it, so every caller "
                f"would be {'refused' if key == 'reject' else 'transferred'}",
                (*path, key),
                key=True,
                help=f"to {key} the callers no rule catches, add a last rule that catches "
                f"every caller on purpose (`when: {{kind: sip}}`) and sets `{key}`",
            )


def merge_session(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A later layer's `session` over an earlier one: option by option, and inside a group
    (`endpointing`, `interruption`...) key by key, as livekit-agents merges them."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
