"""The playground page in a real headless Chromium (Debian's `chromium`), driven by
Playwright: type an error and see it at its line, fix it, explain a caller, run the test
cases, save, and see an edit made elsewhere. The server is the real `sip-policy playground`
command on a copy of the sample. Writes the screenshot docs/playground.png.

Skipped, with the reason, only when there is no browser (see `.ci/run`, which installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "playground.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000


def find_chromium() -> str | None:
    given = os.environ.get("SIP_POLICY_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playground browser tests need Playwright: pip install -e '.[dev]'",
)
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found for the playground browser tests: install Debian's `chromium` "
    "(apt-get install chromium; .ci/run does) or set SIP_POLICY_CHROMIUM to a browser",
)


def copy_sample(to: Path) -> Path:
    for name in ("rules.yaml", "rules.tests.yaml"):
        shutil.copy(ROOT / name, to / name)
    shutil.copytree(ROOT / "prompts", to / "prompts")
    shutil.copytree(ROOT / "tests/fixtures/attributes", to / "tests/fixtures/attributes")
    return to / "rules.yaml"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


class Playground:
    """`sip-policy playground` running on `rules`, and a page open on it."""

    def __init__(self, rules: Path, context: Any) -> None:
        self.rules = rules
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "policy", "playground", rules.name, "--port", "0"],
            cwd=rules.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        self.url = self.proc.stdout.readline().removeprefix("open ").strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url
        self.page = context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.open()

    def open(self) -> None:
        self.page.goto(self.url)
        self.wait_checked()

    def wait_checked(self) -> None:
        self.page.wait_for_selector("body[data-state=checked]")

    def close(self) -> None:
        self.page.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def caret_after(self, line: int, text: str) -> None:
        """Put the caret just after `text` on `line`, as a click there would."""
        self.page.evaluate(
            """([line, text]) => {
                const editor = document.getElementById("editor");
                const lines = editor.value.split("\\n");
                let pos = 0;
                for (let i = 0; i < line - 1; i++) pos += lines[i].length + 1;
                pos += lines[line - 1].indexOf(text) + text.length;
                editor.focus();
                editor.setSelectionRange(pos, pos);
            }""",
            [line, text],
        )


@pytest.fixture
def playground(tmp_path: Path, browser: Any) -> Iterator[Playground]:
    pg = Playground(copy_sample(tmp_path), browser)
    try:
        yield pg
    finally:
        pg.close()
    assert pg.errors == []
    origin = pg.url.split("/?")[0] + "/"
    assert [u for u in pg.requests if not u.startswith((origin, "data:"))] == []  # offline


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line == needle)


def test_typing_an_error_shows_it_at_its_line_and_fixing_it_clears_it(
    playground: Playground,
) -> None:
    page = playground.page
    line = line_of(playground.rules, "  stt: deepgram/nova-3")
    assert page.locator("#problems li.clean").count() == 1
    playground.caret_after(line, "  st")
    page.keyboard.type("t")
    problem = page.locator(f'#problems li.error[data-line="{line}"]')
    problem.wait_for()
    assert "error[unknown-key]" in problem.inner_text()
    assert "`sttt` is not a known key here" in problem.inner_text()
    assert "help: did you mean `stt`?" in problem.inner_text()
    mark = page.locator(f'#marks .mark.error[data-line="{line}"]')
    assert "`sttt` is not a known key here" in mark.inner_text()
    assert page.locator(f'#gutter-marks .gmark.error[data-line="{line}"]').count() == 1
    assert page.locator("#numbers").inner_text().splitlines()[line - 1] == str(line)
    assert "help: did you mean `stt`?" in page.locator("#lineinfo").inner_text()
    assert page.locator("#dirty").is_visible()
    page.keyboard.press("Backspace")
    page.locator("#problems li.clean").wait_for()
    assert page.locator("#marks .mark").count() == 0


def test_explain_a_test_case_caller_and_a_caller_typed_in(playground: Playground) -> None:
    page = playground.page
    page.select_option(
        "#preset", label="the Spanish line gets Spanish speech recognition and instructions"
    )
    page.wait_for_selector("#decision")
    assert page.locator("#decision").inner_text() == "Rule spanish-line decides"
    stt = page.locator('#outcome tr[data-field="stt"]')
    assert stt.locator("td.value").inner_text() == "deepgram/nova-2-phonecall:es"
    assert stt.locator("td.from").inner_text() == "from profile:spanish"
    import policy

    names = policy.load(playground.rules).rule_names()
    steps = page.locator("#trace li")
    assert [steps.nth(i).get_attribute("data-rule") for i in range(steps.count())] == names
    decided = names.index("spanish-line")
    assert steps.nth(decided).locator(".badge").inner_text() == "MATCH"
    assert all(steps.nth(i).locator(".badge").inner_text() != "MATCH" for i in range(decided))

    # a warning does not stop the explanation; the answer follows the edit
    page.locator("#editor").press("Control+End")
    page.keyboard.type("  - name: late-sip\n    when: {kind: sip}\n")
    line = len(page.input_value("#editor").splitlines()) - 1
    warning = page.locator(f'#marks .mark.warning[data-line="{line}"]')
    warning.wait_for()
    assert "warning[unreachable-rule]: rule `late-sip` can never match" in warning.inner_text()
    page.locator('#trace li[data-rule="late-sip"]').wait_for()
    assert page.locator("#decision").inner_text() == "Rule spanish-line decides"
    page.screenshot(path=str(SCREENSHOT))

    page.select_option("#preset", label="a blank caller")
    page.fill("#kind", "standard")
    page.fill("#at", "")
    page.click("#explain")
    page.locator("#decision", has_text="web-visitors").wait_for()
    page.locator('#trace li[data-rule="web-visitors"] .badge', has_text="MATCH").wait_for()


def test_run_the_test_cases_pass_fail_and_unreached(playground: Playground) -> None:
    page = playground.page
    page.click('.tabs button[data-panel="tests"]')
    page.click("#run-tests")
    summary = page.locator("#test-summary")
    summary.filter(has_text=re.compile(r"^\d+ passed, 0 failed$")).wait_for()
    assert page.locator("#test-results li.pass").count() >= 5
    assert page.locator("#test-results li.fail").count() == 0

    text = playground.rules.read_text(encoding="utf-8")
    page.fill("#editor", text + "  - name: nobody-calls\n    when: {customer.tier: nobody}\n")
    page.fill(
        "#editor",
        page.input_value("#editor").replace(
            'stt: "deepgram/nova-2-phonecall:es"', 'stt: "deepgram/nova-3:es"', 1
        ),
    )
    playground.wait_checked()
    page.click("#run-tests")
    summary.filter(has_text=re.compile(r"^\d+ passed, [1-9]\d* failed$")).wait_for()
    failed = page.locator("#test-results li.fail").first
    assert "expected stt `deepgram/nova-2-phonecall:es`" in failed.inner_text()
    assert "nobody-calls" in page.locator("#unreached-rules").inner_text()
    assert playground.rules.read_text(encoding="utf-8") == text  # nothing was saved


def test_save_writes_the_file_and_asks_before_saving_errors(playground: Playground) -> None:
    page = playground.page
    rules = playground.rules
    text = rules.read_text(encoding="utf-8")
    line = line_of(rules, "  greeting: Hi, thanks for calling Acme. How can I help?")
    playground.caret_after(line, "How ")
    page.keyboard.press("Shift+End")
    page.keyboard.type("may I help you today?")
    playground.wait_checked()
    page.click("#save")
    page.locator("body[data-state=saved]").wait_for()
    saved = text.replace("How can I help?", "How may I help you today?", 1)
    assert rules.read_text(encoding="utf-8") == saved
    assert not page.locator("#dirty").is_visible()

    page.locator("#editor").press("Control+End")
    page.keyboard.type("  - name: broken\n    when: {sip.phoneNumber: {prefix: 1510}}\n")
    playground.wait_checked()
    page.keyboard.press("Control+s")
    page.locator("#confirm").wait_for()
    assert "Not saved: this version has 1 error" in page.locator("#confirm-message").inner_text()
    assert rules.read_text(encoding="utf-8") == saved
    page.click("#confirm-save")
    page.locator("body[data-state=saved]").wait_for()
    assert rules.read_text(encoding="utf-8").endswith("prefix: 1510}}\n")
    assert [p.name for p in rules.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_an_edit_in_another_editor_shows_up_with_its_problems(playground: Playground) -> None:
    page = playground.page
    rules = playground.rules
    text = rules.read_text(encoding="utf-8")
    line = line_of(rules, "  tts: cartesia/sonic-2")
    rules.write_text(text.replace("  tts: cartesia/sonic-2", "  ttts: cartesia/sonic-2", 1))
    page.locator(f'#problems li.error[data-line="{line}"]').wait_for()  # by polling
    assert "ttts" in page.input_value("#editor")
    rules.write_text(text, encoding="utf-8")
    page.locator("#problems li.clean").wait_for()
    playground.caret_after(1, "#")
    page.keyboard.type(" mine")
    rules.write_text(text + "# theirs\n", encoding="utf-8")
    page.locator("#disk-changed").wait_for()  # unsaved edits here are not thrown away
    assert page.input_value("#editor").startswith("# mine")
    page.reload()
    playground.wait_checked()
    assert page.input_value("#editor").endswith("# theirs\n")
    rules.write_bytes(b"# caf\xe9\n" + text.encode())
    page.locator("#disk-problem", has_text="is not UTF-8 text (byte 5)").wait_for()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_changes_against_the_last_commit(playground: Playground) -> None:
    page = playground.page
    folder = playground.rules.parent
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "rules"]):
        subprocess.run(["git", *cmd], cwd=folder, check=True, env=env, capture_output=True)
    line = line_of(playground.rules, "  llm: openai/gpt-4.1-mini")
    playground.caret_after(line, "gpt-4.1")
    page.keyboard.press("Shift+End")
    page.keyboard.type("-nano")
    playground.wait_checked()
    page.click('.tabs button[data-panel="changes"]')
    page.click("#show-diff")
    page.locator("#diff .add", has_text="+  llm: openai/gpt-4.1-nano").wait_for()
    assert page.locator("#diff .del", has_text="-  llm: openai/gpt-4.1-mini").count() == 1
    assert page.locator("#diff-callers").inner_text() != ""


def test_a_policy_with_a_1000_row_table(tmp_path: Path, browser: Any) -> None:
    """Works without lag: the check round trip is printed (`pytest -s`), never asserted."""
    rows = "\n".join(f"+1510555{i:04d},row-{i % 7}" for i in range(1000))
    (tmp_path / "numbers.csv").write_text(f"sip.trunkPhoneNumber,use\n{rows}\n", encoding="utf-8")
    profiles = "\n".join(f"  row-{i}: {{greeting: Hello {i}}}" for i in range(7))
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"profiles:\n{profiles}\nrules:\n  - name: numbers\n    table: numbers.csv\n",
        encoding="utf-8",
    )
    pg = Playground(rules, browser)
    try:
        page = pg.page
        assert "ok: 1000 rules" in page.locator("#status").inner_text()
        timings = []
        for _ in range(3):
            page.locator("#editor").press("End")
            page.keyboard.type("#")
            pg.wait_checked()
            timings.append(int(page.locator("body").get_attribute("data-round-trip-ms") or 0))
            page.keyboard.press("Backspace")
            pg.wait_checked()
        print(f"\n1,000-row table: check round trips {timings} ms")
        for key, value in (("sip.trunkPhoneNumber", "+15105550999"),):
            page.fill("#attrs tbody tr:first-child .attr-name", key)
            page.fill("#attrs tbody tr:first-child .attr-value", value)
        start = time.perf_counter()
        page.click("#explain")
        page.locator("#decision", has_text="numbers:1001").wait_for()
        print(f"1,000-row table: explain shown in {(time.perf_counter() - start) * 1000:.0f} ms")
        assert page.locator("#trace li").count() == 1000
    finally:
        pg.close()
    assert pg.errors == []
