"""What the edit changes against the last committed version of the rules file.

Two answers: the lines that changed (always, when the file is in a git repository), and
which callers the change moves, from `sip-policy diff` (the module `policy.diff`) when this
version of sip-policy has it. Until it does, the page says "diff not available".

Wiring `policy.diff` in: `_callers_moved` does what `sip-policy diff` does with no
arguments, with the editor's text as the new side: the rules as committed at HEAD (with
the files they reference, via `policy.diff.inputs.checkout`) against the edit, on the
test cases and generated callers (`policy.diff.compare(old, new, base=, cases=)`), shown
as `policy.diff.render.to_text` prints it. Written against the API of issue 12 before it
merged; if that API moved, the page says "diff not available" and why, and the calls to
change are all in that one function.
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import importlib.util
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from ..compile import load
from ..errors import PolicyError
from .workspace import Workspace

MAX_DIFF_LINES = 2000
DIFF_MODULE = "policy.diff"
NOT_AVAILABLE = "diff not available: this version of sip-policy has no `sip-policy diff`"
NOT_WIRED = "diff not available: `policy.diff` did not answer as expected (see policy/playground/diffing.py)"


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
        "callers": _callers_moved(ws, text),
    }


def _callers_moved(ws: Workspace, new_text: str) -> dict[str, Any]:
    if importlib.util.find_spec(DIFF_MODULE) is None:
        return {"available": False, "message": NOT_AVAILABLE}
    try:
        diff = importlib.import_module(DIFF_MODULE)
        inputs = importlib.import_module(DIFF_MODULE + ".inputs")
        render = importlib.import_module(DIFF_MODULE + ".render")
        compare_policies = diff.compare
        cases_for, checkout, to_text = inputs.cases_for, inputs.checkout, render.to_text
    except (ImportError, AttributeError) as exc:
        return {"available": False, "message": f"{NOT_WIRED} ({exc})"}
    try:
        new = ws.compile(new_text)
    except PolicyError:
        return {"available": False, "message": "fix the errors to see which callers move"}
    base = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    try:
        with tempfile.TemporaryDirectory(prefix="sip-policy-playground-") as tmp:
            committed, _ = checkout(ws.path, "HEAD", Path(tmp))
            old = load(committed)
            result = compare_policies(old, new, base=base, cases=cases_for([ws.path]))
            text = to_text(result, "the last commit", "this edit")
    except PolicyError as exc:
        first = exc.diagnostics[0].render(snippet=False).splitlines()[0] if exc.diagnostics else ""
        return {"available": False, "message": f"the committed version does not load: {first}"}
    except Exception as exc:  # an integration seam: say what failed, keep the page up
        traceback.print_exc(file=sys.stderr)
        return {"available": False, "message": f"{NOT_WIRED} ({type(exc).__name__}: {exc})"}
    return {"available": True, "changed": bool(result.changed), "text": text}
