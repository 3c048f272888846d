"""The docs show real output: every ```console block whose command is `sip-policy check`,
right after a ```yaml block, is run on that YAML (as rules.yaml, in a folder with the sample's prompts/) and
must print exactly what the docs show, so the docs cannot drift from the tool again.

Only the revision hash is ignored. A block that needs files the page does not show is
marked with `<!-- not run: why -->` just before its ```yaml block."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["guide.md", "reference.md", "errors.md", "telephony.md"]
PAIR = re.compile(
    r"(?P<skip><!-- not run[^>]*-->\s*)?```yaml\n(?P<yaml>(?:(?!```).)*?)```\s*\n```console\n"
    r"\$ (?P<command>sip-policy check[^\n]*)\n(?P<output>.*?)```",
    re.DOTALL,
)
REVISION = re.compile(r"\(revision [0-9a-f]{12}\)")


def _examples() -> list[object]:
    out = []
    for page in PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for m in PAIR.finditer(text):
            if m["skip"]:
                continue
            line = text.count("\n", 0, m.start("yaml"))
            out.append(pytest.param(m["yaml"], m["command"], m["output"], id=f"{page}:{line}"))
    return out


EXAMPLES = _examples()


def test_the_docs_show_examples() -> None:
    assert len(EXAMPLES) >= 40


@pytest.mark.parametrize(("rules", "command", "shown"), EXAMPLES)
def test_docs_output_is_the_real_output(
    rules: str, command: str, shown: str, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")  # the prompts the examples name
    args = shlex.split(command)[1:]
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "policy", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    real = REVISION.sub("(revision …)", result.stderr + result.stdout)
    assert real == REVISION.sub("(revision …)", shown)
