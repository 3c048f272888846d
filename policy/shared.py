"""One compiled policy per worker, inherited by every job process instead of compiled in each.

livekit-agents 1.8.9 starts job processes with the `forkserver` start method on Linux: the
worker starts one forkserver, which imports the modules of `AgentServer(preload_modules=...)`
once, then `livekit.agents.ipc._preload_freeze` (`gc.collect()` and `gc.freeze()`), and forks
every job process from itself. A job process's `setup_fnc` runs after that fork.

So this module, listed in `preload_modules`, compiles the rules once in the forkserver when it
is imported there. Each job process inherits the compiled policy copy-on-write: nothing is
parsed, validated or compiled again, and, with the collector frozen, the pages stay shared
until a decision touches them. Nothing is written to disk and nothing is unpickled.

    server = AgentServer(setup_fnc=prewarm, preload_modules=shared.preload_modules(RULES))
    # and in the job process: PolicyHolder.load(rules, loader=shared.load_inherited)

`load_inherited(path)` hands out the inherited policy only when it was compiled from `path`
and every file it read is unchanged since (path, modification time, size and SHA-256);
otherwise it loads `path` as usual. It is a `PolicyHolder` loader, so reloads go through it
too. Under `spawn` (macOS, Windows) the forkserver does not exist and each job process loads
its own copy, as before.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from .compile import load
from .runtime.engine import Policy
from .watch import ENV_SNAPSHOT_DIR, POINTER, Fingerprint, fingerprint, snapshot_source

#: the rules file the forkserver compiles when it imports this module
ENV_PRELOAD = "SIP_POLICY_PRELOAD"

_inherited: tuple[Path, Fingerprint, Policy] | None = None


def preload_modules(rules: str | Path) -> list[str]:
    """For `AgentServer(preload_modules=...)`: the forkserver (started later, with this
    process's environment) will compile `rules`, or the gatekeeper's current snapshot."""
    os.environ[ENV_PRELOAD] = str(rules)
    return [__name__]


def _rules_to_preload() -> Path | None:
    """When `preload_modules` asked for it: what a job process would load, the gatekeeper's
    snapshot when there is one (see `policy.livekit.process_policy`), else the rules file."""
    named = os.environ.get(ENV_PRELOAD)
    if not named:
        return None
    snapshot_dir = os.environ.get(ENV_SNAPSHOT_DIR)
    if snapshot_dir and (Path(snapshot_dir) / POINTER).exists():
        return snapshot_source(snapshot_dir)()
    return Path(named)


def preload(path: str | Path) -> Policy | None:
    """Compile `path` for the processes forked from this one; None (and nothing kept) when
    it cannot be loaded: each job process then loads, and reports, as it would anyway."""
    global _inherited
    p = Path(path).resolve()
    try:
        before = fingerprint([p])  # before reading: an edit during the load is a mismatch
        policy = load(p)
    except Exception:
        _inherited = None
        return None
    files = fingerprint(Path(f).resolve() for f in policy.files)
    if fingerprint([p]) != before:
        _inherited = None
        return None
    _inherited = (p, files, policy)
    gc.collect()
    gc.freeze()  # objects from now on are never touched by the collector in a child
    return policy


def load_inherited(path: Path) -> Policy:
    """The policy compiled before the fork, if it is `path`'s and its files are unchanged;
    else `path` loaded here (a `PolicyHolder` loader)."""
    if _inherited is not None:
        where, files, policy = _inherited
        p = Path(path).resolve()
        if p == where and fingerprint(Path(f).resolve() for f in policy.files) == files:
            return policy
    return load(path)


def inherited() -> Policy | None:
    """The policy this process inherited (or compiled to hand down), if any."""
    return _inherited[2] if _inherited is not None else None


_path = _rules_to_preload()
if _path is not None:
    preload(_path)
