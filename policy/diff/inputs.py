"""What `sip-policy diff` compares: a rules file as committed at a git revision (with the
prompt files and tables it references, from the same revision), the test cases beside a
rules file, and recorded calls."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

from ..capture import read_capture
from ..testing import case_callers, discover_cases
from .callers import Caller, make_caller
from .compare import Recorded


class InputError(Exception):
    """A problem with what to compare (not a git repository, no such revision...)."""


def _git(cwd: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise InputError("git is not installed; give two rules files instead") from None
    if done.returncode != 0:
        raise InputError(done.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
    return done.stdout


def checkout(rules: Path, rev: str, into: Path) -> tuple[Path, str]:
    """Write the repository's tree at `rev` into `into` (`git archive`: nothing in the
    working copy is touched) and return where `rules` is in it, and the short commit."""
    where = rules.resolve().parent
    try:
        top = Path(_git(where, "rev-parse", "--show-toplevel").decode().strip())
    except InputError:
        raise InputError(
            f"`{where}` is not in a git repository; give two rules files: sip-policy diff OLD NEW"
        ) from None
    try:
        commit = _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except InputError:
        raise InputError(f"`{rev}` is not a revision of this repository") from None
    archive = _git(top, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    inside = into / rules.resolve().relative_to(top.resolve())
    if not inside.is_file():
        raise InputError(f"`{rules}` is not in {rev} ({commit[:7]}): nothing to compare with")
    return inside, commit[:7]


def cases_for(rules: Iterable[Path]) -> list[Caller]:
    """The callers of the test cases beside each rules file, without repeats."""
    seen: dict[tuple[object, ...], Caller] = {}
    for path in rules:
        for name, attrs, kind, at, variant in case_callers(discover_cases(path)):
            caller = make_caller(attrs, kind, at, variant, origin=f"test case `{name}`")
            seen.setdefault(caller.key, caller)
    return list(seen.values())


def recorded_calls(paths: Iterable[str]) -> list[Recorded]:
    """The calls of capture files (`policy.capture`), in file order."""
    out: list[Recorded] = []
    for path in paths:
        for line, record in read_capture(path):
            at = None
            if isinstance(record.get("time"), str):
                try:
                    at = dt.datetime.fromisoformat(record["time"])
                except ValueError:
                    at = None
            attrs = {str(k): v for k, v in record["attributes"].items() if isinstance(v, str)}
            kind = record.get("kind")
            kind = kind if isinstance(kind, str) else "sip"
            caller = make_caller(attrs, kind, at, origin=f"recorded call {path}:{line}")
            rule = record.get("rule") if isinstance(record.get("rule"), str) else None
            revision = record.get("revision") if isinstance(record.get("revision"), str) else None
            out.append(Recorded(caller, rule, revision))
    return out
