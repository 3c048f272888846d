"""Hot reload: valid edits swap in, invalid edits keep the last good policy, snapshots."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from policy.watch import POINTER, SETTLE, PolicyHolder, fingerprint, publish_snapshot

#: Wall-clock safety net for waits on the watcher; never reached by a passing run.
HANG_S = 600

RULES = """\
defaults:
  llm: openai/gpt-4.1-mini
  instructions_file: prompts/main.md
rules:
  - name: acme
    when:
      tenant: acme
    set:
      instructions: You are Acme support.
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "main.md").write_text("You are the default assistant.\n")
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


class Clock:
    """A clock the test moves: settle intervals and retry delays without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settled_poll(holder: PolicyHolder, clock: Clock) -> bool:
    """What a watcher sees across a settle interval: the edit, then the same files still."""
    first = holder.poll()
    clock.advance(SETTLE)
    return holder.poll() or first


def instructions(holder: PolicyHolder, **attrs: str) -> str:
    return holder.decide(attrs, "sip").outcome.instructions.strip()


def test_fingerprint_sees_an_edit_that_keeps_size_and_mtime(tmp_path: Path) -> None:
    f = tmp_path / "a.md"
    f.write_text("hello")
    st = f.stat()
    before = fingerprint([f])
    f.write_text("jello")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert fingerprint([f]) != before
    assert fingerprint([tmp_path / "missing"]) == ((str(tmp_path / "missing"), -1, -1, ""),)


def test_a_valid_edit_of_a_referenced_file_swaps_the_policy(rules: Path) -> None:
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    first = holder.revision
    assert holder.poll() is False
    (rules.parent / "prompts" / "main.md").write_text("You are the new assistant.\n")
    assert holder.poll() is False  # not yet: the file must stay still for SETTLE seconds
    clock.advance(SETTLE)
    assert holder.poll() is True
    assert holder.revision != first
    decision = holder.decide({}, "sip")
    assert decision.revision == holder.revision
    assert decision.outcome.instructions.strip() == "You are the new assistant."


def test_an_invalid_edit_is_logged_once_and_the_last_good_policy_stays(
    rules: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sip_policy")
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    good = holder.revision
    rules.write_text(RULES.replace("tenant: acme", "tenant: {prefx: ac}").replace("llm:", "lm:"))
    assert settled_poll(holder, clock) is False
    for _ in range(5):  # retried with backoff, never logged again
        clock.advance(60)
        assert holder.poll() is False
    assert holder.revision == good
    assert instructions(holder, tenant="acme") == "You are Acme support."
    failed = [r for r in caplog.records if r.getMessage() == "policy.reload_failed"]
    assert len(failed) == 1
    assert failed[0].kept_revision == good  # type: ignore[attr-defined]
    assert failed[0].count == len(failed[0].diagnostics) >= 2  # type: ignore[attr-defined]
    rules.write_text(RULES)
    assert settled_poll(holder, clock) is False  # the same revision is back: nothing to swap
    assert holder.failure is None
    assert len([r for r in caplog.records if r.getMessage() == "policy.reloaded"]) == 1


def test_creating_a_missing_instructions_file_fixes_a_broken_edit(rules: Path) -> None:
    clock = Clock()
    holder = PolicyHolder.load(rules, clock=clock)
    rules.write_text(RULES.replace("prompts/main.md", "prompts/new.md"))
    assert settled_poll(holder, clock) is False
    (rules.parent / "prompts" / "new.md").write_text("You are brand new.\n")
    assert holder.poll() is False  # the refused edit is retried after a backoff
    clock.advance(30)
    assert holder.poll() is True
    assert instructions(holder) == "You are brand new."


async def test_watch_reloads_off_the_event_loop(
    rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = PolicyHolder.load(rules, settle=0)
    # Bounded by steps, not by time: the fingerprint hashes the file, so the first poll that
    # starts after the edit must reload it, however long the machine takes to get there.
    poll = holder.poll
    edited = False
    polls_after_edit = 0

    def counted_poll() -> bool:
        nonlocal polls_after_edit
        after = edited
        changed = poll()
        polls_after_edit += after
        return changed

    monkeypatch.setattr(holder, "poll", counted_poll)
    task = asyncio.create_task(holder.watch(interval=0.01))
    try:
        rules.write_text(RULES.replace("Acme support", "Acme help"))
        edited = True

        async def one_poll_after_the_edit() -> None:
            while not polls_after_edit:
                await asyncio.sleep(0.01)

        # the wall-clock limit is only a safety net against a watcher that stopped polling
        await asyncio.wait_for(one_poll_after_the_edit(), timeout=HANG_S)
        assert instructions(holder, tenant="acme") == "You are Acme help."
    finally:
        task.cancel()


def test_snapshots_are_validated_copies_that_followers_pick_up(rules: Path, tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    clock = Clock()
    holder = PolicyHolder.load(
        rules, on_reload=lambda p: publish_snapshot(p, snapshots), clock=clock
    )
    copy = publish_snapshot(holder.current, snapshots)
    assert copy == snapshots / holder.revision / "rules.yaml"
    assert (copy.parent / "prompts" / "main.md").exists()
    follower = PolicyHolder.follow(snapshots)
    assert follower.revision == holder.revision
    assert follower.poll() is False

    rules.write_text("rules: [")  # broken: not published
    assert settled_poll(holder, clock) is False
    assert follower.poll() is False

    rules.write_text(RULES.replace("Acme support", "Acme care"))
    assert settled_poll(holder, clock) is True
    assert (snapshots / POINTER).read_text().startswith(holder.revision)
    assert follower.poll() is True
    assert instructions(follower, tenant="acme") == "You are Acme care."


def test_old_snapshots_are_pruned(rules: Path, tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    holder = PolicyHolder.load(rules, settle=0)
    for i in range(4):
        rules.write_text(RULES.replace("Acme support", f"Acme {i}"))
        holder.poll()
        publish_snapshot(holder.current, snapshots, keep=2)
    kept = [d for d in snapshots.iterdir() if d.is_dir()]
    assert len(kept) == 2
    assert (snapshots / holder.revision).is_dir()
