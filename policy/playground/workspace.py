"""The rules file the playground edits: read it, check an edit, explain a caller against
it, run the test cases, and save it atomically.

Every answer is a JSON-ready dict. Nothing here evaluates anything but the rules language:
an edit is compiled by `policy.loads`, callers are decided by `Policy.explain`, and the
test cases are run by `policy.testing.run_cases`, exactly as the CLI does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compile import loads
from ..errors import Diagnostic, PolicyError
from ..explain import to_json
from ..parse.document import YamlProblem, parse
from ..runtime.engine import Policy
from ..testing import discover_cases, run_cases

#: Where fixture callers are looked for, relative to the rules file's folder.
FIXTURES = "tests/fixtures/attributes"
MAX_ATTRIBUTES = 1000


class BadRequest(ValueError):
    """A request the page should not have sent; the message is shown to the user."""


@dataclass(frozen=True)
class OnDisk:
    """The rules file as it is on disk: its text and a version that changes with its bytes."""

    text: str
    version: str
    exists: bool
    crlf: bool = False
    bom: bool = False
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "version": self.version,
            "exists": self.exists,
            "problem": self.problem,
        }


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class Workspace:
    """One rules file, edited from the page. `name` is the path as the user gave it, used
    in diagnostics like `sip-policy check` does."""

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self.path = Path(path)
        self.folder = self.path.resolve().parent
        self._lock = threading.Lock()
        self._cached: tuple[str, tuple[tuple[str, int, int], ...], Policy] | None = None
        self._seen: tuple[tuple[int, int, int], str] | None = None

    # ---- the file on disk -------------------------------------------------------------

    def read(self) -> OnDisk:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return OnDisk("", version_of(b""), exists=False)
        problem = None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8", errors="replace")
            problem = (
                f"`{self.name}` is not UTF-8 text (byte {exc.start}): the editor shows � "
                "where it could not read it, and saving writes UTF-8"
            )
        bom = text.startswith("\ufeff")
        text = text.removeprefix("\ufeff")
        crlf = "\r\n" in text
        return OnDisk(text.replace("\r\n", "\n"), version_of(data), True, crlf, bom, problem)

    def version(self) -> str:
        """The version on disk, for the page's poll: hashed again only when the file's
        size, time or inode changed."""
        try:
            st = self.path.stat()
        except OSError:
            return version_of(b"")
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        seen = self._seen
        if seen is not None and seen[0] == key:
            return seen[1]
        version = self.read().version
        self._seen = (key, version)
        return version

    def save(self, text: str, base: str | None, confirm: bool) -> dict[str, Any]:
        """Write `text` over the file, atomically. Refused (unless `confirm`) when the text
        does not check clean, or when the file changed on disk since the page loaded it."""
        with self._lock:
            disk = self.read()
            checked = self.check(text)
            if base is not None and base != disk.version and not confirm:
                return {
                    "saved": False,
                    "reason": "changed",
                    "message": f"`{self.name}` changed on disk since you loaded it "
                    "(another editor?); saving now would overwrite that change",
                    "check": checked,
                }
            if not checked["ok"] and not confirm:
                return {
                    "saved": False,
                    "reason": "errors",
                    "message": f"this version has {_count(checked['errors'], 'error')}; "
                    "the worker would refuse it and keep the rules it has",
                    "check": checked,
                }
            out = text.replace("\r\n", "\n")
            if disk.crlf:
                out = out.replace("\n", "\r\n")
            try:
                data = ("\ufeff" if disk.bom else "").encode() + out.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BadRequest("the text holds characters that are not valid UTF-8") from exc
            write_atomic(self.path, data)
            return {"saved": True, "version": version_of(data), "check": checked}

    # ---- checking, explaining, testing -----------------------------------------------

    def compile(self, text: str) -> Policy:
        """The policy for `text`, as `sip-policy check` would build it from the file.
        The last good one is kept while neither the text nor its referenced files change,
        so a check, an explanation and a test run of the same edit compile it once."""
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        cached = self._cached
        if cached is not None and cached[0] == key and cached[1] == _stamps(cached[2]):
            return cached[2]
        policy = loads(text, file=self.name, base_dir=self.folder)
        self._cached = (key, _stamps(policy), policy)
        return policy

    def check(self, text: str) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            policy = self.compile(text)
            diagnostics: list[Diagnostic] = list(policy.warnings)
            rules: int | None = len(policy.rules)
        except PolicyError as exc:
            diagnostics, rules = list(exc.diagnostics), None
        return {
            "ok": rules is not None,
            "rules": rules,
            "errors": sum(d.is_error for d in diagnostics),
            "warnings": sum(not d.is_error for d in diagnostics),
            "diagnostics": [self._diagnostic(d) for d in diagnostics],
            "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
        }

    def _diagnostic(self, d: Diagnostic) -> dict[str, Any]:
        out = d.to_dict()
        out["here"] = d.location.file == self.name
        out["text"] = d.render()
        return out

    def explain(self, text: str, caller: Any) -> dict[str, Any]:
        attrs, kind, now = read_caller(caller)
        try:
            policy = self.compile(text)
        except PolicyError:
            return {"ok": False, "message": "fix the errors in the rules first"}
        decision = policy.explain(attrs, kind, now=now)
        out = to_json(decision, attrs, kind, policy)
        lines = {r.name: (r.file, r.line) for r in policy.rules}
        out["rule_line"] = lines[decision.rule][1] if decision.rule in lines else None
        out["ok"] = True
        return out

    def run_tests(self, text: str) -> dict[str, Any]:
        try:
            policy = self.compile(text)
        except PolicyError:
            return {"ok": False, "message": "fix the errors in the rules first"}
        files = discover_cases(self.path)
        if not files:
            return {
                "ok": False,
                "message": f"no test cases found; write them in "
                f"{self.path.with_name(self.path.stem + '.tests.yaml')}",
            }
        report = run_cases(policy, files)
        out = report.to_dict()
        out["ok"] = True
        out["rules"] = len(policy.rules)
        out["diagnostics"] = [d.to_dict() | {"text": d.render()} for d in report.diagnostics]
        return out

    def warm_up(self) -> None:
        """Check the file on disk and run its test cases once, in the background at start:
        the first run loads phone-number and time-zone data, which takes most of a second,
        and the first click should not wait for it."""
        text = self.read().text
        self.check(text)
        with contextlib.suppress(PolicyError):
            self.run_tests(text)

    # ---- callers to try ---------------------------------------------------------------

    def presets(self) -> list[dict[str, Any]]:
        """The test cases (`rules.tests.yaml`) and the fixture callers beside the rules."""
        found: list[dict[str, Any]] = []
        for file in discover_cases(self.path):
            found += _case_presets(file)
        for file in sorted((self.folder / FIXTURES).glob("*.json")):
            caller = _json_caller(file)
            if caller is not None:
                attrs, kind = caller
                found.append(_preset("fixture callers", file.stem, attrs, kind, ""))
        for i, preset in enumerate(found):
            preset["id"] = i
        return found


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _stamps(policy: Policy) -> tuple[tuple[str, int, int], ...]:
    """The referenced files (tables, instructions) as (path, size, mtime)."""
    out = []
    for f in policy.files[1:]:
        try:
            st = f.stat()
            out.append((str(f), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(f), -1, -1))
    return tuple(out)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside the target, then `os.replace` it over the target:
    a reader (the worker's hot reload) sees the old file or the new one, never half of it.
    A symlink is followed, and the file keeps its permissions."""
    target = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_caller(caller: Any) -> tuple[dict[str, str], str, dt.datetime | None]:
    """A caller from the page: `{attributes: {name: text}, kind, at}`."""
    if not isinstance(caller, dict):
        raise BadRequest("the caller must be an object with `attributes`, `kind` and `at`")
    attrs = caller.get("attributes") or {}
    if not isinstance(attrs, dict) or len(attrs) > MAX_ATTRIBUTES:
        raise BadRequest(f"`attributes` must be at most {MAX_ATTRIBUTES} names and values")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()):
        raise BadRequest("every attribute name and value must be text")
    kind = caller.get("kind") or "sip"
    if not isinstance(kind, str):
        raise BadRequest("`kind` must be text, e.g. sip")
    at = caller.get("at") or ""
    if not isinstance(at, str):
        raise BadRequest("`at` must be a date and time like 2026-12-24T18:30")
    now = None
    if at.strip():
        try:
            now = dt.datetime.fromisoformat(at.strip())
        except ValueError:
            raise BadRequest(f"`{at}` is not a date and time like 2026-12-24T18:30") from None
    return dict(attrs), kind, now


def _preset(group: str, label: str, attrs: dict[str, str], kind: str, at: str) -> dict[str, Any]:
    return {"group": group, "label": label, "attributes": attrs, "kind": kind, "at": at}


def _json_caller(file: Path) -> tuple[dict[str, str], str] | None:
    """`{kind, attributes}` or a plain object of attributes, as `explain --attrs` reads."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    given = data.get("attributes")
    attrs = given if isinstance(given, dict) else data
    kind = data.get("kind") if isinstance(data.get("kind"), str) else "sip"
    return {str(k): str(v) for k, v in attrs.items() if k != "kind"}, str(kind)


def _case_presets(file: Path) -> list[dict[str, Any]]:
    """Each test case's caller; cases the test run would refuse are left out (the test
    run reports them)."""
    try:
        doc = parse(file.read_text(encoding="utf-8"), str(file))
    except (OSError, YamlProblem):
        return []
    cases = doc.data.get("cases") if isinstance(doc.data, dict) else None
    found = []
    for i, case in enumerate(cases if isinstance(cases, list) else []):
        if not isinstance(case, dict):
            continue
        attrs: dict[str, str] = {}
        kind = "sip"
        if "attributes_file" in case:
            read = _json_caller(file.parent / str(case["attributes_file"]))
            if read is None:
                continue
            attrs, kind = read
        given = case.get("attributes") or {}
        if isinstance(given, dict):
            attrs.update({str(k): v for k, v in given.items() if isinstance(v, str)})
        at = case.get("at")
        when = at.isoformat() if isinstance(at, dt.datetime) else str(at or "")
        name = str(case.get("name", f"case {i + 1}"))
        found.append(_preset("test cases", name, attrs, str(case.get("kind", kind)), when))
    return found
