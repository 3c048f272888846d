"""Hot reload: keep the last good policy in force while the rules files change.

`PolicyHolder` owns the current `Policy`. `poll()` fingerprints the watched files
(modification time, size and a content hash, so same-second edits and restored mtimes are
caught) and swaps a new policy in with one assignment. It is safe by construction:

- settle: an edit is loaded only once the files have stopped changing for `settle` seconds
  (a half-written file, or one written in bursts, is never compiled);
- what was seen is recorded *before* the load, so an edit landing during a compile makes the
  next poll load again: the holder never stays out of step with the disk;
- a refused edit (errors, an emptied file, a missing or unreadable file, a directory in its
  place) keeps the last good policy, is reported once with every diagnostic, and is retried
  with backoff (a missing instructions file may appear);
- `on_reload` (publishing a snapshot) that fails is retried with backoff until it succeeds.

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
import time
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
#: `listener(event, fields)`: told of every reload event (the CLI's `watch` prints them).
Listener = Callable[[str, dict[str, Any]], object]

POINTER = "CURRENT"
ENV_SNAPSHOT_DIR = "SIP_POLICY_SNAPSHOT_DIR"
#: Seconds the files must stay unchanged before an edit is loaded.
SETTLE = 0.5
#: Retry delays (seconds) of a refused edit and of a failed publish: first, then doubled.
RETRY_FIRST = 1.0
RETRY_MAX = 30.0
_MISSING = (-1, -1, "")


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """(path, mtime_ns, size, sha256) per file; a missing or unreadable file, or a directory,
    has (-1, -1, "")."""
    out = []
    for path in dict.fromkeys(Path(p) for p in paths):
        try:
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out.append((str(path), st.st_mtime_ns, st.st_size, digest))
        except OSError:
            out.append((str(path), *_MISSING))
    return tuple(out)


class _Backoff:
    """When to try again after a failure: `RETRY_FIRST` seconds, doubling to `RETRY_MAX`."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.due = 0.0

    def failed(self, now: float) -> float:
        self.delay = RETRY_FIRST if self.delay == 0 else min(self.delay * 2, RETRY_MAX)
        self.due = now + self.delay
        return self.delay

    def reset(self) -> None:
        self.delay = self.due = 0.0


class PolicyHolder:
    """The policy in force, swapped atomically on a valid edit.

    `source` is the rules path, or a callable returning it (a snapshot pointer, for job
    processes). `on_reload` runs after each successful swap (and again, with backoff, until
    it succeeds). `settle` is how long the files must be still before an edit is loaded
    (0 for snapshots, which are published whole). `clock` is `time.monotonic` by default.
    """

    def __init__(
        self,
        policy: Policy | None,
        *,
        source: Path | Callable[[], Path] | None = None,
        loader: Loader = load_policy,
        on_reload: Callable[[Policy], object] | None = None,
        logger: Any = None,
        listener: Listener | None = None,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        if source is None:
            if policy is None or policy.path is None:
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
        self._listener = listener
        self._settle = settle
        self._clock = clock
        self._lock = threading.RLock()
        self._watched: tuple[Path, ...] = tuple(policy.files) if policy is not None else ()
        self._seen = self._fingerprint() if policy is not None else None
        self._candidate: Fingerprint | None = None
        self._candidate_at = 0.0
        self._failure: tuple[Fingerprint, str] | None = None
        self._retry = _Backoff()
        self._delivered: str | None = None
        self._deliver_error: str | None = None
        self._deliver_retry = _Backoff()
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
        """Follow the snapshots a gatekeeper publishes in `snapshot_dir` (published whole,
        so no settle interval)."""
        source = snapshot_source(snapshot_dir)
        kwargs.setdefault("settle", 0.0)
        return cls(loader(source()), source=source, loader=loader, **kwargs)

    # -- reading ---------------------------------------------------------------------------

    @property
    def current(self) -> Policy:
        if self._policy is None:
            raise RuntimeError("no valid rules have been loaded yet")
        return self._policy

    @property
    def revision(self) -> str:
        return self.current.revision

    @property
    def failure(self) -> str | None:
        """The rendered diagnostics of the edit refused last, while it is on disk."""
        return self._failure[1] if self._failure is not None else None

    def decide(
        self, attributes: Mapping[str, str], kind: str = "sip", *, now: datetime | None = None
    ) -> Decision:
        """Decide with the policy in force; the decision carries its revision."""
        return self.current.decide(attributes, kind, now=now)

    # -- reloading -------------------------------------------------------------------------

    def _fingerprint(self) -> Fingerprint:
        source = self._source()
        return ((str(source), 0, 0, ""), *fingerprint((source, *self._watched)))

    def poll(self, *, settle: float | None = None) -> bool:
        """Check the files once; reload when they changed and have settled (`settle`
        overrides the holder's interval: 0 checks the files as they are now); deliver the
        policy in force to `on_reload` when that is due (blocking: run it in a thread).
        True when a new policy was swapped in."""
        with self._lock:
            swapped = self._reload(self._settle if settle is None else settle)
            self._deliver()
        return swapped

    def _reload(self, settle: float) -> bool:
        try:
            seen = self._fingerprint()
        except OSError:  # a snapshot pointer being replaced: next poll
            return False
        if seen == self._seen:
            self._candidate = None
            return False
        now = self._clock()
        if seen != self._candidate:
            self._candidate, self._candidate_at = seen, now
        if now - self._candidate_at < settle:
            return False  # still being written, or just written: wait until it is still
        if self._failure is not None and self._failure[0] == seen and now < self._retry.due:
            return False
        return self._load(seen, now)

    def _load(self, seen: Fingerprint, now: float) -> bool:
        source = self._source()
        try:
            new = self._loader(source)
        except PolicyError as err:
            self._refuse(seen, now, source, err.render(), [d.to_dict() for d in err.diagnostics])
            return False
        except Exception as exc:  # a bug in the loader must not stop the worker
            self._refuse(seen, now, source, repr(exc), [], crashed=True)
            return False
        old = self._policy
        self._seen = seen  # seen before the load: an edit made during it is loaded next poll
        was_refused, self._failure = self._failure is not None, None
        self._retry.reset()
        self._watched = tuple(new.files)
        swapped = old is None or new.revision != old.revision
        if not swapped and not was_refused:
            return False  # the same rules (a touch, or the files it reads were listed anew)
        self._policy = new
        self.reloads += swapped
        self._emit(
            "info",
            "policy.reloaded",
            file=str(source),
            previous_revision=old.revision if old is not None else None,
            revision=new.revision,
            warnings=len(new.warnings),
        )
        return swapped

    def _refuse(
        self,
        seen: Fingerprint,
        now: float,
        source: Path,
        rendered: str,
        diagnostics: list[dict[str, Any]],
        *,
        crashed: bool = False,
    ) -> None:
        repeated = self._failure is not None and self._failure[0] == seen
        self._failure = (seen, rendered)
        retry_in = self._retry.failed(now)
        if self._policy is not None:
            self._watched = tuple(dict.fromkeys((*self._policy.files, source)))
        if repeated:
            return  # the same edit, retried: reported once
        self.failures += 1
        fields: dict[str, Any] = {
            "file": str(source),
            "kept_revision": self._policy.revision if self._policy is not None else None,
            "retry_in": retry_in,
        }
        if crashed:
            self._emit("exception", "policy.reload_crashed", error=rendered, **fields)
            return
        self._emit(
            "error",
            "policy.reload_failed",
            count=len(diagnostics),
            diagnostics=diagnostics,
            rendered=rendered,
            **fields,
        )

    def deliver(self) -> bool:
        """Hand the policy in force to `on_reload` now if it has not had it yet (the worker
        publishes its first snapshot this way). True when it has it."""
        with self._lock:
            self._deliver(force=True)
            return self._policy is None or self._delivered == self._policy.revision

    def _deliver(self, *, force: bool = False) -> None:
        policy = self._policy
        if self._on_reload is None or policy is None or self._delivered == policy.revision:
            return
        now = self._clock()
        if not force and now < self._deliver_retry.due:
            return
        try:
            self._on_reload(policy)
        except Exception as exc:
            retry_in = self._deliver_retry.failed(now)
            if repr(exc) != self._deliver_error:
                self._deliver_error = repr(exc)
                self._emit(
                    "warning",
                    "policy.publish_failed",
                    revision=policy.revision,
                    error=str(exc),
                    retry_in=retry_in,
                )
            return
        recovered = self._deliver_error is not None
        self._delivered, self._deliver_error = policy.revision, None
        self._deliver_retry.reset()
        if recovered:
            self._emit("info", "policy.published", revision=policy.revision)

    def _emit(self, level: str, event: str, **fields: Any) -> None:
        getattr(self._log, level)(event, **fields)
        if self._listener is not None:
            self._listener(event, fields)

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
        the livekit worker's main process). Set the event to stop."""
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
    rules path inside the snapshot. Older snapshots beyond `keep` are removed. Raises
    `OSError` when the folder cannot be written (the holder retries)."""
    root = Path(snapshot_dir)
    root.mkdir(parents=True, exist_ok=True)
    files = [Path(f).resolve() for f in policy.files]  # a ConfigMap's `..data` link, resolved
    base = Path(os.path.commonpath([str(f.parent) for f in files]))
    target = root / policy.revision
    rules_rel = files[0].relative_to(base)
    if not (target / rules_rel).exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{policy.revision}-", dir=root))
        try:
            for f in files:
                dest = staging / f.relative_to(base)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
            copy = load_policy(staging / rules_rel)
            if copy.revision != policy.revision:
                raise RuntimeError("the rules changed while being published; retrying")
            staging.rename(target)
        except OSError:
            if not (target / rules_rel).exists():
                raise
        finally:  # another publisher may have won the race with the same content
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
    "SETTLE",
    "PolicyHolder",
    "fingerprint",
    "publish_snapshot",
    "snapshot_source",
]
