"""The worker's side of the rules: a gatekeeper in the main process, followers in job processes.

`PolicyServer` is livekit-agents' `AgentServer` with the rules checked inside `run()`, which
every launcher calls (`python -m livekit.agents start agent_entry.py`, `lk agent`, and the
deprecated `python agent_entry.py start|dev|console`). Invalid rules, or rules naming
unregistered tools, stop the worker there with every diagnostic and a non-zero exit. Once
running, the main process watches the rules and publishes each good revision as a snapshot;
job processes (forked ahead of time, possibly after a bad edit) load and follow only those
snapshots, so every call is served from the last good policy.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from livekit.agents import AgentServer, JobContext, JobProcess

from ..compile import load
from ..errors import Code, Location, PolicyError
from ..logs import get_logger, install_stdlib_masking
from ..runtime import phone
from ..runtime.engine import Policy
from ..shared import load_inherited  # the policy compiled once in the forkserver
from ..tools import ToolRegistry, UnknownToolError
from ..watch import ENV_SNAPSHOT_DIR, POINTER, SETTLE, PolicyHolder, publish_snapshot

_PROCESS_KEY = "sip_policy.holder"


def load_checked(path: str | Path, registry: ToolRegistry) -> Policy:
    """`policy.load` plus the tool check: a tool the rules name or declare under `tools:` but
    nothing registered is an `unknown-tool` error, so the worker does not start with it and a
    reload that introduces one keeps the last good policy."""
    loaded = load(path)
    missing = registry.missing(loaded.tool_names() | (loaded.declared_tools() or frozenset()))
    if missing:
        err = UnknownToolError(missing, registry.names())
        raise PolicyError.single(
            Code.UNKNOWN_TOOL,
            str(err),
            Location(str(path)),
            help="register it in the worker's tool module, or remove it from the rules",
        )
    return loaded


def start_gatekeeper(
    rules: str | Path,
    registry: ToolRegistry,
    *,
    interval: float = 1.0,
    settle: float = SETTLE,
) -> PolicyHolder:
    """In the worker's main process: load and check the rules (exit with every diagnostic
    when they are invalid or name unregistered tools), publish them as the snapshot job
    processes follow, and watch them in a thread, publishing each valid edit (a failed
    publish is retried with backoff)."""
    try:
        first = load_checked(rules, registry)
    except PolicyError as err:
        raise SystemExit(
            f"sip-policy: cannot start, the rules have errors\n{err.render()}"
        ) from None
    snapshot_dir = os.environ.get(ENV_SNAPSHOT_DIR) or _default_snapshot_dir()
    holder = PolicyHolder(
        first,
        source=Path(rules),
        loader=functools.partial(load_checked, registry=registry),
        on_reload=functools.partial(publish_snapshot, snapshot_dir=snapshot_dir),
        settle=settle,
    )
    os.environ[ENV_SNAPSHOT_DIR] = snapshot_dir  # job processes inherit it
    holder.deliver()  # the first snapshot; retried by the watcher when the folder refuses it
    holder.watch_in_thread(interval)
    get_logger().info(
        "policy.gatekeeper_started",
        file=str(rules),
        revision=first.revision,
        snapshots=snapshot_dir,
        warnings=len(first.warnings),
    )
    return holder


def _default_snapshot_dir() -> str:
    path = tempfile.mkdtemp(prefix="sip-policy-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


class PolicyServer(AgentServer):
    """An `AgentServer` whose `run()` first checks the rules and starts the gatekeeper.

    `setup_fnc` must be picklable (a module-level function, not a lambda): livekit-agents
    sends it to each job process. Call `process_policy` from it.
    """

    def __init__(
        self,
        rules: str | Path,
        registry: ToolRegistry,
        *,
        poll_interval: float = 1.0,
        settle: float = SETTLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rules = Path(rules)
        self.registry = registry
        self.poll_interval = poll_interval
        self.settle = settle
        self.gatekeeper: PolicyHolder | None = None

    async def run(self, *, devmode: bool = False, unregistered: bool = False) -> None:
        install_stdlib_masking()  # livekit set up this process's logging before `run`
        if self.gatekeeper is None:
            try:
                self.gatekeeper = start_gatekeeper(
                    self.rules, self.registry, interval=self.poll_interval, settle=self.settle
                )
            except SystemExit as stop:
                _exit_now(str(stop.code))
        try:
            await super().run(devmode=devmode, unregistered=unregistered)
        finally:
            self.gatekeeper.stop()
            self.gatekeeper = None  # a later `run` checks the rules again


def _exit_now(message: str) -> NoReturn:
    """Stop the worker before it starts anything. `run` is a task on livekit's event loop,
    which logs an exception (and a `SystemExit` escapes as "never retrieved") instead of
    exiting cleanly, so the diagnostics are printed and the process ends here, with code 1."""
    get_logger().error("policy.start_refused", rendered=message)
    logging.shutdown()
    print(message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(1)


def process_policy(
    proc: JobProcess, rules: str | Path, registry: ToolRegistry | None = None
) -> PolicyHolder:
    """The holder of this job process: follows the gatekeeper's snapshot when there is one,
    else loads `rules` directly (checked against `registry` when given). Use it from
    `setup_fnc` to load before the first call."""
    install_stdlib_masking()
    phone.warm_up()  # numbering data and geocoder, before the first caller from anywhere
    holder = proc.userdata.get(_PROCESS_KEY)
    if isinstance(holder, PolicyHolder):
        return holder
    snapshot_dir = os.environ.get(ENV_SNAPSHOT_DIR)
    if snapshot_dir and (Path(snapshot_dir) / POINTER).exists():
        holder = PolicyHolder.follow(snapshot_dir, loader=load_inherited)
    elif registry is not None:
        holder = PolicyHolder(load_checked(rules, registry), source=Path(rules))
    else:
        holder = PolicyHolder.load(rules, loader=load_inherited)
    proc.userdata[_PROCESS_KEY] = holder
    return holder


async def job_policy(
    ctx: JobContext, rules: str | Path, registry: ToolRegistry | None = None
) -> PolicyHolder:
    """The process holder, refreshed: a call starts with the newest valid policy."""
    holder = process_policy(ctx.proc, rules, registry)
    await holder.refresh()
    return holder


__all__ = [
    "PolicyServer",
    "job_policy",
    "load_checked",
    "process_policy",
    "start_gatekeeper",
]
