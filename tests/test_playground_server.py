"""The playground's server over plain HTTP: its answers, its saves, and the requests it
refuses (token, origin, host, paths). A real server on a real socket, on copies of the
sample files."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from policy.playground.security import Guard
from policy.playground.server import PlaygroundServer
from policy.playground.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent


def copy_sample(to: Path) -> Path:
    """The sample rules, their test cases, prompts and fixture callers, in `to`."""
    for name in ("rules.yaml", "rules.tests.yaml"):
        shutil.copy(ROOT / name, to / name)
    shutil.copytree(ROOT / "prompts", to / "prompts")
    shutil.copytree(ROOT / "tests/fixtures/attributes", to / "tests/fixtures/attributes")
    return to / "rules.yaml"


@dataclass
class Client:
    server: PlaygroundServer

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "header",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        sent = {"Host": self.host}
        if token == "header":
            sent["X-Playground-Token"] = self.server.token
        elif token is not None:
            sent["X-Playground-Token"] = token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in sent.items():
            conn.putheader(name, value)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        out = (response.status, dict(response.getheaders()), response.read())
        conn.close()
        return out

    def post(self, path: str, body: Any) -> dict[str, Any]:
        status, _, data = self.request("POST", path, body)
        assert status == 200, data
        answer: dict[str, Any] = json.loads(data)
        return answer

    def get(self, path: str) -> dict[str, Any]:
        status, _, data = self.request("GET", path)
        assert status == 200, data
        answer: dict[str, Any] = json.loads(data)
        return answer


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return copy_sample(tmp_path)


@pytest.fixture
def client(rules: Path) -> Iterator[Client]:
    server = PlaygroundServer(Workspace(rules), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Client(server)
    finally:
        server.shutdown()
        server.server_close()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line == needle)


# ---- what it answers -----------------------------------------------------------------------


def test_check_points_at_the_line_with_its_help(client: Client, rules: Path) -> None:
    text = rules.read_text(encoding="utf-8")
    assert client.post("/api/check", {"text": text})["ok"] is True
    broken = text.replace("  stt: deepgram/nova-3\n", "  sttt: deepgram/nova-3\n", 1)
    answer = client.post("/api/check", {"text": broken})
    assert (answer["ok"], answer["errors"]) == (False, 1)
    [d] = answer["diagnostics"]
    assert (d["line"], d["column"], d["code"]) == (
        line_of(text, "  stt: deepgram/nova-3"),
        3,
        "unknown-key",
    )
    assert d["here"] is True
    assert "did you mean `stt`?" in d["help"]
    assert d["text"].startswith(f"{rules}:{d['line']}:3: error[unknown-key]")


def test_a_problem_in_a_referenced_file_says_which_file(client: Client, rules: Path) -> None:
    text = rules.read_text(encoding="utf-8").replace("prompts/support.md", "prompts/nope.md")
    [d] = client.post("/api/check", {"text": text})["diagnostics"]
    assert d["code"] == "missing-file"
    assert d["here"] is True  # the line that names the missing file
    (rules.parent / "numbers.csv").write_text("sip.trunkID,use\nST_x,nosuch\n", encoding="utf-8")
    table = text.replace("prompts/nope.md", "prompts/support.md") + (
        "  - {name: hosted, table: numbers.csv}\n"
    )
    [d] = client.post("/api/check", {"text": table})["diagnostics"]
    assert (d["file"], d["line"], d["here"]) == (str(rules.parent / "numbers.csv"), 2, False)


def test_explain_a_caller_decision_outcome_sources_and_trace(client: Client, rules: Path) -> None:
    text = rules.read_text(encoding="utf-8")
    caller = {
        "attributes": {
            "sip.phoneNumber": "+34911234567",
            "sip.trunkPhoneNumber": "+15105550123",
        },
        "kind": "sip",
        "at": "2026-12-22T10:00:00-08:00",
    }
    answer = client.post("/api/explain", {"text": text, "caller": caller})
    assert answer["rule"] == "spanish-line"
    assert answer["rule_line"] == line_of(text, "  - name: spanish-line")
    assert answer["outcome"]["stt"] == "deepgram/nova-2-phonecall:es"
    assert answer["outcome"]["sources"]["stt"] == "profile:spanish"
    import policy

    assert [s["rule"] for s in answer["trace"]] == policy.load(rules).rule_names()
    bad = client.request("POST", "/api/explain", {"text": text, "caller": {"at": "someday"}})
    assert bad[0] == 400 and b"is not a date and time" in bad[2]
    errors = text.replace("  stt: deepgram/nova-3\n", "  sttt: x\n", 1)
    assert client.post("/api/explain", {"text": errors, "caller": caller})["ok"] is False


def test_run_the_test_cases_of_the_edit(client: Client, rules: Path) -> None:
    text = rules.read_text(encoding="utf-8")
    answer = client.post("/api/test", {"text": text})
    assert answer["failed"] == 0 and answer["passed"] >= 5
    moved = text.replace('stt: "deepgram/nova-2-phonecall:es"', 'stt: "deepgram/nova-3:es"')
    answer = client.post("/api/test", {"text": moved})
    failed = [c for c in answer["cases"] if not c["passed"]]
    assert failed and answer["failed"] == len(failed)
    assert (
        "expected stt `deepgram/nova-2-phonecall:es`, got `deepgram/nova-3:es`"
        in failed[0]["failures"]
    )
    extra = text + "  - name: nobody\n    when: {customer.tier: nobody}\n"
    assert "nobody" in client.post("/api/test", {"text": extra})["unreached"]


def test_presets_are_the_test_cases_and_the_fixture_callers(client: Client) -> None:
    presets = client.get("/api/presets")["presets"]
    groups = {p["group"] for p in presets}
    assert groups == {"test cases", "fixture callers"}
    twilio = next(p for p in presets if p["label"] == "twilio-inbound-active")
    assert twilio["attributes"]["sip.phoneNumber"] == "+14155550123"
    spanish = next(p for p in presets if p["label"].startswith("the Spanish line"))
    assert spanish["at"] == "2026-12-22T10:00:00-08:00"
    assert spanish["attributes"]["sip.trunkPhoneNumber"] == "+15105550123"


# ---- the file on disk ----------------------------------------------------------------------


def test_the_page_reads_what_is_on_disk(client: Client, rules: Path) -> None:
    first = client.get("/api/file")
    assert first["text"] == rules.read_text(encoding="utf-8")
    rules.write_text(first["text"] + "# edited elsewhere\n", encoding="utf-8")
    assert client.get("/api/version")["version"] != first["version"]
    assert client.get("/api/file")["text"].endswith("# edited elsewhere\n")


def test_save_writes_atomically_only_when_clean_or_confirmed(client: Client, rules: Path) -> None:
    disk = client.get("/api/file")
    edited = disk["text"].replace("How can I help?", "How may I help?", 1)
    saved = client.post("/api/save", {"text": edited, "base": disk["version"]})
    assert saved["saved"] is True
    assert rules.read_text(encoding="utf-8") == edited
    assert saved["version"] == client.get("/api/version")["version"]
    broken = edited.replace("  stt: deepgram/nova-3\n", "  sttt: deepgram/nova-3\n", 1)
    refused = client.post("/api/save", {"text": broken, "base": saved["version"]})
    assert (refused["saved"], refused["reason"]) == (False, "errors")
    assert rules.read_text(encoding="utf-8") == edited
    forced = client.post("/api/save", {"text": broken, "base": saved["version"], "confirm": True})
    assert forced["saved"] is True and rules.read_text(encoding="utf-8") == broken
    assert sorted(p.name for p in rules.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_a_file_that_is_not_utf8_says_so(client: Client, rules: Path) -> None:
    rules.write_bytes(b"# caf\xe9\nrules: []\n")
    disk = client.get("/api/file")
    assert disk["problem"].startswith(f"`{rules}` is not UTF-8 text (byte 5)")
    assert disk["text"] == "# caf\ufffd\nrules: []\n"


def test_save_refuses_to_overwrite_an_edit_made_elsewhere(client: Client, rules: Path) -> None:
    disk = client.get("/api/file")
    rules.write_text(disk["text"] + "# theirs\n", encoding="utf-8")
    mine = disk["text"] + "# mine\n"
    refused = client.post("/api/save", {"text": mine, "base": disk["version"]})
    assert (refused["saved"], refused["reason"]) == (False, "changed")
    assert rules.read_text(encoding="utf-8").endswith("# theirs\n")
    client.post("/api/save", {"text": mine, "base": disk["version"], "confirm": True})
    assert rules.read_text(encoding="utf-8").endswith("# mine\n")


def test_save_keeps_line_endings_and_permissions(client: Client, rules: Path) -> None:
    rules.write_bytes(rules.read_bytes().replace(b"\n", b"\r\n"))
    rules.chmod(0o640)
    disk = client.get("/api/file")
    assert "\r" not in disk["text"]
    client.post("/api/save", {"text": disk["text"] + "# more\n", "base": disk["version"]})
    data = rules.read_bytes()
    assert data.endswith(b"# more\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert rules.stat().st_mode & 0o777 == 0o640


def test_a_new_file_is_created_by_the_first_save(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "new.yaml")
    assert ws.read().exists is False and ws.read().text == ""
    text = "rules:\n  - name: all\n    when: {kind: sip}\n"
    assert ws.save(text, ws.read().version, confirm=False)["saved"] is True
    assert (tmp_path / "new.yaml").read_text(encoding="utf-8") == text
    ws.warm_up()  # a file without test cases is fine too


# ---- the last committed version ------------------------------------------------------------


def test_changes_outside_git_say_so(client: Client) -> None:
    text = client.get("/api/file")["text"]
    answer = client.post("/api/diff", {"text": text})
    assert answer["committed"] is False
    assert "not in a git repository" in answer["message"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_changes_against_the_last_commit(client: Client, rules: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "rules"]):
        subprocess.run(["git", *cmd], cwd=rules.parent, check=True, env=env, capture_output=True)
    text = client.get("/api/file")["text"]
    same = client.post("/api/diff", {"text": text})
    assert (same["committed"], same["changed"], same["message"]) == (
        True,
        False,
        "no change since the last commit",
    )
    edited = text.replace("How can I help?", "How may I help?", 1)
    answer = client.post("/api/diff", {"text": edited})
    assert "-  greeting: Hi, thanks for calling Acme. How can I help?" in answer["lines"]
    assert "+  greeting: Hi, thanks for calling Acme. How may I help?" in answer["lines"]
    callers = answer["callers"]
    if importlib.util.find_spec("policy.diff") is None:
        assert callers == {
            "available": False,
            "message": "diff not available: this version of sip-policy has no `sip-policy diff`",
        }
    else:  # wired to `sip-policy diff` (issue 12): callers of the defaults get a new greeting
        assert callers["available"] is True, callers
        assert callers["changed"] is True
        assert '"Hi, thanks for calling Acme. How may I help?"' in callers["text"]


# ---- what it refuses ------------------------------------------------------------------------


def test_every_request_needs_the_token(client: Client) -> None:
    for path in ("/", "/api/file", "/static/playground.js"):
        assert client.request("GET", path, token=None)[0] == 403
        assert client.request("GET", path, token="wrong")[0] == 403
        assert client.request("GET", f"{path}?token=wrong", token=None)[0] == 403
        assert client.request("GET", f"{path}?token={client.server.token}", token=None)[0] == 200
    assert client.request("POST", "/api/save", {"text": "x"}, token=None)[0] == 403


def test_the_page_carries_the_token_and_no_cors(client: Client) -> None:
    status, headers, page = client.request("GET", f"/?token={client.server.token}", token=None)
    assert status == 200
    assert f'content="{client.server.token}"'.encode() in page
    assert not [h for h in headers if h.lower().startswith("access-control")]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_requests_from_other_sites_are_refused(client: Client) -> None:
    own = f"http://{client.host}"
    assert client.request("GET", "/api/file", headers={"Origin": own})[0] == 200
    assert client.request("POST", "/api/check", {"text": ""}, headers={"Origin": own})[0] == 200
    for origin in (
        "http://evil.example",
        "null",
        f"http://localhost.evil.example:{client.server.port}",
    ):
        assert (
            client.request("POST", "/api/save", {"text": ""}, headers={"Origin": origin})[0] == 403
        )
    for site in ("cross-site", "same-site"):  # same-site: another port of this machine
        assert client.request("GET", "/api/file", headers={"Sec-Fetch-Site": site})[0] == 403
    assert client.request("GET", "/api/file", headers={"Sec-Fetch-Site": "same-origin"})[0] == 200


def test_a_wrong_host_is_refused(client: Client) -> None:
    port = client.server.port
    for host in (f"evil.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", ""):
        assert client.request("GET", "/api/file", headers={"Host": host})[0] == 403, host
    for host in (f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert client.request("GET", "/api/file", headers={"Host": host})[0] == 200, host


def test_only_the_static_files_are_served(client: Client) -> None:
    for path in (
        "/static/../server.py",
        "/static/..%2fserver.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static//etc/passwd",
        "/../../../../etc/passwd",
        "/static/",
        "/server.py",
        "/rules.yaml",
    ):
        assert client.request("GET", path)[0] == 404, path


def test_a_request_too_large_is_refused_before_it_is_read(client: Client) -> None:
    json_type = {"Content-Type": "application/json"}
    huge = {"Content-Length": str(41 * 1024 * 1024)}
    assert client.request("POST", "/api/check", None, headers=huge | json_type)[0] == 413
    assert client.request("POST", "/api/check", None, headers=json_type)[0] == 411


def test_posts_must_be_json(client: Client) -> None:
    plain = {"Content-Type": "text/plain"}
    assert client.request("POST", "/api/check", {"text": ""}, headers=plain)[0] == 415
    assert client.request("POST", "/api/check", [1])[0] == 400
    assert client.request("POST", "/api/check", {"text": 3})[0] == 400


def test_a_wildcard_bind_accepts_addresses_not_names() -> None:
    guard = Guard("0.0.0.0", 8765, "t")
    assert guard.host_ok("192.168.1.20:8765")
    assert guard.host_ok("localhost:8765")
    assert not guard.host_ok("rebind.example:8765")
    assert not Guard("127.0.0.1", 8765, "t").host_ok("192.168.1.20:8765")


# ---- the command -----------------------------------------------------------------------------


def test_other_commands_do_not_import_the_playground() -> None:
    code = (
        "import sys, policy.cli\n"
        "policy.cli.main(['check', 'rules.yaml'])\n"
        "assert not [m for m in sys.modules if m.startswith('policy.playground')], 'imported'\n"
        "assert 'http.server' not in sys.modules, 'http.server imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_command_prints_its_address_and_serves(rules: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "policy", "playground", "rules.yaml", "--port", "0"],
        cwd=rules.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "sip-policy playground: editing rules.yaml\n"
        url = proc.stdout.readline().removeprefix("open ").strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        port = int(url.split(":")[2].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", url.split(str(port), 1)[1])
        assert conn.getresponse().status == 200
        busy = subprocess.run(
            [sys.executable, "-m", "policy", "playground", "--port", str(port)],
            cwd=rules.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode == 2
        assert f"error: cannot listen on 127.0.0.1:{port}" in busy.stderr
        assert "help: pick another port with --port N" in busy.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
