"""Hot reload under faults: files written the way editors, scripts and Kubernetes write them.

Each test drives the real `PolicyHolder` (and `publish_snapshot`) against real files. A clock
the test moves stands in for time, so no test waits for or measures the machine's speed;
the one threaded test bounds states, not durations.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import policy
from policy.watch import POINTER, SETTLE, PolicyHolder, publish_snapshot

GOOD = """\
defaults:
  llm: openai/gpt-4.1-mini
  instructions_file: prompts/main.md
rules:
  - name: acme
    when:
      tenant: acme
    set:
      instructions: You are Acme support, version {n}.
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def good(n: int) -> str:
    return GOOD.replace("{n}", str(n))


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    (folder / "prompts").mkdir(parents=True)
    (folder / "prompts" / "main.md").write_text("You are the default assistant.\n")
    path = folder / "rules.yaml"
    path.write_text(good(0))
    return path


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="sip_policy")
    return caplog


def named(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == event]


def acme(holder: PolicyHolder) -> str:
    return holder.decide({"tenant": "acme"}, "sip").outcome.instructions


def revision_of(text: str, rules: Path) -> str:
    return policy.loads(text, base_dir=rules.parent).revision


def test_truncate_then_write_in_place_never_adopts_the_empty_or_half_file(
    rules: Path, events: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    first = holder.revision
    text = good(1)
    adopted = {holder.revision}
    with rules.open("r+") as f:  # the way `open(path, "w")` and many editors save
        f.truncate(0)
        f.flush()
        holder.poll()
        adopted.add(holder.revision)
        for cut in (len(text) // 3, 2 * len(text) // 3, len(text)):
            f.seek(0)
            f.write(text[:cut])
            f.flush()
            clock.advance(SETTLE / 4)  # the writer is quicker than the settle interval
            holder.poll()
            adopted.add(holder.revision)
    clock.advance(SETTLE)
    assert holder.poll() is True
    assert adopted == {first}  # neither the emptied nor a half-written file was adopted
    assert acme(holder) == "You are Acme support, version 1."
    assert holder.failures == 0  # nothing half-written was even compiled
    assert not named(events, "policy.reload_failed")


@pytest.mark.parametrize(
    ("cut", "code"),
    [(0, "empty-rules"), ("    when:\n", "empty-when"), ("  - name: acme\n", "empty-when")],
)
def test_a_writer_that_dies_mid_file_is_refused_and_logged_once(
    rules: Path, events: pytest.LogCaptureFixture, cut: int | str, code: str
) -> None:
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    good_revision = holder.revision
    text = good(1)
    rules.write_text("" if cut == 0 else text[: text.index(str(cut)) + len(str(cut))])
    for _ in range(6):  # it settles, is refused, then retried with backoff
        holder.poll()
        clock.advance(40)
    assert holder.revision == good_revision
    assert acme(holder) == "You are Acme support, version 0."
    assert holder.decide({}, "standard").rule is None  # nobody caught by a half rule
    [failed] = named(events, "policy.reload_failed")
    assert [d["code"] for d in failed.diagnostics] == [code]  # type: ignore[attr-defined]
    assert failed.kept_revision == good_revision  # type: ignore[attr-defined]


def test_a_slow_writer_is_adopted_once_it_stops(rules: Path) -> None:
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    text = good(2)
    with rules.open("w") as f:
        for i in range(0, len(text), 16):  # 16 bytes at a time, a poll between each
            f.write(text[i : i + 16])
            f.flush()
            clock.advance(SETTLE * 0.9)
            assert holder.poll() is False
    clock.advance(SETTLE)
    assert holder.poll() is True
    assert holder.reloads == 1 and holder.failures == 0
    assert acme(holder) == "You are Acme support, version 2."


def test_fifty_edits_a_second_adopt_the_last_one(rules: Path) -> None:
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    for n in range(1, 51):
        rules.write_text(good(n))
        clock.advance(0.02)
        holder.poll()
    assert holder.reloads == 0  # never still long enough to be taken
    clock.advance(SETTLE)
    assert holder.poll() is True
    assert holder.reloads == 1
    assert holder.revision == revision_of(good(50), rules)


def test_fifty_edits_a_second_with_a_real_watcher_end_in_step_with_the_disk(rules: Path) -> None:
    """A watching thread and a writing thread at full speed: whatever the interleaving,
    every revision adopted is one of the complete files, and the holder ends on the last."""
    holder = PolicyHolder.load(rules, settle=0.05)
    valid = {revision_of(good(n), rules) for n in range(51)}
    seen: set[str] = set()
    stop = holder.watch_in_thread(0.005)
    done = threading.Event()

    def writer() -> None:
        for n in range(1, 51):
            with rules.open("w") as f:  # truncate, then write in two pieces
                text = good(n)
                f.write(text[: len(text) // 2])
                f.flush()
                f.write(text[len(text) // 2 :])
            done.wait(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    while thread.is_alive():
        seen.add(holder.revision)
        done.wait(0.001)
    last = revision_of(good(50), rules)
    for _ in range(2000):  # a hang guard, not a timing: the state is what is checked
        seen.add(holder.revision)
        if holder.revision == last:
            break
        done.wait(0.01)
    stop.set()
    assert holder.revision == last
    assert seen <= valid


def test_an_edit_during_a_compile_is_picked_up_next_poll(rules: Path) -> None:
    """The second save lands while the first is being compiled: what was seen is recorded
    before the load, so the next poll loads again and the holder ends with the disk."""
    landed: list[str] = []

    def loader(path: Path) -> policy.Policy:
        loaded = policy.load(path)
        if not landed:
            landed.append("edit")
            rules.write_text(good(2))  # saved while `good(1)` compiles
        return loaded

    holder = PolicyHolder.load(rules, loader=loader, settle=0)
    landed.clear()
    rules.write_text(good(1))
    assert holder.poll() is True
    assert acme(holder) == "You are Acme support, version 1."
    assert holder.poll() is True
    assert holder.revision == revision_of(good(2), rules)
    assert holder.poll() is False


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder refuses new entries, for root too (root ignores permission bits, not the
    immutable attribute)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("chattr is needed to make a folder read-only for root")
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("this filesystem has no immutable attribute")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_snapshot_folder_is_published_to_once_it_is_writable(
    rules: Path, tmp_path: Path, events: pytest.LogCaptureFixture
) -> None:
    snapshots = tmp_path / "snapshots"
    attempts: list[str] = []

    def publish(p: policy.Policy) -> None:
        attempts.append(p.revision)
        publish_snapshot(p, snapshots)

    clock = Clock()
    holder = PolicyHolder.load(rules, on_reload=publish, clock=clock, settle=0)
    assert holder.deliver() is True
    follower = PolicyHolder.follow(snapshots)
    with read_only(snapshots):
        rules.write_text(good(1))
        assert holder.poll() is True  # the main process takes it...
        for _ in range(5):
            holder.poll()  # ...and does not hammer the folder: retried after a backoff
        assert len(attempts) == 2
        clock.advance(1)
        holder.poll()
        assert len(attempts) == 3
        assert follower.poll() is False  # job processes keep the last published
    clock.advance(60)
    holder.poll()
    assert (snapshots / POINTER).read_text().startswith(holder.revision)
    assert follower.poll() is True
    assert acme(follower) == "You are Acme support, version 1."
    assert len(named(events, "policy.publish_failed")) == 1
    assert len(named(events, "policy.published")) == 1


def configmap(folder: Path, version: str, n: int) -> None:
    """What the kubelet does: write a new timestamped folder, then flip `..data` to it."""
    stamped = folder / f"..2026_11_29_{version}"
    (stamped / "prompts").mkdir(parents=True)
    (stamped / "rules.yaml").write_text(good(n))
    (stamped / "prompts" / "main.md").write_text(f"Default assistant {n}.\n")
    tmp = folder / "..data_tmp"
    tmp.symlink_to(stamped.name)
    os.replace(tmp, folder / "..data")
    for name in ("rules.yaml", "prompts"):
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(f"..data/{name}")


def test_a_kubernetes_configmap_symlink_swap_is_adopted_whole(tmp_path: Path) -> None:
    mount = tmp_path / "config"
    mount.mkdir()
    configmap(mount, "a", 1)
    clock = Clock()
    snapshots = tmp_path / "snapshots"
    holder = PolicyHolder.load(
        mount / "rules.yaml",
        clock=clock,
        on_reload=lambda p: publish_snapshot(p, snapshots),
    )
    holder.deliver()
    configmap(mount, "b", 2)
    shutil.rmtree(mount / "..2026_11_29_a")  # the kubelet removes the old folder
    holder.poll()
    clock.advance(SETTLE)
    assert holder.poll() is True
    assert acme(holder) == "You are Acme support, version 2."
    assert holder.decide({}, "sip").outcome.instructions == "Default assistant 2.\n"
    follower = PolicyHolder.follow(snapshots)
    assert follower.revision == holder.revision


@pytest.mark.parametrize("fault", ["deleted", "directory"])
def test_a_deleted_file_or_a_directory_in_its_place_keeps_the_last_good(
    rules: Path, events: pytest.LogCaptureFixture, fault: str
) -> None:
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    good_revision = holder.revision
    rules.unlink()
    if fault == "directory":
        rules.mkdir()
    for _ in range(4):
        holder.poll()
        clock.advance(40)
    assert holder.revision == good_revision
    [failed] = named(events, "policy.reload_failed")
    assert [d["code"] for d in failed.diagnostics] == ["missing-file"]  # type: ignore[attr-defined]
    if fault == "directory":
        rules.rmdir()
    rules.write_text(good(3))
    holder.poll()
    clock.advance(SETTLE)
    assert holder.poll() is True
    assert acme(holder) == "You are Acme support, version 3."
