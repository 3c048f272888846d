"""Decision logs: one structlog event per decision, with caller data masked.

Events go through the standard library logger `sip_policy`, so they come out of whatever
handler the process has: with livekit-agents that is its JSON formatter (one JSON object per
line; the event's keys become top-level fields) or its coloured formatter in `dev`.

Masking is on by default: phone numbers keep their first four digits and last two
(`+1510******00`), every attribute value outside `SAFE_TO_LOG` is hidden, and free text
(stdlib records, tracebacks) has phone-like numbers masked. `SIP_POLICY_LOG_UNMASKED=1`
turns masking off for local debugging. Control characters are always escaped, so a caller's
value with a newline or an ANSI escape cannot forge a log line in any formatter.

One path masks every line: structlog events through `mask_processor`, every stdlib record
(livekit's included, with its traceback) through `MaskingFilter` on the handlers. Its cost is
linear in the text whatever the number of callers seen: caller values are remembered as a
set of word tokens and free text is masked token by token (one hash look-up each), never
with a pattern built from the values. Every line is bounded: long strings end in a
`…[+N chars]` marker, long mappings and lists in a `…` entry saying how many were left out.

This module imports nothing from livekit.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import structlog

from .attributes import SAFE_TO_LOG
from .runtime.decision import OUTCOME_FIELDS, Decision

LOGGER_NAME = "sip_policy"
ENV_UNMASKED = "SIP_POLICY_LOG_UNMASKED"

#: Keys (in events) whose values are participant attributes, masked key by key.
ATTRIBUTE_KEYS = frozenset({"attributes", "changed_attributes"})
#: Keys (in events) whose values are written by rule authors or LiveKit and are never masked.
CLEAR_KEYS = frozenset(
    {
        "rule",
        "previous_rule",
        "kept_rule",
        "revision",
        "previous_revision",
        "sources",
        "kind",
        "call_id",
        "changed",
        "applied",
        "not_applied",
        "elapsed_us",
        "variant",
        "would_match",
        "job_id",
        "tools",
        "file",
        "diagnostics",
        "files",
        "count",
        "kept_revision",
        "warnings",
    }
)

_TRUE = {"1", "true", "yes", "on"}
_masking: bool | None = None

# Seven or more digits, optionally led by `+`, with at most two separators between digits
# (`+1 (415) 555-0123`, and the `14155550176` inside `sip_14155550176`).
_PHONE = re.compile(r"(?<!\d)\+?\d(?:[ \-.()]{0,2}\d){6,}(?!\d)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_KEEP_NL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_STARS = "******"


def masking_enabled() -> bool:
    """True unless `SIP_POLICY_LOG_UNMASKED` is set (or `set_masking(False)` was called)."""
    if _masking is not None:
        return _masking
    return os.environ.get(ENV_UNMASKED, "").strip().lower() not in _TRUE


def set_masking(enabled: bool | None) -> None:
    """Force masking on or off in this process; `None` goes back to the environment."""
    global _masking
    _masking = enabled


# -- masking -------------------------------------------------------------------------------


def mask_phone(value: str) -> str:
    """`+15105550100` → `+1510******00`: country and area code stay, the subscriber part goes."""
    digits = re.sub(r"\D", "", value)
    plus = "+" if value.lstrip().startswith("+") else ""
    if len(digits) < 7:
        return _STARS
    return f"{plus}{digits[:4]}{_STARS}{digits[-2:]}"


#: Word tokens of caller values seen by this process (header-mapped and other attribute
#: values), masked wherever they reappear in free text: messages, extras, tracebacks.
#: A set, so masking costs one look-up per word of the text however many callers were seen.
#: Bounded, oldest out.
MAX_REMEMBERED = 65536
MIN_REMEMBERED = 4
_remembered: dict[str, None] = {}
_TOKEN = re.compile(r"[^\W_]+")
_WORD = re.compile(rf"[^\W_]{{{MIN_REMEMBERED},}}")


def remember(attributes: Mapping[str, Any]) -> None:
    """Remember a participant's attribute values (all but `SAFE_TO_LOG` keys) so that free
    text repeating them is masked too: every word of four characters or more. Called for
    every decision logged. Linear in the size of the values (the work is done in C)."""
    for key, value in attributes.items():
        if key in SAFE_TO_LOG or value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        _remembered.update(dict.fromkeys(_WORD.findall(text)))
    excess = len(_remembered) - MAX_REMEMBERED
    if excess > 0:  # oldest out: as many as came in, never the whole set
        for token in list(itertools.islice(_remembered, excess)):
            del _remembered[token]


def forget_all() -> None:
    """Drop every remembered value (tests; a long-lived process between tenants)."""
    _remembered.clear()


#: Words joined by `-`, `.`, `@`, `:`, `/`, `_` or `+` (`ACME-778812`, `jo@acme.com`):
#: masked whole when one of their words was remembered.
_RUN = re.compile(r"[^\W_]+(?:[-.@:/_+][^\W_]+)*")


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if run in _remembered or any(w in _remembered for w in _TOKEN.findall(run)):
        return _STARS
    return run


def mask_text(text: str) -> str:
    """Free text with every phone-like number and every remembered caller word masked."""
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return _RUN.sub(_mask_run, text) if _remembered else text


def mask_value(key: str, value: str) -> str:
    """One attribute value: clear for `SAFE_TO_LOG` keys, phone-masked when it looks like a
    number, otherwise hidden except for a hint of its start on long values."""
    if key in SAFE_TO_LOG:
        return value
    if _PHONE.fullmatch(value.strip()):
        return mask_phone(value)
    if len(value) >= 12:
        return value[:2] + _STARS
    return _STARS if value else value


class Clear(str):
    """An attribute value the rules declare `sensitive: false`: logged as it is."""

    __slots__ = ()


def mask_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Each value masked by its key; a value that is not text is masked as its text."""
    return {
        str(k): str(v) if isinstance(v, Clear) else mask_value(str(k), _as_text(v))
        for k, v in attributes.items()
    }


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def declared_privacy(
    attributes: Mapping[str, Any], declared: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Attributes as a decision log holds them: those the rules declare `sensitive: true`
    replaced by stars (whatever the masking setting), those declared `sensitive: false`
    marked `Clear` (logged as they are), the rest left for masking."""
    if not declared:
        return dict(attributes)
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        sensitive = getattr(declared.get(key), "sensitive", None)
        if sensitive is True:
            out[key] = _STARS
        elif sensitive is False and isinstance(value, str):
            out[key] = Clear(value)
        else:
            out[key] = value
    return out


def escape_control(text: str, *, keep_newlines: bool = False) -> str:
    """Newlines, carriage returns, ANSI escapes and other control characters as `\\n`, `\\x1b`."""
    pattern = _CONTROL_KEEP_NL if keep_newlines else _CONTROL
    return pattern.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def _mask_any(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_any(v) for v in value]
    return value


def _escape_any(value: Any) -> Any:
    if isinstance(value, str):
        return escape_control(value)
    if isinstance(value, Mapping):
        return {escape_control(str(k)): _escape_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escape_any(v) for v in value]
    return value


def clean_event(event: MutableMapping[str, Any], *, masked: bool | None = None) -> None:
    """Mask (unless turned off), escape and bound an event dict in place."""
    if masked is None:
        masked = masking_enabled()
    for key, value in list(event.items()):
        if masked and key not in CLEAR_KEYS and key != "event" and key != "exc_info":
            if key in ATTRIBUTE_KEYS and isinstance(value, Mapping):
                value = mask_attributes(value)
            else:
                value = _mask_any(value)
        limit = MAX_ATTRIBUTE if key in ATTRIBUTE_KEYS else MAX_TEXT
        event[key] = _bound(_escape_any(value), limit)


#: Bounds of one log line: each string (attribute keys and values are shorter), and the
#: entries of each mapping or list. A caller with 10,000 headers makes one short line.
MAX_TEXT = 4096
MAX_ATTRIBUTE = 256
MAX_ITEMS = 64
MAX_TRACEBACK = 16384
_MAX_DEPTH = 6


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """`text`, cut at `limit` characters with a marker saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


def _bound(value: Any, limit: int, depth: int = 0) -> Any:
    if isinstance(value, str):
        return truncate(value, limit)
    if depth >= _MAX_DEPTH and isinstance(value, (Mapping, list, tuple)):
        return truncate(str(value), limit)
    if isinstance(value, Mapping):
        out = {
            truncate(str(k), limit): _bound(v, limit, depth + 1)
            for k, v in itertools.islice(value.items(), MAX_ITEMS)
        }
        if len(value) > MAX_ITEMS:
            out["…"] = f"+{len(value) - MAX_ITEMS} more"
        return out
    if isinstance(value, (list, tuple)):
        items = [_bound(v, limit, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"…+{len(value) - MAX_ITEMS} more")
        return items
    return value


# -- structlog -----------------------------------------------------------------------------

_CLEAN_MARK = "_sip_policy_clean"
_DONE_MARK = "_sip_policy_done"


def mask_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: mask and escape, and mark the record as already cleaned."""
    clean_event(event_dict)
    event_dict[_CLEAN_MARK] = True
    return event_dict


def _to_stdlib(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    event = dict(event_dict)
    msg = event.pop("event", "")
    # stdlib refuses `extra` keys that shadow LogRecord attributes
    extra = {(f"{k}_" if k in _RESERVED else k): v for k, v in event.items()}
    return {"msg": msg, "extra": extra}


_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def get_logger(name: str = LOGGER_NAME) -> Any:
    """A structlog logger that writes through the stdlib logger `name`, masking first.

    It is configured locally (`structlog.wrap_logger`), so an application's own structlog
    configuration is left alone.
    """
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[structlog.contextvars.merge_contextvars, mask_processor, _to_stdlib],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


# -- stdlib records ------------------------------------------------------------------------


class MaskingFilter(logging.Filter):
    """Mask and escape every record a handler emits: message, extras, traceback, stack.

    Attach it to handlers (`install_stdlib_masking`), not loggers: handler filters see the
    records of every logger, including livekit's. The traceback is rendered here and
    `exc_info` dropped, so formatters print the masked text.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE_MARK, False):
            return True
        masked = masking_enabled()
        if not getattr(record, _CLEAN_MARK, False):  # structlog events are cleaned already
            self._clean_message(record, masked)
        self._clean_traceback(record, masked)
        setattr(record, _DONE_MARK, True)
        return True

    def _clean_message(self, record: logging.LogRecord, masked: bool) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = truncate(escape_control(mask_text(message) if masked else message))
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key in _RESERVED or key.startswith("_"):
                continue
            if masked:
                if key in ATTRIBUTE_KEYS and isinstance(value, Mapping):
                    value = mask_attributes(value)
                else:
                    value = _mask_any(value)
            limit = MAX_ATTRIBUTE if key in ATTRIBUTE_KEYS else MAX_TEXT
            record.__dict__[key] = _bound(_escape_any(value), limit)

    def _clean_traceback(self, record: logging.LogRecord, masked: bool) -> None:
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        for attr in ("exc_text", "stack_info"):
            text = getattr(record, attr)
            if text:
                text = escape_control(mask_text(text) if masked else text, keep_newlines=True)
                setattr(record, attr, truncate(text, MAX_TRACEBACK))


_FILTER = MaskingFilter()


def install_stdlib_masking(handlers: Iterable[logging.Handler] | None = None) -> int:
    """Attach the masking filter to `handlers` (default: the root logger's). Idempotent;
    returns how many handlers got it now. Call it after logging is set up (livekit sets it up
    in `cli.run_app` and in each job process)."""
    added = 0
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(_FILTER)
            added += 1
    return added


# -- decision events -----------------------------------------------------------------------


def decision_event(
    decision: Decision,
    *,
    identity: str,
    kind: str,
    attributes: Mapping[str, str] | None = None,
    call_id: str | None = None,
    declared: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The fields of a `policy.decision` event (before masking). `declared` is the policy's
    `attributes:` section, whose `sensitive` settings the log honours."""
    raw = dict(attributes or {})
    attrs = declared_privacy(raw, declared)
    remember({k: raw[k] for k, v in attrs.items() if not isinstance(v, Clear)})
    fields: dict[str, Any] = {
        "call_id": call_id if call_id is not None else raw.get("sip.callID"),
        "participant": identity,
        "kind": kind,
        "rule": decision.rule,
        "revision": decision.revision,
        "sources": dict(decision.outcome.sources),
        "elapsed_us": round(decision.elapsed_us, 1),
    }
    if decision.errors:
        fields["errors"] = list(decision.errors)
    if decision.variant is not None:
        fields["variant"] = decision.variant
    if decision.would_match:  # shadow rules: what they would have set, never applied
        fields["would_match"] = [
            {"rule": m.rule, "variant": m.variant, "sources": dict(m.outcome.sources)}
            for m in decision.would_match
        ]
    if attributes is not None:
        fields["attributes"] = attrs
    fields.update(extra)
    return fields


def changed_fields(old: Decision, new: Decision) -> list[str]:
    """The outcome fields whose values differ between two decisions, in outcome order."""
    a, b = old.outcome, new.outcome
    return [f for f in OUTCOME_FIELDS if getattr(a, f) != getattr(b, f)]


def log_decision(
    decision: Decision,
    *,
    identity: str,
    kind: str,
    attributes: Mapping[str, str] | None = None,
    call_id: str | None = None,
    logger: Any = None,
    **extra: Any,
) -> None:
    """Log one `policy.decision` event."""
    log = logger or get_logger()
    log.info(
        "policy.decision",
        **decision_event(
            decision,
            identity=identity,
            kind=kind,
            attributes=attributes,
            call_id=call_id,
            **extra,
        ),
    )


def log_change(
    old: Decision,
    new: Decision,
    *,
    identity: str,
    kind: str,
    attributes: Mapping[str, str] | None = None,
    call_id: str | None = None,
    declared: Mapping[str, Any] | None = None,
    logger: Any = None,
    **extra: Any,
) -> None:
    """Log one `policy.decision.changed` event: the new decision, what changed, from what."""
    log = logger or get_logger()
    fields = decision_event(
        new,
        identity=identity,
        kind=kind,
        attributes=attributes,
        call_id=call_id,
        declared=declared,
    )
    fields.update(
        previous_rule=old.rule,
        previous_revision=old.revision,
        changed=changed_fields(old, new),
    )
    fields.update(extra)
    log.info("policy.decision.changed", **fields)


__all__ = [
    "ENV_UNMASKED",
    "LOGGER_NAME",
    "MaskingFilter",
    "changed_fields",
    "clean_event",
    "decision_event",
    "escape_control",
    "forget_all",
    "get_logger",
    "install_stdlib_masking",
    "log_change",
    "log_decision",
    "mask_attributes",
    "mask_phone",
    "mask_text",
    "mask_value",
    "masking_enabled",
    "remember",
    "set_masking",
]
