"""Hot reload: keep the last good policy in force while the rules files change.

`PolicyHolder` owns the current `Policy`. `refresh()` checks the watched files (modification
time, size and a content hash, so same-second edits and restored mtimes are caught), builds
the new policy off the event loop, and swaps it in one assignment. An invalid edit is logged
once with every diagnostic and the last good policy stays; while the rules are broken each
poll retries (quietly), so creating a missing instructions file fixes it without a restart.

livekit-agents runs each call in its own process, forked ahead of time, and such a process
may start after a bad edit. So the worker's main process is the gatekeeper: it validates each
edit and publishes every good revision as a snapshot (`publish_snapshot`); job processes
follow the snapshot (`PolicyHolder.follow`) and therefore only ever load validated rules.

No new dependency: polling a handful of small files once a second costs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .compile import load as load_policy
from .errors import PolicyError
from .logs import get_logger
from .runtime.decision import Decision
from .runtime.engine import Policy

Fingerprint = tuple[tuple[str, int, int, str], ...]
Loader = Callable[[Path], Policy]

POINTER = "CURRENT"
ENV_SNAPSHOT_DIR = "SIP_POLICY_SNAPSHOT_DIR"
_MISSING = (-1, -1, "")


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """(path, mtime_ns, size, sha256) per file; a missing file has (-1, -1, "")."""
    out = []
    for path in dict.fromkeys(Path(p) for p in paths):
        try:
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out.append((str(path), st.st_mtime_ns, st.st_size, digest))
        except OSError:
            out.append((str(path), *_MISSING))
    return tuple(out)


class PolicyHolder:
    """The policy in force, swapped atomically on a valid edit.

    `source` is the rules path, or a callable returning it (a snapshot pointer, for job
    processes). `on_reload` runs (in the loading thread) after each successful swap.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        source: Path | Callable[[], Path] | None = None,
        loader: Loader = load_policy,
        on_reload: Callable[[Policy], object] | None = None,
        logger: Any = None,
    ) -> None:
        self._policy = policy
        if source is None:
            if policy.path is None:
                raise ValueError("a policy loaded from text needs an explicit `source`")
            source = Path(policy.path)
        if callable(source):
            self._source: Callable[[], Path] = source
        else:
            fixed = Path(source)
            self._source = lambda: fixed
        self._loader = loader
        self._on_reload = on_reload
        self._log = logger or get_logger()
        self._lock = threading.Lock()
        self._watched: tuple[Path, ...] = tuple(policy.files)
        self._seen = self._fingerprint()
        self._failure: str | None = None
        self.reloads = 0
        self.failures = 0
        self._stop: threading.Event | None = None

    @classmethod
    def load(cls, path: str | Path, *, loader: Loader = load_policy, **kwargs: Any) -> PolicyHolder:
        """Load `path` now; raises `PolicyError` when it is invalid (there is no last good)."""
        return cls(loader(Path(path)), source=Path(path), loader=loader, **kwargs)

    @classmethod
    def follow(
        cls, snapshot_dir: str | Path, *, loader: Loader = load_policy, **kwargs: Any
    ) -> PolicyHolder:
        """Follow the snapshots a gatekeeper publishes in `snapshot_dir`."""
        source = snapshot_source(snapshot_dir)
        return cls(loader(source()), source=source, loader=loader, **kwargs)

    # -- reading ---------------------------------------------------------------------------

    @property
    def current(self) -> Policy:
        return self._policy

    @property
    def revision(self) -> str:
        return self._policy.revision

    def decide(
        self, attributes: Mapping[str, str], kind: str = "sip", *, now: datetime | None = None
    ) -> Decision:
        """Decide with the policy in force; the decision carries its revision."""
        return self._policy.decide(attributes, kind, now=now)

    # -- reloading -------------------------------------------------------------------------

    def _fingerprint(self) -> Fingerprint:
        source = self._source()
        return ((str(source), 0, 0, ""), *fingerprint((source, *self._watched)))

    def poll(self) -> bool:
        """Check the files once and reload when they changed (blocking; run it in a thread).
        True when a new policy was swapped in."""
        with self._lock:
            try:
                seen = self._fingerprint()
            except OSError:
                return False
            if seen == self._seen and self._failure is None:
                return False
            source = self._source()
            try:
                new = self._loader(source)
            except PolicyError as err:
                # retried at every poll (a missing file may appear), logged once per problem
                self._watched = tuple(dict.fromkeys((*self._policy.files, source)))
                rendered = err.render()
                if rendered != self._failure:
                    self._failure = rendered
                    self.failures += 1
                    self._log.error(
                        "policy.reload_failed",
                        file=str(source),
                        kept_revision=self._policy.revision,
                        count=len(err.errors),
                        diagnostics=[d.to_dict() for d in err.diagnostics],
                        rendered=rendered,
                    )
                return False
            except Exception as exc:  # a bug in the loader must not stop the worker
                if repr(exc) != self._failure:
                    self._failure = repr(exc)
                    self.failures += 1
                    self._log.exception(
                        "policy.reload_crashed",
                        file=str(source),
                        kept_revision=self._policy.revision,
                        error=repr(exc),
                    )
                return False
            old = self._policy
            self._policy = new
            self._watched = tuple(new.files)
            self._seen = self._fingerprint()
            self._failure = None
            self.reloads += 1
            self._log.info(
                "policy.reloaded",
                file=str(source),
                previous_revision=old.revision,
                revision=new.revision,
                warnings=len(new.warnings),
            )
        if self._on_reload is not None:
            try:
                self._on_reload(new)
            except Exception:
                self._log.exception("policy.on_reload_failed", revision=new.revision)
        return True

    async def refresh(self) -> bool:
        """`poll` off the event loop."""
        return await asyncio.to_thread(self.poll)

    async def watch(self, interval: float = 1.0) -> None:
        """Poll forever (cancel the task to stop)."""
        while True:
            await asyncio.sleep(interval)
            await self.refresh()

    def watch_in_thread(self, interval: float = 1.0) -> threading.Event:
        """Poll in a daemon thread (for a process without an event loop of its own, such as
        the livekit worker's main process before `cli.run_app`). Set the event to stop."""
        stop = self._stop = threading.Event()

        def run() -> None:
            while not stop.wait(interval):
                try:
                    self.poll()
                except Exception:  # keep watching whatever happens
                    self._log.exception("policy.watch_failed")

        threading.Thread(target=run, name="sip-policy-watch", daemon=True).start()
        return stop

    def stop(self) -> None:
        """Stop the watching thread, if any."""
        if self._stop is not None:
            self._stop.set()


# -- snapshots for job processes ------------------------------------------------------------


def publish_snapshot(policy: Policy, snapshot_dir: str | Path, *, keep: int = 5) -> Path:
    """Copy `policy.files` into `snapshot_dir/<revision>/`, keeping their layout, check the
    copy loads to the same revision, then point `snapshot_dir/CURRENT` at it. Returns the
    rules path inside the snapshot. Older snapshots beyond `keep` are removed."""
    root = Path(snapshot_dir)
    root.mkdir(parents=True, exist_ok=True)
    files = [Path(f).resolve() for f in policy.files]
    base = Path(os.path.commonpath([str(f.parent) for f in files]))
    target = root / policy.revision
    rules_rel = files[0].relative_to(base)
    if not (target / rules_rel).exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{policy.revision}-", dir=root))
        for f in files:
            dest = staging / f.relative_to(base)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
        copy = load_policy(staging / rules_rel)
        if copy.revision != policy.revision:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError("the rules changed while being published; the next poll retries")
        try:
            staging.rename(target)
        except OSError:  # another publisher won the race with the same content
            shutil.rmtree(staging, ignore_errors=True)
    pointer_tmp = root / f".{POINTER}.{os.getpid()}.{threading.get_ident()}"
    pointer_tmp.write_text(f"{policy.revision}/{rules_rel.as_posix()}\n", encoding="utf-8")
    os.replace(pointer_tmp, root / POINTER)
    _prune(root, keep=keep, current=policy.revision)
    return target / rules_rel


def _prune(root: Path, *, keep: int, current: str) -> None:
    dirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    dirs.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for d in dirs[keep:]:
        if d.name != current:
            shutil.rmtree(d, ignore_errors=True)


def snapshot_source(snapshot_dir: str | Path) -> Callable[[], Path]:
    """A `source` for `PolicyHolder` that reads the `CURRENT` pointer of `snapshot_dir`."""
    root = Path(snapshot_dir)

    def source() -> Path:
        return root / (root / POINTER).read_text(encoding="utf-8").strip()

    return source


__all__ = [
    "ENV_SNAPSHOT_DIR",
    "PolicyHolder",
    "fingerprint",
    "publish_snapshot",
    "snapshot_source",
]
