"""What the edit changes against the last committed version of the rules file.

Two answers: the lines that changed (always, when the file is in a git repository), and
which callers the change moves, from `sip-policy diff` (the module `policy.diff`) when this
version of sip-policy has it. Until it does, the page says "diff not available".

Wiring `policy.diff` in: `_callers_moved` calls `policy.diff.compare(old, new)` with the
two compiled `Policy` objects and shows what it returns (its `to_dict()`, or the value
itself when it is JSON already). Change that one call if the module's API differs.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import subprocess
from typing import Any

from ..compile import loads
from ..errors import PolicyError
from .workspace import Workspace

MAX_DIFF_LINES = 2000
DIFF_MODULE = "policy.diff"


def committed_text(ws: Workspace) -> tuple[str | None, str]:
    """The rules file as committed at HEAD, or None and why not."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ws.folder), "show", f"HEAD:./{ws.path.name}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except FileNotFoundError:
        return None, "git is not installed, so there is no committed version to compare with"
    except subprocess.TimeoutExpired:
        return None, "git took too long to answer"
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace")
        if "not a git repository" in err:
            return None, f"`{ws.name}` is not in a git repository: nothing to compare with"
        return None, f"`{ws.name}` has no committed version yet (git: {err.strip()[:200]})"
    text = done.stdout.decode("utf-8", "replace").removeprefix("\ufeff")
    return text.replace("\r\n", "\n"), "HEAD"


def compare(ws: Workspace, text: str) -> dict[str, Any]:
    old, where = committed_text(ws)
    if old is None:
        return {"committed": False, "message": where, "changed": False, "lines": []}
    lines = list(
        difflib.unified_diff(
            old.splitlines(),
            text.splitlines(),
            f"{ws.name} (committed)",
            f"{ws.name} (this edit)",
            lineterm="",
        )
    )
    cut = len(lines) > MAX_DIFF_LINES
    return {
        "committed": True,
        "message": "no change since the last commit" if not lines else "",
        "changed": bool(lines),
        "lines": lines[:MAX_DIFF_LINES],
        "cut": cut,
        "callers": _callers_moved(ws, old, text),
    }


def _callers_moved(ws: Workspace, old_text: str, new_text: str) -> dict[str, Any]:
    if importlib.util.find_spec(DIFF_MODULE) is None:
        return {
            "available": False,
            "message": "diff not available: this version of sip-policy has no `sip-policy diff`",
        }
    module = importlib.import_module(DIFF_MODULE)
    call = getattr(module, "compare", None)
    if not callable(call):
        return {
            "available": False,
            "message": "diff not available: `policy.diff` has no compare(old, new) "
            "(wire it in policy/playground/diffing.py)",
        }
    try:
        old = loads(old_text, file=ws.name, base_dir=ws.folder)
    except PolicyError:
        return {"available": False, "message": "the committed version has errors"}
    try:
        new = ws.compile(new_text)
    except PolicyError:
        return {"available": False, "message": "fix the errors to see which callers move"}
    result = call(old, new)
    to_dict = getattr(result, "to_dict", None)
    return {"available": True, "result": to_dict() if callable(to_dict) else result}
