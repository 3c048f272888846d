"""Fixtures for the livekit adapter tests; the harness itself is in lk_harness.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from lk_harness import HERE, JsonLines


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    handler = JsonLines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """The test rules in a folder of their own, free to edit."""
    for name in ("rules.yaml", "support.md"):
        (tmp_path / name).write_text((HERE / name).read_text())
    return tmp_path / "rules.yaml"
