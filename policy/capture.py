"""Recording decisions for replay (`sip-policy diff --calls FILE`): opt-in, off by default.

With `SIP_POLICY_CAPTURE=/var/log/agent/calls.jsonl` set, the worker appends one JSON object
per decision: the time, the participant kind, the attributes, the rule, the variant and the
policy revision. `{pid}` in the path is replaced by the process id (one file per job
process: no two processes rotate the same file).

Caller data is private. Unless `SIP_POLICY_CAPTURE_RAW=1`, values are pseudonymised so that
what routing reads survives:
- the caller's number (`sip.phoneNumber`, and attributes declared `phone: true`) keeps its
  country code and area (national destination) code; the other digits are replaced by
  digits of an HMAC-SHA256 of the number, chosen so the result is still a valid number of
  the same type when one can be found. Country, area, prefix, `valid` and `type` conditions
  decide the same; a rule on one exact number does not;
- attributes declared `sensitive: true` become `hmac:` and 16 hex digits: exact matches on
  them do not replay;
- everything else (trunk, rule ID, your headers...) is kept: declare an attribute
  `sensitive: true` to keep it out.
The HMAC key is `SIP_POLICY_CAPTURE_KEY`; without it each process draws a random key, so the
same caller gets different pseudonyms in different processes (and a split keyed on the number
replays as another variant). Files rotate by size: `SIP_POLICY_CAPTURE_MAX_BYTES` (default
50 MB) and `SIP_POLICY_CAPTURE_BACKUPS` older files (default 5) as FILE.1, FILE.2...

A capture never fails a call: a write that fails turns the capture off, once, with a warning.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import phonenumbers

from .runtime.decision import Decision
from .runtime.engine import Policy
from .runtime.phone import PHONE_ATTRIBUTES, is_withheld_word

ENV_PATH = "SIP_POLICY_CAPTURE"
ENV_RAW = "SIP_POLICY_CAPTURE_RAW"
ENV_KEY = "SIP_POLICY_CAPTURE_KEY"
ENV_MAX_BYTES = "SIP_POLICY_CAPTURE_MAX_BYTES"
ENV_BACKUPS = "SIP_POLICY_CAPTURE_BACKUPS"
#: our own numbers, not the caller's: kept as they are
_OURS = frozenset({"sip.trunkPhoneNumber"})


class CaptureError(Exception):
    """A capture file that cannot be read: `file:line: what`."""


class Pseudonymiser:
    """Caller numbers and sensitive values replaced by keyed pseudonyms (see the module)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._numbers: dict[tuple[str, str | None], str] = {}

    def _digest(self, text: str, counter: int = 0) -> bytes:
        return hmac.new(self._key, f"{counter}\0{text}".encode(), hashlib.sha256).digest()

    def token(self, value: str) -> str:
        return "hmac:" + self._digest(value).hex()[:16]

    def number(self, value: str, region: str | None) -> str:
        """The pseudonym of one number (cached: a caller calls again)."""
        key = (value, region)
        hit = self._numbers.get(key)
        if hit is None:
            if len(self._numbers) >= 10_000:
                self._numbers.clear()
            hit = self._numbers[key] = self._number(value, region)
        return hit

    def _number(self, value: str, region: str | None) -> str:
        if is_withheld_word(value):
            return value
        try:
            n = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return self.token(value)
        nsn = phonenumbers.national_significant_number(n)
        keep = phonenumbers.length_of_national_destination_code(n) or min(2, len(nsn))
        head, rest = f"+{n.country_code}{nsn[:keep]}", len(nsn) - keep
        if rest <= 0:
            return head
        valid = phonenumbers.is_valid_number(n)
        kind = phonenumbers.number_type(n)
        first = ""
        for counter in range(16 if valid else 1):  # an invalid number stays invalid anyway
            digits = str(int.from_bytes(self._digest(value, counter), "big"))[-rest:]
            candidate = head + digits.rjust(rest, "0")
            first = first or candidate
            if not valid:
                break
            try:
                c = phonenumbers.parse(candidate)
            except phonenumbers.NumberParseException:  # pragma: no cover
                continue
            if phonenumbers.is_valid_number(c) and phonenumbers.number_type(c) == kind:
                return candidate
        return first


def private_keys(policy: Policy | None) -> tuple[set[str], set[str]]:
    """(phone attributes holding the caller's numbers, attributes declared sensitive)."""
    declared = policy.declared if policy is not None else {}
    phones = {k for k in PHONE_ATTRIBUTES if k not in _OURS}
    phones |= {k for k, info in declared.items() if getattr(info, "phone", False)}
    sensitive = {k for k, info in declared.items() if getattr(info, "sensitive", None) is True}
    return phones - sensitive, sensitive


class CaptureWriter:
    """Appends decisions to a JSON-lines file, rotated by size; thread-safe."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = 50_000_000,
        backups: int = 5,
        raw: bool = False,
        key: bytes | None = None,
    ) -> None:
        self.path = Path(str(path).replace("{pid}", str(os.getpid())))
        self.max_bytes = max_bytes
        self.backups = backups
        self.raw = raw
        self._pseudo = Pseudonymiser(key or secrets.token_bytes(32))
        self._lock = threading.Lock()
        self._file: Any = None
        self.broken = False

    def record(
        self,
        policy: Policy | None,
        decision: Decision,
        attributes: Mapping[str, Any],
        kind: str,
        *,
        now: dt.datetime | None = None,
    ) -> None:
        """Append one decision's input. Never raises: a failure turns capture off."""
        if self.broken:
            return
        try:
            line = json.dumps(
                self.entry(policy, decision, attributes, kind, now), ensure_ascii=False
            )
            self._write(line + "\n")
        except Exception as exc:  # a capture never fails a call
            self.broken = True
            import warnings

            warnings.warn(f"decision capture turned off: {type(exc).__name__}: {exc}", stacklevel=2)

    def entry(
        self,
        policy: Policy | None,
        decision: Decision,
        attributes: Mapping[str, Any],
        kind: str,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        attrs = {str(k): v for k, v in attributes.items() if isinstance(v, str)}
        if not self.raw:
            phones, sensitive = private_keys(policy)
            region = getattr(getattr(policy, "settings", None), "default_region", None)
            for k, v in attrs.items():
                if k in sensitive:
                    attrs[k] = self._pseudo.token(v)
                elif k in phones and v:
                    attrs[k] = self._pseudo.number(v, region)
        return {
            "time": (now or dt.datetime.now(dt.UTC)).isoformat(),
            "kind": kind,
            "attributes": attrs,
            "rule": decision.rule,
            "variant": decision.variant,
            "revision": decision.revision,
            "pseudonymised": not self.raw,
        }

    def _write(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "ab", buffering=0)
            if self._file.tell() + len(data) > self.max_bytes and self._file.tell() > 0:
                self._rotate()
            self._file.write(data)

    def _rotate(self) -> None:
        self._file.close()
        for i in range(self.backups, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            newer = self.path.with_name(f"{self.path.name}.{i - 1}") if i > 1 else self.path
            if newer.exists():
                if i == self.backups:
                    older.unlink(missing_ok=True)
                newer.replace(older)
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        self._file = open(self.path, "ab", buffering=0)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def from_env(environ: Mapping[str, str] | None = None) -> CaptureWriter | None:
    """The writer the environment asks for, or None (the default: no capture)."""
    env = os.environ if environ is None else environ
    path = env.get(ENV_PATH)
    if not path:
        return None
    key = env.get(ENV_KEY)
    return CaptureWriter(
        path,
        max_bytes=int(env.get(ENV_MAX_BYTES) or 50_000_000),
        backups=int(env.get(ENV_BACKUPS) or 5),
        raw=env.get(ENV_RAW, "").lower() in ("1", "true", "yes"),
        key=key.encode() if key else None,
    )


_writer: CaptureWriter | None = None
_configured = False


def record_decision(
    policy: Policy | None, decision: Decision, attributes: Mapping[str, Any], kind: str
) -> None:
    """The worker's one call, after each decision: appends it when capture is on (read from
    the environment once per process); does nothing otherwise."""
    global _writer, _configured
    if not _configured:
        _configured = True
        try:
            _writer = from_env()
        except ValueError:
            _writer = None
    if _writer is not None:
        _writer.record(policy, decision, attributes, kind)


def read_capture(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each line of a capture file; blank lines skipped.
    Raises `CaptureError` naming the line of a record that is not one."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8")
    except OSError as exc:
        raise CaptureError(f"{p}: cannot read the capture file: {exc.strerror}") from None
    with handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise CaptureError(f"{p}:{n}: not a JSON object: {exc}") from None
            attrs = record.get("attributes") if isinstance(record, dict) else None
            if not isinstance(attrs, dict):
                raise CaptureError(f"{p}:{n}: a record needs `attributes`, an object")
            yield n, record
