"""`sip-policy watch`, run as the rule editor runs it: a real subprocess, real saves."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = "rules:\n  - name: acme\n    when: {{tenant: acme}}\n    set: {{llm: openai/gpt-4.1-mini, instructions: v{n}}}\n"
#: A hang guard: how long to wait for a line before calling the test failed.
HANG = 60


class Watch:
    """`sip-policy watch` in the background; `next()` is its next stdout line."""

    def __init__(self, *args: str, prefix: list[str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        env["NO_COLOR"] = "1"
        self.proc = subprocess.Popen(
            [*(prefix or []), sys.executable, "-m", "policy", "watch", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next(self) -> str:
        try:
            return self.lines.get(timeout=HANG)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"no line from `sip-policy watch`: {self.stderr()}") from None

    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.next())
        return data

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=HANG)

    def stderr(self) -> str:
        self.proc.wait(timeout=HANG)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.format(n=0))
    return path


@pytest.fixture
def watch(rules: Path) -> Iterator[Watch]:
    w = Watch(str(rules), "--format", "json", "--interval", "0.05", "--settle", "0.1")
    yield w
    if w.proc.poll() is None:
        w.stop()


def test_json_one_object_per_accepted_and_refused_edit(rules: Path, watch: Watch) -> None:
    first = watch.event()
    assert first["event"] == "accepted"
    assert first["previous_revision"] is None and first["rules"] == 1
    rules.write_text("rules:\n  - name: acme\n    when:\n")  # cut off mid-rule
    refused = watch.event()
    assert refused["event"] == "refused"
    assert refused["kept_revision"] == first["revision"]
    assert [d["code"] for d in refused["diagnostics"]] == ["empty-when"]
    assert refused["diagnostics"][0]["line"] == 3
    rules.write_text("")  # emptied
    assert [d["code"] for d in watch.event()["diagnostics"]] == ["empty-rules"]
    rules.write_text(GOOD.format(n=1))
    accepted = watch.event()
    assert accepted["event"] == "accepted"
    assert accepted["previous_revision"] == first["revision"] != accepted["revision"]
    watch.stop()
    assert watch.lines.empty()  # one line per edit, nothing else on stdout


def test_text_lines_for_the_rule_editor(rules: Path) -> None:
    rules.write_text("rules:\n  - name: acme\n    set: {llm: openai/gpt-4.1-mini}\n")
    w = Watch(str(rules), "--interval", "0.05", "--settle", "0.1")
    try:
        line = w.next()
        assert line.endswith(f"{rules}: refused: 1 error; no valid rules yet")
        rules.write_text(GOOD.format(n=2))
        assert ": accepted: 1 rule, 0 warnings (revision " in w.next()
    finally:
        w.stop()
    err = w.stderr()
    assert f"watching {rules}" in err
    assert "error[empty-when]: rule `acme` has no conditions under `when:`" in err


def as_unprivileged() -> list[str]:
    """A prefix that makes permission bits hold: root reads anything unless it drops the
    capability to bypass them."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed to deny root a read")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_permission_denied_is_refused_then_recovered(rules: Path) -> None:
    w = Watch(
        str(rules), "--format", "json", "--interval", "0.05", "--settle", "0.1",
        prefix=as_unprivileged(),
    )  # fmt: skip
    try:
        first = w.event()
        assert first["event"] == "accepted"
        rules.chmod(0)
        refused = w.event()
        assert refused["event"] == "refused"
        assert refused["kept_revision"] == first["revision"]
        [diag] = refused["diagnostics"]
        assert diag["code"] == "missing-file" and "Permission denied" in diag["message"]
        rules.chmod(0o644)
        rules.write_text(GOOD.format(n=3))
        assert w.event()["event"] == "accepted"
    finally:
        rules.chmod(0o644)
        w.stop()
